"""Previews of a series (new, extended, prescribed, a session moved) only read.

Every preview plans with the pure planner over what the loaders read: no transaction (so no
SAVEPOINT and, on SQLite, no BEGIN IMMEDIATE), no lock (no advisory lock, no SELECT … FOR UPDATE)
and no INSERT, UPDATE or DELETE, not even one rolled back.
"""

import json
import secrets
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from booking import services
from booking.models import Appointment, AppointmentEvent, Status
from booking.scheduling.availability import STAFF_POLICY
from booking.services.series import plan_prescribed_series, prescribe_series
from clinic.api import hash_token
from clinic.models import ApiToken
from tests.conftest import MONDAY, NOW, book_alices_series

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def statements(captured):
    return [query["sql"] for query in captured.captured_queries]


def assert_reads_only(captured):
    for sql in statements(captured):
        text = sql.lstrip().upper()
        assert text.startswith(("SELECT", "WITH")), sql
        assert "FOR UPDATE" not in text and "PG_ADVISORY" not in text, sql
        assert not text.startswith(WRITES), sql


def rows():
    return (
        sorted(Appointment.objects.values_list("pk", "status", "start", "provider_id", "room_id")),
        AppointmentEvent.objects.count(),
    )


def a_run_out_hold(clinic, start):
    """A hold whose time ran out: free to book, yet still in the table until a booking releases it."""
    return Appointment.objects.create(
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        location=clinic.location,
        visit_type=clinic.tpi,
        start=start,
        end=start + timedelta(minutes=30),
        block_start=start,
        block_end=start + timedelta(minutes=35),
        status=Status.HELD,
        hold_expires_at=NOW - timedelta(minutes=1),
        room=clinic.rooms[0],
    )


def test_a_series_move_preview_writes_nothing_and_takes_no_lock(clinic):
    series = book_alices_series(clinic, sessions=4, now=NOW)
    tuesday = MONDAY + timedelta(days=15)
    hold = a_run_out_hold(clinic, clinic.at(tuesday, 10))  # the move would release it
    before = rows()

    with CaptureQueriesContext(connection) as captured:
        plan = services.preview_series_move(
            series=series,
            session_number=2,
            start=clinic.at(tuesday, 10),
            replan_later=True,
            policy=STAFF_POLICY,
            now=NOW,
        )

    assert [s.number for s in plan] == [2, 3, 4]
    assert_reads_only(captured)
    assert rows() == before
    assert Appointment.objects.get(pk=hold.pk).status == Status.HELD


def test_new_extended_and_prescribed_series_previews_write_nothing(clinic, desk_user):
    series = book_alices_series(clinic, sessions=2, now=NOW)
    prescription = prescribe_series(
        patient=clinic.bob,
        provider=clinic.dr_chen,
        visit_type=clinic.tpi,
        location=clinic.location,
        sessions=3,
        gap_days=14,
        tolerance_days=2,
        taper_days=[],
        preferred_time=clinic.at(MONDAY, 9).time(),
        by=desk_user,
        policy=STAFF_POLICY,
    )
    before = rows()

    with CaptureQueriesContext(connection) as captured:
        services.plan_series(
            provider=clinic.dr_chen,
            visit_type=clinic.tpi,
            location=clinic.location,
            sessions=6,
            gap_days=14,
            tolerance_days=2,
            taper_days=[],
            preferred_time=clinic.at(MONDAY, 9).time(),
            first_date=MONDAY,
            policy=STAFF_POLICY,
            now=NOW,
        )
        services.plan_series_extension(series=series, sessions=2, policy=STAFF_POLICY, now=NOW)
        plan_prescribed_series(series=prescription, first_date=MONDAY, policy=STAFF_POLICY, now=NOW)

    assert_reads_only(captured)
    assert rows() == before


def test_the_api_dry_runs_write_nothing_to_the_calendar(clinic, desk_user, frozen):
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=desk_user, token_hash=hash_token(token))
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    series = book_alices_series(clinic, sessions=3, now=NOW)
    before = rows()
    move = {"start": clinic.at(MONDAY + timedelta(days=15), 10).isoformat(), "replan_later": True}

    with CaptureQueriesContext(connection) as captured:
        moved = api.post(
            f"/api/v1/series/{series.pk}/sessions/2/move?dry_run=1", json.dumps(move), content_type="application/json"
        )
        extended = api.post(
            f"/api/v1/series/{series.pk}/extend?dry_run=1", json.dumps({"sessions": 2}), content_type="application/json"
        )

    assert moved.status_code == 200 and extended.status_code == 200, (moved.content, extended.content)
    calendar = [sql for sql in statements(captured) if "booking_" in sql]
    assert calendar and all(sql.lstrip().upper().startswith(("SELECT", "WITH")) for sql in calendar), calendar
    assert not [sql for sql in statements(captured) if "FOR UPDATE" in sql.upper() or "pg_advisory" in sql]
    assert rows() == before
