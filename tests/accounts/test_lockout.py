"""Login lockout (django-axes, username + address) and the per-address cap across usernames
(django-ratelimit, failures only): ASVS 6.1.1 / 6.3.1, no malicious lockout of a real user."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone

from clinic import roles
from tests.factories import DEFAULT_PASSWORD, make_user

pytestmark = pytest.mark.django_db

HOME = "10.0.0.5"
ATTACKER = "203.0.113.66"


def attempt(client: Client, username: str, password: str, ip: str):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_failures_lock_that_username_from_that_address_for_15_minutes():
    make_user("alice", role=roles.PATIENT)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(4):
            assert attempt(Client(), "alice", "wrong-password-123", ATTACKER).status_code == 200
        assert attempt(Client(), "alice", "wrong-password-123", ATTACKER).status_code == 429  # the 5th locks
        locked = attempt(Client(), "alice", DEFAULT_PASSWORD, ATTACKER)
        assert locked.status_code == 429
        assert "Login locked" in locked.content.decode()

        clock.shift(timedelta(minutes=16))
        client = Client()
        assert attempt(client, "alice", DEFAULT_PASSWORD, ATTACKER).status_code == 302
        assert SESSION_KEY in client.session


def test_an_attacker_cannot_lock_the_real_user_out_from_elsewhere():
    make_user("alice", role=roles.PATIENT)
    for _ in range(6):
        attempt(Client(), "alice", "wrong-password-123", ATTACKER)

    client = Client()
    assert attempt(client, "alice", DEFAULT_PASSWORD, HOME).status_code == 302
    assert SESSION_KEY in client.session


def test_one_address_failing_for_many_usernames_is_capped(settings):
    settings.RATE_LOGIN_FAILURES_PER_IP = "8/15m"
    make_user("alice", role=roles.PATIENT)
    for n in range(8):  # credential stuffing: a different username each time, no axes lockout
        assert attempt(Client(), f"user{n}", "wrong-password-123", ATTACKER).status_code == 200

    refused = attempt(Client(), "alice", DEFAULT_PASSWORD, ATTACKER)
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    assert attempt(Client(), "alice", DEFAULT_PASSWORD, HOME).status_code == 302  # others unaffected


def test_successful_logins_do_not_count_against_the_address(settings):
    settings.RATE_LOGIN_FAILURES_PER_IP = "3/15m"
    for n in range(5):  # a clinic's staff behind one address logging in at 8:00
        make_user(f"patient{n}", role=roles.PATIENT)
        assert attempt(Client(), f"patient{n}", DEFAULT_PASSWORD, HOME).status_code == 302
