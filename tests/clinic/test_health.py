"""/healthz: public, never cached, 200 only when the database and the broker both answer."""

import os

import pytest
from django.db import OperationalError

from clinic import health

HEALTHY = {"database": "ok", "broker": "ok"}


class UnreachableDatabase:
    def cursor(self):
        raise OperationalError("connection refused")


@pytest.fixture
def database_down(monkeypatch):
    monkeypatch.setattr(health, "connections", {"default": UnreachableDatabase()})


@pytest.fixture
def missing_broker_folder(settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "missing"),
        "data_folder_out": str(tmp_path / "missing"),
    }


def test_healthy_answers_200_with_only_the_two_checks(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == HEALTHY
    assert response["Content-Type"] == "application/json"


def test_health_is_never_cached(client, db):
    cache_control = client.get("/healthz")["Cache-Control"]
    assert "no-store" in cache_control and "max-age=0" in cache_control


def test_health_needs_no_login_and_reads_no_session(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):  # SELECT 1, nothing else
        assert client.get("/healthz").status_code == 200


def test_unreachable_database_answers_503_and_names_it(client, db, database_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "error", "broker": "ok"}


def test_missing_filesystem_broker_folder_answers_503(client, db, missing_broker_folder):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "error"}


def test_unreachable_redis_broker_answers_503_quickly(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "error"}


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set (CI's PostgreSQL + Redis run sets it)")
def test_reachable_redis_broker_is_ok(client, db, settings):
    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
    assert client.get("/healthz").json() == HEALTHY


def test_both_down_answers_503_with_both_errors(client, db, database_down, missing_broker_folder):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "error", "broker": "error"}


def test_health_only_answers_get_and_head(client, db):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
