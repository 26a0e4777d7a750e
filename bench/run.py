"""Availability and booking benchmark on a throw-away database: `make bench`.

Prints JSON lines on stdout (progress goes to stderr):
- one "meta" line (database, data set, how the HTTP calls are made);
- one line per measurement: {"name", "median_ms", "runs", "queries", ...};
- one final "goals" line saying whether each performance goal was met.

Database: a fresh SQLite file under var/bench/ (deleted and re-created each run), or, when
BENCH_DATABASE_URL is set, that server: for PostgreSQL a fresh database named "<db>_bench" is
dropped and created next to the one in the URL (the role needs CREATEDB).

HTTP calls go through django.test.Client in this process: URL routing, middleware, django-ninja
and JSON, but no network, no WSGI server and no connection set-up per request.

Add a scenario: write `def scenario_x(ctx: Context) -> list[dict]` and append it to SCENARIOS;
`--only x` runs it alone (the data set is always built first).

`--only reminders`: 10,000 due reminders through a real Celery worker and Redis to a fake SMS
gateway on loopback (needs redis-server; REDIS_URL or scripts/redis.sh; skipped otherwise).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261125

# The data set.
PROVIDERS = 10
PATIENTS = 200
APPOINTMENTS = 2000
DATA_DAYS = 60  # appointments fall on local days +1..+60
QUERY_DAYS = 30  # availability is asked for local days +1..+30
DAY_START, DAY_END = wall_time(8), wall_time(17)
VISIT_SLUG = "bench-30"
VISIT_MINUTES = 30
BOOKINGS = 200
BOOKING_QUERY_SAMPLE = 20  # extra bookings made under CaptureQueriesContext to count queries
PROFILE_BOOKINGS = 20  # extra bookings made under cProfile with --profile

REMINDERS = 10_000
REMINDER_GOAL_S = 20.0
REMINDER_DEADLINE_S = 120.0
GOALS = [
    # (measurement name, max median ms, max queries or None)
    ("b_10_providers_30_days_python", 25.0, 6),
    ("c_http_book", 10.0, None),
    ("desk_calendar_day_10_providers_full", 100.0, 10),
    ("d_provider_day_20", 100.0, 8),
]
TRANSPORT = "in-process client (django.test.Client, no network)"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def emit(row: dict[str, Any]) -> None:
    print(json.dumps(row), flush=True)


# --- database -------------------------------------------------------------------------------


def _fresh_postgres(url: str) -> str:
    """Drop and create "<db>_bench" on the server in `url`; return the URL pointing at it."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    base_name = unquote(parts.path.lstrip("/")) or "postgres"
    bench_name = f"{base_name}_bench"
    with psycopg.connect(url, autocommit=True) as admin:
        force = sql.SQL(" WITH (FORCE)") if admin.info.server_version >= 130000 else sql.SQL("")
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(bench_name)) + force)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(bench_name)))
    return urlunsplit(parts._replace(path=f"/{bench_name}"))


