"""Deadlocks and serialisation failures are retried, then answered as busy: never a 500."""

import json
import secrets

import pytest
from django.db import OperationalError
from django.test import Client

from booking import services
from booking.errors import SlotBusy
from booking.models import Appointment
from booking.services import write_path
from clinic.api import hash_token
from clinic.models import ApiToken
from tests.conftest import MONDAY, NOW

pytestmark = pytest.mark.django_db


class DriverError(Exception):
    """Stands in for psycopg's error: Django's OperationalError wraps it as __cause__."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def failing_placement(monkeypatch, sqlstate: str, times: int) -> list[int]:
    calls: list[int] = []
    real = write_path.placement_for

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) <= times:
            try:
                raise DriverError(sqlstate)
            except DriverError as cause:
                raise OperationalError("deadlock detected") from cause
        return real(**kwargs)

    monkeypatch.setattr(write_path, "placement_for", flaky)
    monkeypatch.setattr(write_path.time_module, "sleep", lambda seconds: None)
    return calls


def book(clinic):
    return services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
        now=NOW,
    )


# Retrying needs the write to own the outermost transaction, as it does in production.
retrying = pytest.mark.django_db(transaction=True)


@retrying
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlock_or_serialisation_failure_is_retried_and_the_booking_lands(clinic, monkeypatch, sqlstate):
    calls = failing_placement(monkeypatch, sqlstate, times=2)

    assert book(clinic).status == "booked"
    assert len(calls) == 3
    assert Appointment.objects.count() == 1


@retrying
def test_after_the_retries_the_caller_is_told_the_calendar_is_busy(clinic, monkeypatch):
    calls = failing_placement(monkeypatch, "40P01", times=99)

    with pytest.raises(SlotBusy):
        book(clinic)
    assert len(calls) == services.WRITE_ATTEMPTS
    assert Appointment.objects.count() == 0


def test_inside_a_callers_transaction_a_conflict_is_answered_busy_at_once(clinic, monkeypatch):
    calls = failing_placement(monkeypatch, "40P01", times=1)

    with pytest.raises(SlotBusy):
        book(clinic)  # the test's own transaction wraps this one; only the caller could retry
    assert len(calls) == 1


def test_other_database_errors_are_not_swallowed(clinic, monkeypatch):
    failing_placement(monkeypatch, "08006", times=1)  # connection failure: not a retryable conflict

    with pytest.raises(OperationalError):
        book(clinic)


def test_the_api_answers_503_with_retry_after_when_busy(clinic, desk_user, monkeypatch, frozen):
    failing_placement(monkeypatch, "40001", times=99)
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=desk_user, token_hash=hash_token(token))
    body = {
        "patient": clinic.alice.pk,
        "provider": clinic.dr_alvarez.pk,
        "visit_type": "tpi-session",
        "location": clinic.location.pk,
        "start": "2026-12-07T09:00:00-05:00",
    }
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
        "/api/v1/appointments", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json()["error"] == "busy"
