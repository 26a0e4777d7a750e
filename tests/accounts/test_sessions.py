"""Session limits per role and server-side ends (ASVS 7.3.1, 7.3.2, 7.4.1, 7.4.2; HIPAA
164.312(a)(2)(iii) automatic logoff)."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts import sessions
from clinic import roles
from tests.factories import sign_in

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def session_row(client: Client) -> Session | None:
    return Session.objects.filter(session_key=client.cookies["sessionid"].value).first()


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def test_staff_are_logged_out_after_15_idle_minutes(desk_user, clock):
    client = signed_in(desk_user)
    clock.shift(timedelta(minutes=14))
    assert client.get("/desk/").status_code == 200

    clock.shift(timedelta(minutes=15, seconds=30))
    ended = client.get("/desk/")
    assert ended.status_code == 302
    assert ended["Location"].startswith("/accounts/login/?next=%2Fdesk%2F&ended=1")
    assert "session ended" in Client().get(ended["Location"]).content.decode()


def test_an_htmx_request_after_the_limit_reloads_the_whole_page_at_the_login(desk_user, clock):
    client = signed_in(desk_user)
    clock.shift(timedelta(minutes=16))
    ended = client.get("/desk/", HTTP_HX_REQUEST="true")
    assert ended["HX-Redirect"].startswith("/accounts/login/?next=")


def test_staff_sessions_end_after_12_hours_however_busy(desk_user, clock):
    client = signed_in(desk_user)
    logged_in_at = timezone.now()
    while (answer := client.get("/desk/")).status_code == 200:  # a request every 10 minutes, all day
        clock.shift(timedelta(minutes=10))
    assert answer.status_code == 302
    assert timezone.now() - logged_in_at == timedelta(hours=12, minutes=10)
    assert session_row(client) is None  # ended on the server, not only in the browser


def test_patients_have_30_idle_minutes(alice_user, clock):
    client = signed_in(alice_user)
    clock.shift(timedelta(minutes=29))
    assert client.get("/my/series/").status_code == 200
    clock.shift(timedelta(minutes=31))
    assert client.get("/my/series/").status_code == 302


def test_the_session_is_written_at_most_once_a_minute(alice_user, clock):
    client = signed_in(alice_user)
    client.get("/my/series/")
    saved = session_row(client).session_data
    clock.shift(timedelta(seconds=30))
    client.get("/my/series/")
    assert session_row(client).session_data == saved  # no write for a request within the minute
    clock.shift(timedelta(seconds=31))
    client.get("/my/series/")
    assert session_row(client).session_data != saved


def test_logout_ends_the_session_on_the_server(desk_user):
    client = signed_in(desk_user)
    stolen_cookie = client.cookies["sessionid"].value
    client.post("/accounts/logout/")

    thief = Client()
    thief.cookies["sessionid"] = stolen_cookie
    assert thief.get("/desk/").status_code == 302
    assert not Session.objects.filter(session_key=stolen_cookie).exists()


def test_deactivating_a_user_ends_all_their_sessions(desk_user, alice_user):
    office, home, other = signed_in(desk_user), signed_in(desk_user), signed_in(alice_user)
    desk_user.is_active = False
    desk_user.save()

    assert session_row(office) is None and session_row(home) is None
    assert office.get("/desk/").status_code == 302
    assert session_row(other) is not None  # nobody else's


def test_a_role_change_ends_the_sessions_so_the_new_rules_apply(alice_user):
    client = signed_in(alice_user)
    assert client.session[sessions.STAFF] is False
    alice_user.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    assert session_row(client) is None