def _fresh_sqlite(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def prepare_database() -> str:
    """Point DATABASE_URL at a fresh, empty database; call before django.setup()."""
    url = os.environ.get("BENCH_DATABASE_URL", "").strip()
    if not url:
        var_dir = Path(os.environ.get("CLINIC_VAR_DIR", str(ROOT / "var")))  # as clinic.settings reads it
        db_url = _fresh_sqlite(var_dir / "bench" / "bench.sqlite3")
    elif url.startswith(("postgres://", "postgresql://", "pgsql://")):
        db_url = _fresh_postgres(url.replace("pgsql://", "postgresql://", 1))
    elif url.startswith("sqlite:///"):
        db_url = _fresh_sqlite(Path(url.removeprefix("sqlite:///")).resolve())
    else:
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL or sqlite:/// URL")
    os.environ["DATABASE_URL"] = db_url
    return db_url


def setup_django() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    # Production-like: with DEBUG on, every query is also formatted and kept in connection.queries.
    os.environ["DEBUG"] = "0"
    # One client books hundreds of times a minute here: the per-caller rate limit (a guard against
    # abuse, tested in tests/accounts) would answer 429. `make loadtest` runs with it on.
    os.environ["RATELIMIT_ENABLE"] = "0"
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- data set -------------------------------------------------------------------------------


@dataclass
class Context:
    location: Any
    visit_type: Any
    providers: list[Any]
    patients: list[Any]
    token: str
    today: date
    runs: int
    warmup: int
    profile: bool
    rng: random.Random
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_day(self) -> date:
        return self.today + timedelta(days=1)

    @property
    def last_day(self) -> date:
        return self.today + timedelta(days=QUERY_DAYS)


def _grid(day: date, tz: Any) -> list[datetime]:
    """Starts of the 30-minute grid in one working day, as UTC instants."""
    first = datetime.combine(day, DAY_START, tzinfo=tz)
    last = datetime.combine(day, DAY_END, tzinfo=tz) - timedelta(minutes=VISIT_MINUTES)
    starts = []
    at = first
    while at <= last:
        starts.append(at.astimezone(UTC))
        at += timedelta(minutes=VISIT_MINUTES)
    return starts


def build_dataset(args: argparse.Namespace) -> Context:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction
    from django.utils import timezone

    from booking.models import Appointment, Status
    from clinic import roles
    from clinic.api import hash_token
    from clinic.models import ApiToken, Location, Provider, VisitKind, VisitType, WorkingHours
    from patients.models import Patient

    rng = random.Random(args.seed)
    with transaction.atomic():
        location = Location.objects.create(name="Bench Clinic", timezone="America/New_York")
        visit_type = VisitType.objects.create(
            slug=VISIT_SLUG,
            name="Bench 30-minute visit",
            kind=VisitKind.FOLLOW_UP,
            duration_minutes=VISIT_MINUTES,
            buffer_before_minutes=0,
            buffer_after_minutes=0,
            needs_room=False,
            bookable_online=True,
            min_notice_minutes=0,
            horizon_days=90,
            slot_step_minutes=30,
        )
        providers = Provider.objects.bulk_create(
            [Provider(display_name=f"Bench Provider {i + 1:02d}", credentials="MD") for i in range(PROVIDERS)]
        )
        Provider.locations.through.objects.bulk_create(
            [Provider.locations.through(provider_id=p.pk, location_id=location.pk) for p in providers]
        )
        Provider.visit_types.through.objects.bulk_create(
            [Provider.visit_types.through(provider_id=p.pk, visittype_id=visit_type.pk) for p in providers]
        )
        WorkingHours.objects.bulk_create(
            [
                WorkingHours(provider=p, location=location, weekday=weekday, start=DAY_START, end=DAY_END)
                for p in providers
                for weekday in range(5)
            ]
        )
        patients = Patient.objects.bulk_create(
            [
                Patient(
                    first_name="Pat",
                    last_name=f"Bench{i:03d}",
                    date_of_birth=date(1950, 1, 1) + timedelta(days=97 * i),
                )
                for i in range(PATIENTS)
            ]
        )

        today = timezone.localtime(timezone.now(), location.tz).date()
        free = [
            (provider, start)
            for offset in range(1, DATA_DAYS + 1)
            if (day := today + timedelta(days=offset)).weekday() < 5
            for start in _grid(day, location.tz)
            for provider in providers
        ]
        chosen = rng.sample(free, APPOINTMENTS)
        end_delta = timedelta(minutes=VISIT_MINUTES)
        Appointment.objects.bulk_create(
            [
                Appointment(
                    patient=rng.choice(patients),
                    provider=provider,
                    location=location,
                    visit_type=visit_type,
                    start=start,
                    end=start + end_delta,
                    block_start=start,
                    block_end=start + end_delta,
                    status=Status.BOOKED,
                )
                for provider, start in chosen
            ],
            batch_size=500,
        )

        desk = get_user_model().objects.create_user(username="bench-desk", password=None)
        desk.groups.add(Group.objects.get(name=roles.FRONT_DESK))
        token = secrets.token_urlsafe(32)
        ApiToken.objects.create(user=desk, name="bench", token_hash=hash_token(token))

    return Context(
        location=location,
        visit_type=visit_type,
        providers=providers,
        patients=patients,
        token=token,
        today=today,
        runs=args.runs,
        warmup=args.warmup,
        profile=args.profile,
        rng=rng,
        extra={"free_grid_slots_60_days": len(free)},
    )


# --- measuring ------------------------------------------------------------------------------


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not available on this platform
        return None


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class FullCollections:
    """Counts the garbage collector's full (generation 2) passes: they explain a slow max_ms."""

    def __enter__(self) -> FullCollections:
        self.count = 0
        gc.callbacks.append(self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._seen)

    def _seen(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            self.count += 1


def _profile(name: str, fn: Callable[[], Any]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(25)
    log(f"cProfile of {name} (one call):\n{out.getvalue()}")


def measure(ctx: Context, name: str, fn: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
    """Median wall time of ctx.runs calls after ctx.warmup calls, and the queries of one more call.

    Timed calls run without query capture (it adds per-query overhead); the count comes from a
    separate call under CaptureQueriesContext.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(ctx.warmup):
        fn()
    times = []
    result = None
    with FullCollections() as full_gc:
        for _ in range(ctx.runs):
            started = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        fn()
    if ctx.profile:
        _profile(name, fn)
    row = {
        "name": name,
        "median_ms": _ms(statistics.median(times)),
        "runs": ctx.runs,
        "queries": len(queries.captured_queries),
        "min_ms": _ms(min(times)),
        "max_ms": _ms(max(times)),
        "full_gc": full_gc.count,
    }
    return row, result


def _find(ctx: Context, provider_ids: list[int] | None) -> Callable[[], Any]:
    from booking.scheduling.availability import PATIENT_POLICY
    from booking.scheduling.loading import find_slots

    def call() -> Any:
        return find_slots(
            visit_type=ctx.visit_type,
            location=ctx.location,
            first_day=ctx.first_day,
            last_day=ctx.last_day,
            provider_ids=provider_ids,
            policy=PATIENT_POLICY,
        )

    return call


def _get_availability(ctx: Context, client: Any, provider_ids: list[int] | None) -> Callable[[], Any]:
    params: dict[str, Any] = {
        "visit_type": VISIT_SLUG,
        "location": ctx.location.pk,
        "start": ctx.first_day.isoformat(),
        "end": ctx.last_day.isoformat(),
    }
    if provider_ids:
        params["provider"] = provider_ids

    def call() -> Any:
        response = client.get("/api/v1/availability", params)
        assert response.status_code == 200, (response.status_code, response.content[:500])
        return json.loads(response.content)["slots"]

    return call


def _split(ctx: Context, provider_ids: list[int] | None) -> dict[str, float]:
    """Where find_slots spends its time: load_schedule (queries + row conversion) vs free_slots."""
    from booking.scheduling.availability import PATIENT_POLICY, free_slots
    from booking.scheduling.loading import load_schedule

    loads, sweeps = [], []
    for n in range(ctx.warmup + ctx.runs):
        started = time.perf_counter()
        schedule = load_schedule(
            visit_type=ctx.visit_type,
            location=ctx.location,
            first_day=ctx.first_day,
            last_day=ctx.last_day,
            provider_ids=provider_ids,
        )
        loaded = time.perf_counter()
        free_slots(schedule, PATIENT_POLICY)
        if n >= ctx.warmup:
            loads.append(loaded - started)
            sweeps.append(time.perf_counter() - loaded)
    return {"load_schedule_ms": _ms(statistics.median(loads)), "free_slots_ms": _ms(statistics.median(sweeps))}


def _availability_pair(ctx: Context, label: str, provider_ids: list[int] | None) -> list[dict[str, Any]]:
    from django.test import Client

    scope = {"days": QUERY_DAYS, "providers": len(provider_ids) if provider_ids else PROVIDERS}
    python_row, slots = measure(ctx, f"{label}_python", _find(ctx, provider_ids))
    python_row.update(scope, slots=len(slots), policy="patient")
    python_row.update(_split(ctx, provider_ids))
    # Anonymous caller: the API applies the patient policy, as the Python call does.
    http_row, body_slots = measure(ctx, f"{label}_http", _get_availability(ctx, Client(), provider_ids))
    http_row.update(scope, slots=len(body_slots), policy="patient", transport=TRANSPORT)
    http_row["slots_match_python"] = len(body_slots) == len(slots)
    return [python_row, http_row]


# --- scenarios ------------------------------------------------------------------------------


def scenario_a(ctx: Context) -> list[dict[str, Any]]:
    """One provider, local days +1..+30."""
    return _availability_pair(ctx, "a_1_provider_30_days", [ctx.providers[0].pk])


def scenario_b(ctx: Context) -> list[dict[str, Any]]:
    """All ten providers (no provider filter), local days +1..+30."""
    return _availability_pair(ctx, "b_10_providers_30_days", None)


def scenario_c(ctx: Context) -> list[dict[str, Any]]:
    """200 bookings by a front-desk user with a bearer token, each on a distinct free slot."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from booking.models import Appointment

    client = Client(HTTP_AUTHORIZATION=f"Bearer {ctx.token}")
    free = _get_availability(ctx, client, None)()  # staff view of days +1..+30, untimed
    profiled = PROFILE_BOOKINGS if ctx.profile else 0
    needed = ctx.warmup + BOOKINGS + BOOKING_QUERY_SAMPLE + profiled
    if len(free) < needed:
        raise SystemExit(f"only {len(free)} free slots, need {needed}")
    picks = iter(ctx.rng.sample(free, needed))
    # A new patient per booking: a patient cannot be in two visits at once, and the random data
    # set's patients already have visits.
    from patients.models import Patient

    Patient.objects.bulk_create(
        Patient(first_name="Bench", last_name=f"Booker {i}", date_of_birth=date(1980, 1, 1)) for i in range(needed)
    )
    bookers = iter(Patient.objects.filter(first_name="Bench").values_list("pk", flat=True))
    before = Appointment.objects.count()

    def book(n: int) -> None:
        slot = next(picks)
        payload = {
            "patient": next(bookers),
            "provider": slot["provider"],
            "visit_type": VISIT_SLUG,
            "location": ctx.location.pk,
            "start": slot["start"],
        }
        response = client.post("/api/v1/appointments", json.dumps(payload), content_type="application/json")
        assert response.status_code == 201, (response.status_code, response.content[:500])

    for n in range(ctx.warmup):
        book(n)
    times = []
    with FullCollections() as full_gc:
        for n in range(BOOKINGS):
            started = time.perf_counter()
            book(n)
            times.append(time.perf_counter() - started)
    counts = []
    for n in range(BOOKING_QUERY_SAMPLE):
        with CaptureQueriesContext(connection) as queries:
            book(n)
        counts.append(len(queries.captured_queries))
    if profiled:
        _profile(f"c_http_book ({profiled} bookings)", lambda: [book(n) for n in range(profiled)])
    made = Appointment.objects.count() - before
    assert made == needed, (made, needed)
    return [
        {
            "name": "c_http_book",
            "median_ms": _ms(statistics.median(times)),
            "runs": BOOKINGS,
            "queries": statistics.median(counts),
            "p95_ms": _ms(_p95(times)),
            "min_ms": _ms(min(times)),
            "max_ms": _ms(max(times)),
            "queries_min": min(counts),
            "queries_max": max(counts),
            "queries_sample": BOOKING_QUERY_SAMPLE,
            "full_gc": full_gc.count,
            "status": 201,
            "as": "front desk, bearer token",
            "transport": TRANSPORT,
        }
    ]


DAY_LIST_VISITS = 20


def scenario_day_list(ctx: Context) -> list[dict[str, Any]]:
    """A provider's daily list with 20 procedure visits, each patient with two earlier recorded visits."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from booking import services
    from booking.scheduling.availability import STAFF_POLICY
    from booking.services import SiteInput, record_procedure
    from clinic import roles
    from clinic.models import Provider, VisitKind, VisitType, WorkingHours
    from patients.models import Muscle, Patient
    from tests.factories import sign_in

    procedure = VisitType.objects.create(
        slug="bench-tpi", name="Bench TPI", kind=VisitKind.PROCEDURE, duration_minutes=20, needs_room=False
    )
    provider = Provider.objects.create(display_name="Bench Day Provider", credentials="MD")
    provider.locations.add(ctx.location)
    provider.visit_types.add(procedure)
    WorkingHours.objects.bulk_create(
        WorkingHours(provider=provider, location=ctx.location, weekday=d, start=wall_time(7), end=wall_time(19))
        for d in range(7)
    )
    user = get_user_model().objects.create_user(username="bench-provider", password=None)
    user.groups.add(Group.objects.get(name=roles.PROVIDER))
    provider.user = user
    provider.save(update_fields=["user"])
    muscles = list(Muscle.objects.all()[:3])
    day = ctx.today + timedelta(days=2)
    for n in range(DAY_LIST_VISITS):
        patient = Patient.objects.create(first_name="Day", last_name=f"List {n}", date_of_birth=date(1970, 1, 1))
        start = datetime.combine(day, wall_time(7), tzinfo=ctx.location.tz) + timedelta(minutes=30 * n)
        common = {"patient": patient, "provider": provider, "visit_type": procedure, "location": ctx.location}
        for weeks in (4, 2):
            earlier = start - timedelta(weeks=weeks)
            visit = services.book_appointment(
                **common, start=earlier, by=None, policy=STAFF_POLICY, now=earlier - timedelta(days=1)
            )
            record_procedure(
                appointment=visit,
                sites=[SiteInput(muscle=m, side="left") for m in muscles],
                injectates=[],
                pain_before=7,
                pain_after=3,
                by=user,
                now=earlier + timedelta(minutes=20),
            )
        services.book_appointment(**common, start=start, by=None, policy=STAFF_POLICY, now=start - timedelta(days=3))
    client = Client()
    sign_in(client, user)  # past the staff two-factor step, as after typing a code
    url = f"/provider/day/{day.isoformat()}"

    def call() -> int:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response.content.count(b'class="day-entry"')

    row, entries = measure(ctx, "d_provider_day_20", call)
    assert entries == DAY_LIST_VISITS, entries
    return [{**row, "visits": DAY_LIST_VISITS, "earlier_records": 2 * DAY_LIST_VISITS, "transport": TRANSPORT}]


def _cpu_seconds(worker_group: int, gateway_pid: int) -> dict[str, float]:
    """User + system CPU seconds so far: the worker's process group (main and pool processes),
    the fake gateway, and this process (the sweep and the polling)."""
    import psutil

    used = {"worker": 0.0, "gateway": 0.0, "bench": 0.0}
    for process in psutil.process_iter():
        try:
            if process.pid == gateway_pid:
                part = "gateway"
            elif process.pid == os.getpid():
                part = "bench"
            elif os.getpgid(process.pid) == worker_group:
                part = "worker"
            else:
                continue
            times = process.cpu_times()
            used[part] += times.user + times.system
        except (psutil.Error, OSError):
            continue
    return used


def scenario_reminders(ctx: Context) -> list[dict[str, Any]]:
    """10,000 due SMS reminders through a real Celery worker and Redis to a fake gateway on loopback.

    Timed from the sweep that hands them out to the last row marked sent. Redis: REDIS_URL, or
    scripts/redis.sh starts one; skipped (with a note) when redis-server is not installed.
    """
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from booking.messaging import delivery
    from booking.models import Appointment, MessageKind, Reminder, ReminderStatus, Status
    from clinic.models import Provider
    from patients.models import Patient, ReminderChannel
    from tests.booking import reminder_harness as harness

    broker = harness.redis_url()
    if broker is None:
        log("reminders: skipped, redis-server is not installed (apt-get install redis-server)")
        return [{"name": "reminders_10k", "skipped": "redis-server is not installed"}]
    count = REMINDERS
    concurrency = int(os.environ.get("BENCH_REMINDER_CONCURRENCY", "") or (os.cpu_count() or 2))
    with transaction.atomic():
        provider = Provider.objects.create(display_name="Bench Reminders")
        patient = Patient.objects.create(
            first_name="Pat",
            last_name="Reminders",
            date_of_birth=date(1970, 1, 1),
            phone="+16175550123",
            reminder_channel=ReminderChannel.SMS,
        )
        first = datetime.combine(ctx.today + timedelta(days=DATA_DAYS + 30), DAY_START, tzinfo=UTC)
        length = timedelta(minutes=VISIT_MINUTES)
        Appointment.objects.bulk_create(
            [
                Appointment(
                    patient=patient,
                    provider=provider,
                    location=ctx.location,
                    visit_type=ctx.visit_type,
                    start=(start := first + n * length),
                    end=start + length,
                    block_start=start,
                    block_end=start + length,
                    status=Status.BOOKED,
                )
                for n in range(count)
            ],
            batch_size=1000,
        )
        due = timezone.now() - timedelta(minutes=1)
        Reminder.objects.bulk_create(
            [
                Reminder(appointment_id=pk, kind=MessageKind.REMINDER_SHORT, channel="sms", send_at=due)
                for pk in Appointment.objects.filter(provider=provider).values_list("pk", flat=True)
            ],
            batch_size=1000,
        )
    queue = f"bench-reminders-{os.getpid()}"
    harness.purge(broker, queue)
    enqueue = harness.producer(broker, queue)
    var_dir = Path(os.environ.get("CLINIC_VAR_DIR", str(ROOT / "var"))) / "bench" / "reminders"
    var_dir.mkdir(parents=True, exist_ok=True)
    with harness.GatewayProcess() as gateway:
        env = harness.worker_env(
            database_url=os.environ["DATABASE_URL"],
            broker_url=broker,
            gateway_url=gateway.url,
            var_dir=var_dir,
            CONN_MAX_AGE="60",
        )
        worker = harness.CeleryWorker(
            env=env, queue=queue, concurrency=concurrency, log_dir=var_dir, loglevel="WARNING"
        )
        try:
            worker.start()
            log(f"reminders: worker ready ({concurrency} processes); sweeping {count} due reminders")
            cpu_before = _cpu_seconds(worker.process.pid, gateway.process.pid)
            started = time.perf_counter()
            handed_out = delivery.sweep_due(enqueue=enqueue, limit=count)
            enqueued = time.perf_counter()
            sent = 0
            while time.perf_counter() - started < REMINDER_DEADLINE_S:
                sent = Reminder.objects.filter(status=ReminderStatus.SENT).count()
                if sent == count:
                    break
                time.sleep(0.1)
            finished = time.perf_counter()
            cpu_after = _cpu_seconds(worker.process.pid, gateway.process.pid)
        finally:
            worker.stop()
        cpu = {part: round(cpu_after[part] - cpu_before.get(part, 0.0), 2) for part in cpu_after}
        seconds = finished - started
        calls = gateway.stats()
        return [
            {
                "name": "reminders_10k",
                "reminders": count,
                "sent": sent,
                "seconds": round(seconds, 2),
                "per_second": round(sent / seconds, 1),
                "sweep_and_enqueue_s": round(enqueued - started, 2),
                "handed_out": len(handed_out),
                "gateway_unique_keys": calls["unique_keys"],
                "gateway_raw_calls": calls["raw_calls"],
                "worker_processes": concurrency,
                "task_batch": settings.REMINDER_TASK_BATCH,
                # CPU seconds used meanwhile, whatever else runs on the machine: per part, and per message.
                "cpu_s": cpu,
                "cpu_ms_per_message": round(sum(cpu.values()) * 1000 / max(sent, 1), 2),
                "loadavg_1m": _loadavg(),
                "broker": "redis (loopback)",
                "database": connection.vendor,
                "goal_s": REMINDER_GOAL_S,
                "goal_met": sent == count and calls["unique_keys"] == count and seconds < REMINDER_GOAL_S,
            }
        ]


def scenario_desk_calendar(ctx: Context) -> list[dict[str, Any]]:
    """The desk's day calendar page for 10 providers on a full day (every 30-minute start
    booked, 8:00-17:00), over HTTP as a logged-in front-desk user; queries must stay flat."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from booking.models import Appointment, Status
    from tests.factories import sign_in

    day = ctx.today + timedelta(days=DATA_DAYS + 1)
    while day.weekday() >= 5:  # a weekday after the random data: nothing booked there yet
        day += timedelta(days=1)
    end_delta = timedelta(minutes=VISIT_MINUTES)
    Appointment.objects.bulk_create(
        [
            Appointment(
                patient=ctx.rng.choice(ctx.patients),
                provider=provider,
                location=ctx.location,
                visit_type=ctx.visit_type,
                start=start,
                end=start + end_delta,
                block_start=start,
                block_end=start + end_delta,
                status=Status.BOOKED,
            )
            for provider in ctx.providers
            for start in _grid(day, ctx.location.tz)
        ]
    )
    client = Client()
    sign_in(client, get_user_model().objects.get(username="bench-desk"))
    url = f"/desk/calendar/{ctx.location.pk}/{day.isoformat()}"

    def call() -> Any:
        response = client.get(url)
        assert response.status_code == 200, (response.status_code, response.content[:500])
        return response

    row, response = measure(ctx, "desk_calendar_day_10_providers_full", call)
    row.update(
        providers=PROVIDERS,
        appointments=len(ctx.providers) * len(_grid(day, ctx.location.tz)),
        html_kb=round(len(response.content) / 1024, 1),
        transport=TRANSPORT,
    )
    return [row]


SCENARIOS: list[tuple[str, Callable[[Context], list[dict[str, Any]]]]] = [
    ("a", scenario_a),
    ("b", scenario_b),
    ("c", scenario_c),
    ("desk_calendar", scenario_desk_calendar),
    ("day_list", scenario_day_list),
    ("reminders", scenario_reminders),
]


def goals_row(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    goals = []
    for name, max_ms, max_queries in GOALS:
        row = rows.get(name)
        goal: dict[str, Any] = {"measurement": name, "max_ms": max_ms, "max_queries": max_queries}
        if row is None:
            goal["goal_met"] = None  # not run (--only)
        else:
            goal["median_ms"] = row["median_ms"]
            goal["queries"] = row["queries"]
            goal["goal_met"] = row["median_ms"] < max_ms and (max_queries is None or row["queries"] <= max_queries)
        goals.append(goal)
    reminder_row = rows.get("reminders_10k")
    if reminder_row is not None and "skipped" not in reminder_row:
        goals.append(
            {
                "measurement": "reminders_10k",
                "max_s": REMINDER_GOAL_S,
                "seconds": reminder_row["seconds"],
                "goal_met": reminder_row["goal_met"],
            }
        )
    ran = [g["goal_met"] for g in goals if g["goal_met"] is not None]
    return {"name": "goals", "goals": goals, "goal_met": all(ran) if ran else None}


def main(argv: list[str] | None = None) -> int:
    names = [name for name, _ in SCENARIOS]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=names, help="run only this scenario (repeatable)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--profile", action="store_true", help="cProfile one more call of each measurement")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    prepare_database()
    setup_django()
    from django import get_version
    from django.db import connection

    log(f"migrating {connection.vendor} database {connection.settings_dict['NAME']}")
    migrate()
    log("building the data set")
    ctx = build_dataset(args)
    emit(
        {
            "name": "meta",
            "database": connection.vendor,
            "database_name": str(connection.settings_dict["NAME"]).rsplit("/", 1)[-1],
            "from_env": "BENCH_DATABASE_URL" if os.environ.get("BENCH_DATABASE_URL") else None,
            "python": platform.python_version(),
            "django": get_version(),
            "debug": False,
            "today_local": ctx.today.isoformat(),
            "days": [ctx.first_day.isoformat(), ctx.last_day.isoformat()],
            "providers": PROVIDERS,
            "patients": PATIENTS,
            "appointments": APPOINTMENTS,
            **ctx.extra,
            "transport": TRANSPORT,
            "cpus": os.cpu_count(),
            "loadavg_1m": _loadavg(),  # other work on the machine skews every number
            "setup_s": round(time.perf_counter() - started, 2),
        }
    )

    rows: dict[str, dict[str, Any]] = {}
    for name, scenario in SCENARIOS:
        if args.only and name not in args.only:
            continue
        log(f"scenario {name}")
        for row in scenario(ctx):
            rows[row["name"]] = row
            emit(row)
    result = goals_row(rows)
    result["total_s"] = round(time.perf_counter() - started, 2)
    result["loadavg_1m"] = _loadavg()
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
