"""Staff pass a TOTP second factor (django-otp) before any staff page or the API by session;
codes cannot be replayed; patients and API tokens are not asked (ASVS 6.3.3, 6.5.1; HIPAA
164.312(d))."""

import secrets
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import roles
from clinic.api import hash_token
from clinic.models import ApiToken
from tests.factories import DEFAULT_PASSWORD, current_code, make_user, sign_in, staff_device

pytestmark = pytest.mark.django_db

DESK = "/desk/"
VERIFY = "/account/two-factor/verify"
SETUP = "/account/two-factor/setup"


def password_login(client: Client, username: str):
    return client.post("/accounts/login/", {"username": username, "password": DEFAULT_PASSWORD, "next": DESK})


@pytest.mark.parametrize("role", [roles.FRONT_DESK, roles.PROVIDER, roles.CLINIC_ADMIN])
def test_a_staff_member_without_a_device_sets_one_up_then_reaches_the_desk(role):
    make_user("staff", role=role)
    client = Client()
    assert password_login(client, "staff")["Location"] == DESK

    sent = client.get(DESK)
    assert sent.status_code == 302 and sent["Location"].startswith(SETUP)
    page = client.get(sent["Location"])
    assert page.status_code == 200
    assert "<svg" in page.content.decode()  # the QR code, drawn on the page (no outside service)
    device = TOTPDevice.objects.get(user__username="staff", confirmed=False)

    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):  # after the slow-down
        assert client.post(SETUP, {"code": "000000", "next": DESK}).status_code == 422
    with time_machine.travel(timezone.now() + timedelta(seconds=10), tick=False):
        done = client.post(SETUP, {"code": current_code(device), "next": DESK})
    assert done.status_code == 302 and done["Location"] == DESK
    assert client.get(DESK).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_a_superuser_is_asked_too():
    make_user("root", is_superuser=True, is_staff=True)
    client = Client()
    password_login(client, "root")
    assert client.get("/admin/")["Location"].startswith(SETUP)


def test_anyone_who_may_open_the_admin_is_asked_too():
    make_user("helper", is_staff=True)  # admin access without a clinic role
    client = Client()
    password_login(client, "helper")
    assert client.get("/admin/")["Location"].startswith(SETUP)


def test_every_staff_page_and_the_session_api_wait_for_the_code(clinic):
    desk = make_user("desk", role=roles.FRONT_DESK)
    staff_device(desk)
    client = Client()
    password_login(client, "desk")

    for path in (DESK, f"/desk/patients/{clinic.alice.pk}", "/desk/messages/", "/admin/", "/"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer["Location"].startswith(VERIFY), path
    api = client.get("/api/v1/patients?q=Moreno")
    assert api.status_code == 401 and api.json()["error"] == "two_factor_required"


def test_a_used_code_cannot_be_replayed():
    desk = make_user("desk", role=roles.FRONT_DESK)
    device = staff_device(desk)
    with time_machine.travel(timezone.now(), tick=False):
        code = current_code(device)
        first = Client()
        password_login(first, "desk")
        assert first.post(VERIFY, {"code": code, "next": DESK})["Location"] == DESK

        second = Client()  # someone who saw the code over the shoulder, within the same 30 s
        password_login(second, "desk")
        replay = second.post(VERIFY, {"code": code, "next": DESK})
        assert replay.status_code == 422
        assert "already used" in replay.content.decode()
        assert second.get(DESK)["Location"].startswith(VERIFY)


def test_wrong_codes_slow_the_next_tries_down():
    desk = make_user("desk", role=roles.FRONT_DESK)
    device = staff_device(desk)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        client = Client()
        password_login(client, "desk")
        client.post(VERIFY, {"code": "000000"})
        client.post(VERIFY, {"code": "111111"})
        throttled = client.post(VERIFY, {"code": current_code(device), "next": DESK})
        assert throttled.status_code == 422
        assert "Too many wrong codes" in throttled.content.decode()

        clock.shift(timedelta(seconds=5))
        assert client.post(VERIFY, {"code": current_code(device), "next": DESK})["Location"] == DESK


def test_passing_the_second_factor_gives_a_new_session_key():
    desk = make_user("desk", role=roles.FRONT_DESK)
    device = staff_device(desk)
    client = Client()
    password_login(client, "desk")
    before = client.cookies["sessionid"].value
    client.post(VERIFY, {"code": current_code(device)})
    assert client.cookies["sessionid"].value != before


def test_patients_are_not_asked_for_a_code(alice_user):
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": DEFAULT_PASSWORD})
    assert client.get("/my/series/").status_code == 200
    assert client.get(VERIFY).status_code == 404  # and cannot open the staff step


def test_api_tokens_need_no_second_factor(clinic):
    desk = make_user("desk", role=roles.FRONT_DESK)
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=desk, token_hash=hash_token(token))
    answer = Client().get("/api/v1/patients?q=Moreno", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200


def test_sign_in_gives_staff_a_verified_session(desk_user):
    client = Client()
    sign_in(client, desk_user)
    assert client.get(DESK).status_code == 200


def test_an_admin_can_remove_a_lost_device_but_never_see_a_secret(desk_user, admin_user):
    device = staff_device(desk_user)
    client = Client()
    sign_in(client, admin_user)
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/").status_code == 403
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code == 403
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert device.key not in page.content.decode()
    client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()  # the next login sets up a new one
