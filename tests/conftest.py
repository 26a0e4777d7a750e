"""Named personas and a small clinic that most booking tests share.

The clinic: one location in New York with two treatment rooms; two providers who both offer a
30-minute TPI session (5 minutes to tidy after) and a 45-minute evaluation, Monday to Friday
08:00–12:00 and 13:00–17:00. The clock is frozen at NOW, a Friday; MONDAY is the next Monday.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest

from clinic import roles
from clinic.models import Location, Provider, Room, VisitKind, VisitType
from patients.models import Patient
from tests.factories import (
    make_hours,
    make_location,
    make_patient,
    make_provider,
    make_room,
    make_user,
    make_visit_type,
)

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # Friday 10:00 in New York
MONDAY = date(2026, 12, 7)


@dataclass
class Clinic:
    location: Location
    rooms: list[Room]
    tpi: VisitType
    evaluation: VisitType
    dr_alvarez: Provider
    dr_chen: Provider
    alice: Patient
    bob: Patient

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A local wall time at the clinic, as an aware datetime."""
        return datetime.combine(day, time(hour, minute), tzinfo=self.location.tz)


def build_clinic() -> Clinic:
    location = make_location()
    rooms = [make_room(location, name="Room 1"), make_room(location, name="Room 2")]
    tpi = make_visit_type()
    evaluation = make_visit_type(
        slug="evaluation", name="Evaluation", kind=VisitKind.EVALUATION, duration_minutes=45, buffer_after_minutes=5
    )
    providers = []
    for name in ("Maria Alvarez", "David Chen"):
        provider = make_provider(display_name=name, locations=[location], visit_types=[tpi, evaluation])
        for weekday in range(5):
            make_hours(provider, location, weekday=weekday, start=time(8), end=time(12))
            make_hours(provider, location, weekday=weekday, start=time(13), end=time(17))
        providers.append(provider)
    alice = make_patient(first_name="Alice", last_name="Moreno", email="alice@example.com")
    bob = make_patient(first_name="Bob", last_name="Okafor", email="bob@example.com", phone="+16175550123")
    return Clinic(location, rooms, tpi, evaluation, providers[0], providers[1], alice, bob)


def book_alices_series(clinic: Clinic, *, by=None, first_date: date = MONDAY, **overrides):
    """Alice's three TPI sessions with Dr Alvarez, 14 days apart at 09:00, booked by staff rules."""
    from booking import services
    from booking.scheduling.availability import STAFF_POLICY

    values = {
        "patient": clinic.alice,
        "provider": clinic.dr_alvarez,
        "visit_type": clinic.tpi,
        "location": clinic.location,
        "sessions": 3,
        "gap_days": 14,
        "tolerance_days": 2,
        "taper_days": [],
        "preferred_time": time(9),
        "first_date": first_date,
        "by": by,
        "policy": STAFF_POLICY,
        **overrides,
    }
    return services.book_series(**values)


@pytest.fixture
def clinic(db) -> Clinic:
    return build_clinic()


@pytest.fixture
def desk_user(db):
    return make_user("desk", role=roles.FRONT_DESK)


@pytest.fixture
def admin_user(db):
    return make_user("clinicadmin", role=roles.CLINIC_ADMIN)


@pytest.fixture
def alice_user(clinic):
    user = make_user("alice", role=roles.PATIENT)
    clinic.alice.user = user
    clinic.alice.save(update_fields=["user"])
    return user


@pytest.fixture
def bob_user(clinic):
    user = make_user("bob", role=roles.PATIENT)
    clinic.bob.user = user
    clinic.bob.save(update_fields=["user"])
    return user


@pytest.fixture
def frozen(db):
    """Freeze the clock at NOW (a Friday morning in New York)."""
    import time_machine

    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the (per-process) cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
