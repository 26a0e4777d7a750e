"""A real rush: 50 processes × 20 booking attempts released together, on the configured database.

CI runs this file twice, on a SQLite file and on PostgreSQL. The oracle is a self-join over the
table: no two occupying appointments of one provider (or one room) may overlap.
"""

import multiprocessing
import random
import traceback
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection, connections

from booking import services
from booking.errors import SlotTaken
from booking.models import Appointment
from booking.scheduling.availability import STAFF_POLICY
from clinic.models import Location, Provider, Room, VisitType, WorkingHours
from patients.models import Patient

PROCESSES = 50
ATTEMPTS = 20
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = date(2026, 3, 10)  # a Tuesday, well inside notice and horizon

# Starts processes that race each other on a deadline: with `make test`'s `--dist loadgroup`, the
# tests of this group run one at a time on one xdist worker (see the Makefile).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.xdist_group("processes")]

OVERLAP_SQL = """
SELECT COUNT(*) FROM booking_appointment a
JOIN booking_appointment b ON a.{col} = b.{col} AND a.id < b.id
WHERE a.status IN ('held', 'booked', 'checked_in', 'completed')
  AND b.status IN ('held', 'booked', 'checked_in', 'completed')
  AND a.block_start < b.block_end AND a.block_end > b.block_start
"""


def overlapping_pairs(column: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(OVERLAP_SQL.format(col=column))
        return cursor.fetchone()[0]


def _clinic(needs_room: bool) -> dict:
    location = Location.objects.create(name="Rush clinic", timezone="America/New_York")
    Room.objects.create(location=location, name="Room 1")
    visit_type = VisitType.objects.create(
        slug="tpi-rush",
        name="TPI session",
        kind="procedure",
        duration_minutes=30,
        buffer_after_minutes=0,
        needs_room=needs_room,
        min_notice_minutes=0,
        slot_step_minutes=5,
    )
    provider = Provider.objects.create(display_name="Dr Rush")
    provider.locations.add(location)
    provider.visit_types.add(visit_type)
    WorkingHours.objects.create(
        provider=provider, location=location, weekday=DAY.weekday(), start=time(8), end=time(17)
    )
    patients = [
        Patient.objects.create(first_name=f"P{i}", last_name="Rush", date_of_birth=date(1980, 1, 1))
        for i in range(PROCESSES)
    ]
    return {"location": location, "visit_type": visit_type, "provider": provider, "patients": patients}


def _attempts(index: int, same_slot: bool, ids: dict, barrier, results) -> None:
    outcome: Counter = Counter()
    try:
        location = Location.objects.get(pk=ids["location"])
        visit_type = VisitType.objects.get(pk=ids["visit_type"])
        provider = Provider.objects.get(pk=ids["provider"])
        patient = Patient.objects.get(pk=ids["patients"][index])
        base = datetime.combine(DAY, time(9), tzinfo=location.tz)
        rnd = random.Random(index)  # noqa: S311 - reproducible test data
        barrier.wait()
        for _ in range(ATTEMPTS):
            start = base if same_slot else base + timedelta(minutes=5 * rnd.randrange(24))
            try:
                services.book_appointment(
                    patient=patient,
                    provider=provider,
                    visit_type=visit_type,
                    location=location,
                    start=start,
                    by=None,
                    policy=STAFF_POLICY,
                    now=NOW,
                )
                outcome["booked"] += 1
            except SlotTaken as exc:
                outcome["slot_taken"] += 1
                if exc.alternatives:
                    outcome["with_alternatives"] += 1
            except Exception as exc:  # noqa: BLE001 - every other outcome is a failure to report
                outcome[f"error: {type(exc).__name__}: {str(exc)[:80]}"] += 1
    except Exception:  # noqa: BLE001
        outcome["crash: " + traceback.format_exc()[-300:]] += 1
    finally:
        connections.close_all()
        results.put(dict(outcome))


def _rush(same_slot: bool, needs_room: bool = False) -> Counter:
    setup = _clinic(needs_room)
    ids = {
        "location": setup["location"].pk,
        "visit_type": setup["visit_type"].pk,
        "provider": setup["provider"].pk,
        "patients": [p.pk for p in setup["patients"]],
    }
    connections.close_all()  # children must open their own connections
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [ctx.Process(target=_attempts, args=(i, same_slot, ids, barrier, results)) for i in range(PROCESSES)]
    for worker in workers:
        worker.start()
    total: Counter = Counter()
    for _ in workers:
        total.update(results.get(timeout=240))
    for worker in workers:
        worker.join(timeout=30)
    return total


def test_same_slot_rush_has_exactly_one_winner_and_every_loser_is_told_slot_taken():
    outcome = _rush(same_slot=True)

    assert outcome["booked"] == 1, outcome
    assert outcome["slot_taken"] == PROCESSES * ATTEMPTS - 1, outcome
    assert set(outcome) <= {"booked", "slot_taken", "with_alternatives"}, outcome
    assert outcome["with_alternatives"] == outcome["slot_taken"]  # every loser is offered other times
    assert Appointment.objects.count() == 1
    assert overlapping_pairs("provider_id") == 0


def test_partly_overlapping_rush_never_double_books_a_provider_or_a_room():
    outcome = _rush(same_slot=False, needs_room=True)

    assert outcome["booked"] + outcome["slot_taken"] == PROCESSES * ATTEMPTS, outcome
    assert set(outcome) <= {"booked", "slot_taken", "with_alternatives"}, outcome
    assert outcome["booked"] >= 2
    assert Appointment.objects.count() == outcome["booked"]
    # No loser was refused for nothing: every start that was tried now overlaps a booked visit.
    booked = list(Appointment.objects.values_list("start", "end"))
    location = Location.objects.get()
    base = datetime.combine(DAY, time(9), tzinfo=location.tz)
    for step in range(24):
        start = base + timedelta(minutes=5 * step)
        assert any(s < start + timedelta(minutes=30) and e > start for s, e in booked), start
    assert overlapping_pairs("provider_id") == 0
    assert overlapping_pairs("room_id") == 0
