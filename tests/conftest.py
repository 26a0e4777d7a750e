"""Named personas and a small clinic that most booking tests share.

The clinic: one location in New York with two treatment rooms; two providers who both offer a
30-minute TPI session (5 minutes to tidy after) and a 45-minute evaluation, Monday to Friday
08:00–12:00 and 13:00–17:00. The clock is frozen at NOW, a Friday; MONDAY is the next Monday.
"""

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest
from django.db import connection, transaction
from django.utils import timezone
from pytest_django.fixtures import validate_django_db

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
def clinic(request, db) -> Clinic:
    """The shared clinic: built once per module (see _SharedClinic below), a fresh copy per test."""
    shared = request.node.stash.get(_SHARED_CLINIC, None)
    if shared is None:
        return build_clinic()
    if (timezone.now() == NOW) != shared.key[1]:
        pytest.fail(f"the shared clinic was built with frozen={shared.key[1]}, but this test's clock disagrees")
    # Each test gets its own Python objects (as Django's setUpTestData does); the rows are the
    # module's, and whatever the test writes is rolled back with its savepoint.
    return copy.deepcopy(shared.clinic)


# --- One clinic per module ------------------------------------------------------------------------
# build_clinic() makes ~60 rows, which cost more than most tests themselves. For the tests that run
# inside a transaction (pytest-django's default, not transaction=True or live_server), it is built
# once per test module inside an outer transaction that stays open while the module's tests run:
# each test's own transaction is then a savepoint that is rolled back after it, so every test still
# starts from the same rows, and the outer transaction is rolled back when the module is done.
# pytest-django supports wrapping tests in higher-scoped transactions; this is the class-scoped
# `demo_clinic` pattern of tests/clinic/test_seed_demo.py, chosen per test by a hook because the
# same module mixes tests that want the clinic built on the frozen clock and tests that do not.
#
# The clinic is built just before pytest-django opens the test's transaction (the
# `_django_db_helper` fixture), with the clock the test's own fixtures would have used: under
# `frozen` when that fixture comes first (Patient.created_at and the audit log's timestamps of
# Alice and Bob then read NOW), else on the real clock. Tests that do not use the clinic, and
# transactional tests, roll it back first and see an empty database as before.


class _SharedClinic:
    def __init__(self) -> None:
        self.key: tuple[str, bool] | None = None  # (module node id, built on the frozen clock)
        self.clinic: Clinic | None = None
        self._atomic = None
        self._blocker = None

    def open(self, key: tuple[str, bool], blocker) -> bool:
        """Make sure the clinic for `key` is in the database; False if it cannot be shared here."""
        if key == self.key:
            return True
        self.close()
        if connection.in_atomic_block:  # some other higher-scoped fixture holds a transaction
            return False
        import time_machine

        with blocker.unblock():
            atomic = transaction.atomic()
            atomic._from_testcase = True  # durable atomic blocks in the code under test stay allowed
            atomic.__enter__()
            try:
                if key[1]:
                    with time_machine.travel(NOW, tick=False):
                        clinic = build_clinic()
                else:
                    clinic = build_clinic()
            except BaseException:
                transaction.set_rollback(True)
                atomic.__exit__(None, None, None)
                raise
        self.key, self.clinic, self._atomic, self._blocker = key, clinic, atomic, blocker
        return True

    def close(self) -> None:
        if self._atomic is None:
            return
        atomic, self._atomic = self._atomic, None
        self.key = self.clinic = None
        with self._blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


_shared_clinic = _SharedClinic()
_SHARED_CLINIC = pytest.StashKey[_SharedClinic]()


def _is_transactional(item: pytest.Item) -> bool:
    """pytest-django's own rule (its _django_db_helper) for a TransactionTestCase-style test."""
    marker = item.get_closest_marker("django_db")
    transactional, reset_sequences = validate_django_db(marker)[:2] if marker else (False, False)
    names = set(item.fixturenames)
    return bool(
        transactional or reset_sequences or names & {"transactional_db", "live_server", "django_db_reset_sequences"}
    )


def _clinic_first_built_frozen(item: pytest.Item) -> bool:
    """Whether `frozen` is set up before `clinic` for this test: pytest sets fixtures up in the
    order of item.fixturenames, each after the fixtures it asks for (depth first)."""
    definitions = item._fixtureinfo.name2fixturedefs
    seen: set[str] = set()

    def first(name: str) -> str | None:
        if name in seen:
            return None
        seen.add(name)
        for argname in definitions[name][-1].argnames if name in definitions else ():
            if found := first(argname):
                return found
        return name if name in {"clinic", "frozen"} else None

    for name in item.fixturenames:
        if found := first(name):
            return found == "frozen"
    return False


def _shares_clinic(item: pytest.Item) -> bool:
    return isinstance(item, pytest.Function) and "clinic" in item.fixturenames and not _is_transactional(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if not _shares_clinic(item):
        _shared_clinic.close()  # this test must not see the module's clinic


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    if fixturedef.argname == "_django_db_helper" and _shares_clinic(request.node):
        item = request.node
        key = (item.module.__name__, _clinic_first_built_frozen(item))
        opened = key != _shared_clinic.key
        if _shared_clinic.open(key, request.getfixturevalue("django_db_blocker")):
            item.stash[_SHARED_CLINIC] = _shared_clinic
            if opened:  # rolled back when the module is done, before the test database is dropped
                item.getparent(pytest.Module).addfinalizer(_shared_clinic.close)
    return (yield)


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
