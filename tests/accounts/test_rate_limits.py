"""Rate limits from one table (accounts/ratelimits.py): the booking API, the manage-by-link and
waitlist offer pages, sign-up, the booking wizard's holds, the two-factor step; 429 with a
sentence and Retry-After."""

import secrets

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.ratelimits import RULES
from clinic.api import hash_token
from clinic.models import ApiToken
from tests.factories import sign_in

pytestmark = pytest.mark.django_db
User = get_user_model()


def token_client(user) -> Client:
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=user, token_hash=hash_token(token))
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_booking_api_writes_are_limited_per_caller(settings, clinic, desk_user):
    settings.RATE_BOOKING_API = "3/m"
    desk, other_desk = token_client(desk_user), token_client(desk_user)
    for _ in range(3):
        assert desk.post("/api/v1/appointments", {}, content_type="application/json").status_code == 400
    refused = desk.post("/api/v1/appointments", {}, content_type="application/json")
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert "Too many attempts" in refused.json()["detail"]
    assert 0 < int(refused["Retry-After"]) <= 60
    assert desk.get("/api/v1/appointments").status_code == 200  # reads are not counted
    assert other_desk.post("/api/v1/appointments", {}, content_type="application/json").status_code == 400


def test_series_writes_share_the_limit(settings, clinic, desk_user):
    settings.RATE_BOOKING_API = "1/m"
    desk = token_client(desk_user)
    desk.post("/api/v1/series", {}, content_type="application/json")
    assert desk.post("/api/v1/series/1/complete").status_code == 429


def test_manage_link_pages_are_limited_per_address(settings):
    settings.RATE_MANAGE_LINK_PER_IP = "2/10m"
    for _ in range(2):
        assert Client().get("/manage/guess-1", REMOTE_ADDR="198.51.100.7").status_code == 404
    refused = Client().get("/manage/guess-2", REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    assert Client().get("/manage/guess-3", REMOTE_ADDR="198.51.100.8").status_code == 404


def test_waitlist_offer_links_and_accepts_are_limited_per_address(settings):
    settings.RATE_MANAGE_LINK_PER_IP = "3/10m"
    for _ in range(2):
        assert Client().get("/waitlist/offer/guess-1", REMOTE_ADDR="198.51.100.7").status_code == 404
    assert Client().post("/waitlist/offer/", REMOTE_ADDR="198.51.100.7").status_code == 404  # the accept
    refused = Client().get("/waitlist/offer/guess-2", REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    assert Client().post("/waitlist/offer/", REMOTE_ADDR="198.51.100.7").status_code == 429
    assert Client().get("/waitlist/offer/guess-3", REMOTE_ADDR="198.51.100.8").status_code == 404


def test_sign_ups_are_limited_per_address(settings, db):
    settings.RATE_REGISTER_PER_IP = "2/h"
    for _ in range(2):
        assert Client().post("/account/register", {}, REMOTE_ADDR="198.51.100.7").status_code == 422
    refused = Client().post("/account/register", {}, REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert Client().get("/account/register", REMOTE_ADDR="198.51.100.7").status_code == 200  # the form is not counted
    assert Client().post("/account/register", {}, REMOTE_ADDR="198.51.100.8").status_code == 422
    assert not User.objects.exists()


def test_booking_wizard_holds_are_limited_per_caller(settings, clinic, alice_user, bob_user):
    settings.RATE_BOOKING_HOLD = "2/10m"
    alice, bob = Client(), Client()
    sign_in(alice, alice_user)
    sign_in(bob, bob_user)
    for _ in range(2):
        assert alice.post("/book/hold", {}).status_code == 400  # no time chosen
    refused = alice.post("/book/hold", {})
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    assert alice.get("/book/").status_code == 200  # the wizard's other steps are not counted
    assert bob.post("/book/hold", {}).status_code == 400  # another patient has their own budget


def test_two_factor_tries_are_limited(settings, desk_user):
    settings.RATE_TWO_FACTOR = "2/15m"
    client = Client()
    sign_in(client, desk_user)
    for _ in range(2):
        client.post("/account/two-factor/verify", {"code": "123456"})
    assert client.post("/account/two-factor/verify", {"code": "123456"}).status_code == 429


def test_the_address_behind_trusted_proxies_is_used(settings):
    settings.RATE_MANAGE_LINK_PER_IP = "1/10m"
    settings.TRUSTED_PROXY_HOPS = 1
    proxy = "127.0.0.1"
    first = Client().get("/manage/x", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.7")
    assert first.status_code == 404
    # A forged left-hand entry does not make a new client: the proxy's own entry counts.
    again = Client().get("/manage/x", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.7")
    assert again.status_code == 429
    other = Client().get("/manage/x", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert other.status_code == 404


def test_every_rule_names_a_distinct_counter():
    assert len({rule.group for rule in RULES}) == len(RULES)
