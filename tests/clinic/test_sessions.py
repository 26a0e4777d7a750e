"""clinic.sessions: Django's database sessions with one fixed statement to read and one to update."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.utils import timezone

from clinic.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_it_is_the_configured_engine():
    assert settings.SESSION_ENGINE == "clinic.sessions"


def test_a_saved_session_reads_back_and_an_update_is_one_statement(django_assert_num_queries):
    store = SessionStore()
    store["cart"] = [1, 2]
    store.save(must_create=True)
    key = store.session_key

    with django_assert_num_queries(1):
        assert SessionStore(key)["cart"] == [1, 2]
    again = SessionStore(key)
    again["cart"] = [3]  # reads the row
    with django_assert_num_queries(1):  # one UPDATE, no transaction around it
        again.save()
    assert SessionStore(key)["cart"] == [3]
    assert Session.objects.get(session_key=key).get_decoded() == {"cart": [3]}


def test_an_expired_or_unknown_session_is_empty_and_gets_a_new_key():
    store = SessionStore()
    store["x"] = 1
    store.save(must_create=True)
    Session.objects.filter(session_key=store.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))

    stale = SessionStore(store.session_key)
    assert stale.load() == {} and stale.session_key is None
    assert SessionStore("nosuchsessionkeyatall0123456789").load() == {}


def test_saving_a_session_deleted_meanwhile_fails_as_django_expects():
    store = SessionStore()
    store["x"] = 1
    store.save(must_create=True)
    loaded = SessionStore(store.session_key)
    loaded["x"] = 2
    loaded.load()
    Session.objects.all().delete()

    with pytest.raises(UpdateError):
        loaded.save()


def test_logging_in_and_out_through_the_form(client, django_user_model):
    django_user_model.objects.create_user("pat", password="a-long-enough-password")
    assert client.post("/accounts/login/", {"username": "pat", "password": "a-long-enough-password"}).status_code == 302
    assert Session.objects.count() == 1
    assert client.get("/").context["user"].username == "pat"

    client.post("/accounts/logout/")
    assert Session.objects.count() == 0
    assert not client.get("/").context["user"].is_authenticated
