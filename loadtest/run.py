"""`make loadtest`: the production stack on loopback under locust, then one summary.

1. PostgreSQL and Redis test servers (scripts/postgres.sh, scripts/redis.sh; left running), a
   fresh database (LOADTEST_DATABASE, default `app_load`), an emptied Redis database
   (LOADTEST_REDIS_DB, default 7).
2. migrate, collectstatic (hashed + compressed, as in production), a generated clinic: one
   location, 20 providers Monday-Friday 08:00-17:00, a 30-minute visit type that needs no room,
   a 21st "rush" provider with exactly 8 free slots on one day, patients with logins and a
   front-desk user with a bearer token.
3. gunicorn (deploy/gunicorn.conf.py, CLINIC_ENV=production, DATABASE_POOL=1,
   SECURE_SSL_REDIRECT=0), one Celery worker and one beat, on 127.0.0.1 only.
4. Scenario 1: 50 users (45 patients, 5 front desk), 3 reads : 1 booking across 20 providers,
   measured for 60 s after every user has logged in. Scenario 2, the stampede: 100 patients on
   the rush provider's 8 slots at once. Then two hosts: a second gunicorn on another port and a
   second worker (same PostgreSQL and Redis), 50 users whose every request goes to either port
   at random, 30 s; then the reminder outbox is drained and every send counted.
5. One summary on stdout (also var/loadtest/<run>/summary.json); logs and locust CSVs stay in
   var/loadtest/<run>/. gunicorn and Celery are stopped (process groups) whatever happens.

Exit status 1 when a correctness check fails (a failure or 5xx, an overlap, not exactly 8
stampede winners, a loser without 409 + alternatives, a reminder sent twice); with --strict also
when a performance goal is missed (>= 20 bookings/s, booking p95 < 100 ms).

Run it with the project's virtualenv: `.venv/bin/python loadtest/run.py` (what `make loadtest` does).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtualenv's bin/: gunicorn, celery, locust
LOOPBACK = "127.0.0.1"

# The generated clinic.
PROVIDERS = 20
PATIENT_LOGINS = 220
WINDOW_DAYS = 28  # scenario 1 and the two-host run book on local days +1..+28
DAY_START, DAY_END = wall_time(8), wall_time(17)
VISIT_SLUG = "lt-30"
VISIT_MINUTES = 30
RUSH_SLOTS = 8  # 08:00-12:00 on the stampede day
PASSWORD = "load-test-only-" + "x" * 8  # noqa: S105 - throw-away logins in a throw-away database

GOAL_BOOKINGS_PER_S = 20.0
GOAL_BOOKING_P95_MS = 100.0

OCCUPYING_STATUSES = ("held", "booked", "checked_in", "completed")  # booking.models.OCCUPYING
READS = ("availability 1 provider", "availability all providers", "day view")


def log(message: str) -> None:
    print(f"[loadtest {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- pure helpers (tests/loadtest/test_run.py) -------------------------------------------------


def overlap_sql(column: str, table: str = "booking_appointment") -> str:
    """Pairs of occupying rows that share `column` (provider_id, room_id) and whose blocks overlap."""
    if column not in {"provider_id", "room_id"} or not re.fullmatch(r"[a-z_]+", table):
        raise ValueError(f"bad column or table: {column!r}, {table!r}")
    statuses = ", ".join(f"'{status}'" for status in OCCUPYING_STATUSES)
    return (
        f"SELECT COUNT(*) FROM {table} a JOIN {table} b"  # noqa: S608 - fixed names, checked above
        f" ON a.{column} = b.{column} AND a.id < b.id"
        " AND a.block_start < b.block_end AND b.block_start < a.block_end"
        f" WHERE a.status IN ({statuses}) AND b.status IN ({statuses})"
    )


def count_overlaps(connection: Any, table: str = "booking_appointment") -> dict[str, int]:
    """The oracle: overlapping occupying pairs per provider and per room (0 and 0 is right)."""
    counts = {}
    with connection.cursor() as cursor:
        for what, column in (("provider", "provider_id"), ("room", "room_id")):
            cursor.execute(overlap_sql(column, table))
            counts[what] = int(cursor.fetchone()[0])
    return counts


SMS_KEY = re.compile(r"^--- \S+ to .*\[(?P<key>[^\]\s]+)\]$", re.MULTILINE)
EMAIL_KEY = re.compile(r"^X-Idempotency-Key: (?P<key>\S+)$", re.MULTILINE)


def gateway_sends(sms_log: str, email_files: Iterable[str]) -> Counter[str]:
    """Idempotency key -> times handed to a gateway: the SMS file backend's log and the e-mail files."""
    sends: Counter[str] = Counter(m.group("key") for m in SMS_KEY.finditer(sms_log))
    for text in email_files:
        sends.update(m.group("key") for m in EMAIL_KEY.finditer(text))
    return sends


def read_locust_stats(path: Path) -> dict[str, dict[str, Any]]:
    """Locust's --csv <prefix>_stats.csv as {request name: row}, numbers as numbers."""
    rows = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            parsed: dict[str, Any] = {}
            for key, value in row.items():
                try:
                    parsed[key] = float(value) if value not in ("", "N/A") else None
                except ValueError:
                    parsed[key] = value
            rows[row["Name"]] = parsed
    return rows


def access_logs(run_dir: Path) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(run_dir.glob("gunicorn-*-access.log"))]


def scenario_figures(stats: dict[str, dict[str, Any]], results: dict[str, Any]) -> dict[str, Any]:
    """Bookings/s, reads/s, booking percentiles and failures over the measured window."""
    seconds = results.get("measured_seconds") or 0.0
    book = stats.get("book") or {}
    reads = sum(int(stats[name]["Request Count"]) for name in READS if name in stats)
    failures = sum(int(row["Failure Count"] or 0) for name, row in stats.items() if name != "Aggregated")
    bookings = int(book.get("Request Count") or 0)
    return {
        "measured_seconds": seconds,
        "bookings": bookings,
        "reads": reads,
        "bookings_per_s": round(bookings / seconds, 1) if seconds else 0.0,
        "reads_per_s": round(reads / seconds, 1) if seconds else 0.0,
        "book_p50_ms": book.get("50%"),
        "book_p95_ms": book.get("95%"),
        "book_p99_ms": book.get("99%"),
        "book_status": results.get("book_status", {}),
        "conflicts_without_alternatives": results.get("conflicts_without_alternatives", 0),
        "failures": failures,
        "users_ready": results.get("users_ready"),
        "samples": results.get("samples", []),
    }


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def server_side_booking_ms(access_logs: Iterable[str], started: float | None, ended: float | None) -> dict[str, Any]:
    """p50/p95/p99 of POST /api/v1/appointments as gunicorn timed it (JSON access log), in the window.

    The gap to locust's figures is time spent waiting for a free worker (and locust's own delays).
    """
    durations = []
    for text in access_logs:
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("method") != "POST" or entry.get("path") != "/api/v1/appointments":
                continue
            at = datetime.fromisoformat(entry["ts"]).timestamp()
            if started and ended and started <= at <= ended:
                durations.append(float(entry["duration_ms"]))
    return {f"p{int(f * 100)}": percentile(durations, f) for f in (0.5, 0.95, 0.99)} | {"count": len(durations)}


def stampede_problems(outcome: dict[str, int], users: int, slots: int, booked_in_db: int) -> list[str]:
    """What is wrong with a stampede's outcome (empty when all is right)."""
    problems = []
    winners = outcome.get("winners", 0)
    losers = outcome.get("losers_409_with_alternatives", 0)
    if winners != slots:
        problems.append(f"{winners} winners, expected exactly {slots}")
    if booked_in_db != slots:
        problems.append(f"{booked_in_db} appointments in the database, expected {slots}")
    if winners + losers != users:
        others = {k: v for k, v in outcome.items() if k not in {"winners", "losers_409_with_alternatives"}}
        problems.append(f"{users - winners - losers} users neither won nor got 409 with alternatives: {others}")
    return problems


# --- processes ------------------------------------------------------------------------------


@dataclass
class Stack:
    run_dir: Path
    env: dict[str, str]
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, command: list[str], **extra_env: str) -> subprocess.Popen:
        log_file = (self.run_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own binaries, fixed arguments
            command,
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole below
        )
        log_file.close()
        self.processes.append((name, process))
        return process

    def stop_all(self) -> None:
        for name, process in reversed(self.processes):
            stop_group(name, process)
        self.processes.clear()


def stop_group(name: str, process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group (gunicorn's or Celery's workers too), SIGKILL it after `grace` s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop within {grace:.0f} s; killing its process group")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://{LOOPBACK}:{port}/healthz"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} exited ({process.returncode}); see its log")
        try:
            with _NO_PROXY.open(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"/healthz on port {port} did not answer 200 within {timeout:.0f} s")


def gunicorn(stack: Stack, port: int, args: argparse.Namespace) -> subprocess.Popen:
    name = f"gunicorn-{port}"
    process = stack.start(
        name,
        [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
        GUNICORN_BIND=f"{LOOPBACK}:{port}",
        GUNICORN_WORKERS=str(args.workers),
        GUNICORN_THREADS=str(args.threads),
        GUNICORN_NAME=name,
        GUNICORN_ACCESS_LOG=str(stack.run_dir / f"{name}-access.log"),
    )
    wait_healthy(port, process)
    warm_up(port, args.workers)
    return process


def warm_up(port: int, workers: int) -> None:
    """A few requests per worker before measuring: the first one in each process loads URLs and templates."""
    for _ in range(3 * workers):
        for path in ("/accounts/login/", "/healthz"):
            try:
                with _NO_PROXY.open(f"http://{LOOPBACK}:{port}{path}", timeout=30) as answer:
                    answer.read()
            except OSError:
                pass


def celery(stack: Stack, *arguments: str, name: str) -> subprocess.Popen:
    return stack.start(name, [str(BIN / "celery"), "-A", "clinic", *arguments, "--loglevel=INFO"])


class CpuSampler(threading.Thread):
    """CPU seconds per part of the stack, sampled every second, to say where a window's CPU went.

    Parts: each gunicorn instance and Celery process group started here (by process group),
    locust, PostgreSQL backends of the load-test database, Redis, this script, and "not ours"
    (the rest of what the whole machine was busy with, from /proc/stat: e.g. another test run
    competing for the same cores).
    """

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.samples: list[tuple[float, dict[int, tuple[str, float]]]] = []
        self.done = threading.Event()

    def part_of(self, process: Any, groups: dict[int, str]) -> str:
        pgid = os.getpgid(process.pid)
        if pgid in groups:
            return groups[pgid]
        if process.pid == os.getpid():
            return "run.py"
        command = " ".join(process.cmdline())
        if "loadtest/locustfile.py" in command:
            return "locust"
        if command.startswith("postgres:") and f" {os.environ.get('LOADTEST_DATABASE', 'app_load')} " in f"{command} ":
            return "postgresql"
        if process.name() == "redis-server":
            return "redis"
        return "not ours"

    def snapshot(self) -> dict[int, tuple[str, float]]:
        import psutil

        groups = {}
        for name, process in self.stack.processes:
            groups[process.pid] = "gunicorn" if name.startswith("gunicorn") else "celery"
        seen = {}
        for process in psutil.process_iter():
            try:
                times = process.cpu_times()
                seen[process.pid] = (self.part_of(process, groups), times.user + times.system)
            except (psutil.Error, OSError):
                continue
        return seen

    def run(self) -> None:
        while not self.done.wait(1.0):
            snapshot = self.snapshot()
            snapshot[MACHINE] = ("machine", machine_busy_seconds())
            self.samples.append((time.time(), snapshot))

    def cores(self, started: float | None, ended: float | None) -> dict[str, float]:
        """Average cores used by each part between two wall-clock times."""
        if not started or not ended or len(self.samples) < 2:
            return {}
        window = [s for s in self.samples if started - 1.0 <= s[0] <= ended + 1.0]
        if len(window) < 2:
            return {}
        seconds = window[-1][0] - window[0][0]
        used: Counter[str] = Counter()
        for pid, (part, cpu) in window[-1][1].items():
            # The earliest sample that saw this process (a busy process may be missed once).
            begin = next((s[1][pid][1] for s in window if pid in s[1]), cpu)
            used[part] += cpu - begin
        # Processes that start and end between two samples (another test run's) are seen by no
        # sample: "not ours" is what the whole machine was busy with, less what is ours.
        machine = used.pop("machine", 0.0)
        used.pop("not ours", None)
        if machine:
            used["not ours"] = max(0.0, machine - sum(used.values()))
        return {part: round(cpu / seconds, 2) for part, cpu in used.most_common() if cpu / seconds >= 0.01}


MACHINE = -1  # the key of the whole-machine figure in a sample


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores), from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- database and data set -------------------------------------------------------------------


def script_output(*command: str) -> str:
    result = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True, timeout=300)  # noqa: S603
    return result.stdout.strip()


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create `name` on the server of `server_url`; return its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def empty_redis_db(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    client.flushdb()
    client.close()


def local_weekdays(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def build_clinic(run_dir: Path) -> dict[str, Any]:
    """The generated clinic, with bulk inserts; returns what the locustfile needs (LOADTEST_DATA)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import transaction
    from django.utils import timezone

    from clinic import roles
    from clinic.api import hash_token
    from clinic.models import ApiToken, Location, Provider, TimeOff, VisitKind, VisitType, WorkingHours
    from patients.models import Language, Patient, ReminderChannel

    user_model = get_user_model()
    with transaction.atomic():
        location = Location.objects.create(name="Load Test Clinic", timezone="America/New_York")
        visit_type = VisitType.objects.create(
            slug=VISIT_SLUG,
            name="30-minute follow-up",
            kind=VisitKind.FOLLOW_UP,
            duration_minutes=VISIT_MINUTES,
            needs_room=False,
            bookable_online=True,
            min_notice_minutes=0,
            horizon_days=90,
            slot_step_minutes=VISIT_MINUTES,
        )
        providers = Provider.objects.bulk_create(
            [Provider(display_name=f"Provider {i + 1:02d}", credentials="MD") for i in range(PROVIDERS)]
            + [Provider(display_name="Rush Provider", credentials="MD")]
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
        today = timezone.localtime(timezone.now(), location.tz).date()
        window = local_weekdays(today + timedelta(days=1), today + timedelta(days=WINDOW_DAYS))
        stampede_day = local_weekdays(today + timedelta(days=WINDOW_DAYS + 7), today + timedelta(days=60))[0]
        # The rush provider is away except 08:00-12:00 on the stampede day: exactly 8 free slots.
        rush = providers[-1]
        opens = datetime.combine(stampede_day, DAY_START, tzinfo=location.tz)
        closes = opens + timedelta(minutes=VISIT_MINUTES * RUSH_SLOTS)
        TimeOff.objects.bulk_create(
            [
                TimeOff(provider=rush, start=timezone.now() - timedelta(days=1), end=opens, reason="load test"),
                TimeOff(provider=rush, start=closes, end=timezone.now() + timedelta(days=365), reason="load test"),
            ]
        )

        encoded = make_password(PASSWORD)  # hashed once: every test login has the same password
        usernames = [f"lt-patient-{i:03d}" for i in range(PATIENT_LOGINS)]
        users = user_model.objects.bulk_create([user_model(username=name, password=encoded) for name in usernames])
        patient_group = Group.objects.get(name=roles.PATIENT)
        user_model.groups.through.objects.bulk_create(
            [user_model.groups.through(user_id=u.pk, group_id=patient_group.pk) for u in users]
        )
        channels = [ReminderChannel.EMAIL, ReminderChannel.SMS, ReminderChannel.BOTH]
        Patient.objects.bulk_create(
            [
                Patient(
                    user=user,
                    first_name="Load",
                    last_name=f"Patient {i:03d}",
                    date_of_birth=date(1950, 1, 1) + timedelta(days=97 * i),
                    email=f"lt-patient-{i:03d}@example.com",
                    phone=f"+1423555{100 + i % 100:04d}",  # 555-01xx: reserved for fiction
                    preferred_language=Language.SPANISH if i % 3 == 2 else Language.ENGLISH,
                    reminder_channel=channels[i % len(channels)],
                )
                for i, user in enumerate(users)
            ]
        )
        desk = user_model.objects.create_user(username="lt-desk", password=None)
        desk.groups.add(Group.objects.get(name=roles.FRONT_DESK))
        token = secrets.token_urlsafe(32)
        ApiToken.objects.create(user=desk, name="load test", token_hash=hash_token(token))

    data = {
        "location": location.pk,
        "visit_type": VISIT_SLUG,
        "providers": [p.pk for p in providers[:PROVIDERS]],
        "hot_provider": rush.pk,
        "window_days": [d.isoformat() for d in window],
        "stampede_day": stampede_day.isoformat(),
        "patients": usernames,
        "password": PASSWORD,
        "desk_token": token,
    }
    path = run_dir / "data.json"
    path.write_text(json.dumps(data, indent=2))
    return data


def booked_for(provider_id: int) -> int:
    from booking.models import OCCUPYING_Q, Appointment

    return Appointment.objects.filter(OCCUPYING_Q, provider_id=provider_id).count()


def overlaps_now() -> dict[str, int]:
    from django.db import connection

    return count_overlaps(connection)


# --- reminders --------------------------------------------------------------------------------


def reminder_model() -> Any:
    """The Reminder outbox model, or None while reminders are not built."""
    from django.apps import apps

    try:
        return apps.get_model("booking", "Reminder")
    except LookupError:
        return None


def drain_reminders(timeout: float) -> dict[str, int]:
    """Wait until no reminder is due or being sent (beat sweeps every few seconds); row counts by status."""
    from django.db.models import Count, Q
    from django.utils import timezone

    reminder = reminder_model()
    deadline = time.monotonic() + timeout
    while True:
        now = timezone.now()
        waiting = reminder.objects.filter(Q(status="pending", send_at__lte=now) | Q(status="sending")).count()
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(1)
    by_status = dict(reminder.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    by_status["due_not_sent"] = waiting
    return by_status


def reminder_report(var_dir: Path, rows: dict[str, int]) -> dict[str, Any]:
    outbox = var_dir / "outbox"
    sms_log = outbox / "sms.log"
    email_dir = outbox / "email"
    sends = gateway_sends(
        sms_log.read_text(encoding="utf-8") if sms_log.exists() else "",
        (p.read_text(encoding="utf-8", errors="replace") for p in sorted(email_dir.glob("*")) if p.is_file()),
    )
    return {
        "rows": rows,
        "gateway_calls": sum(sends.values()),
        "keys_sent": len(sends),
        "duplicated": sum(n - 1 for n in sends.values() if n > 1),
        "sent_rows": rows.get("sent", 0),
    }


# --- locust -----------------------------------------------------------------------------------


def run_locust(
    stack: Stack,
    name: str,
    *,
    users: int,
    spawn_rate: int,
    classes: list[str],
    host: str,
    limit_seconds: int,
    **extra_env: str,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    prefix = stack.run_dir / name
    results_path = stack.run_dir / f"{name}-results.json"
    command = [
        str(BIN / "locust"),
        "-f",
        "loadtest/locustfile.py",
        "--headless",
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{limit_seconds}s",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "10",
        *classes,
    ]
    env = {
        **stack.env,
        "LOADTEST_DATA": str(stack.run_dir / "data.json"),
        "LOADTEST_RESULTS": str(results_path),
        **extra_env,
    }
    log(f"{name}: locust -u {users} -r {spawn_rate} {' '.join(classes)} (safety limit {limit_seconds} s)")
    with (stack.run_dir / f"{name}-locust.log").open("wb") as out:
        subprocess.run(  # noqa: S603 - our own binary
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=limit_seconds + 60, check=False
        )
    stats_path = Path(f"{prefix}_stats.csv")
    if not stats_path.exists() or not results_path.exists():
        raise SystemExit(f"{name}: locust wrote no results; see {stack.run_dir / (name + '-locust.log')}")
    return read_locust_stats(stats_path), json.loads(results_path.read_text())


# --- the run ----------------------------------------------------------------------------------


def production_env(run_dir: Path, database_url: str, broker_url: str, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOADTEST_", "GUNICORN_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "CLINIC_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(64),  # a throw-away key for this run
            "DEBUG": "0",
            "ALLOWED_HOSTS": LOOPBACK,
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": database_url,
            "DATABASE_POOL": "1",
            "DATABASE_POOL_MIN": "1",
            "DATABASE_POOL_MAX": str(max(2, args.threads + 1)),
            "CELERY_BROKER_URL": broker_url,
            "REDIS_CACHE_URL": broker_url,  # rate-limit counters shared by the gunicorn workers
            # Every simulated patient logs in from the one loopback address; real patients come from
            # many. The per-address login cap (200 per 15 minutes) would otherwise cut a run short.
            "RATE_LOGIN_PER_IP": "5000/15m",
            "CLINIC_VAR_DIR": str(run_dir / "var"),
            "STATIC_ROOT": str(static_root()),
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "SMS_BACKEND": "file",
            "REMINDER_SWEEP_SECONDS": "5",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "LOADTEST_WAIT_MIN": str(args.wait_min),
            "LOADTEST_WAIT_MAX": str(args.wait_max),
        }
    )
    return env


def static_root() -> Path:
    """collectstatic output shared by runs while the static sources and packages stay the same:
    compressing ~1,000 files takes a minute on 2 cores, so it is done once, not every run."""
    digest = hashlib.sha256()
    for path in [ROOT / "requirements.txt", *sorted((ROOT / "static").rglob("*"))]:
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return ROOT / "var" / "loadtest" / f"static-{digest.hexdigest()[:12]}"


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="scenario 1 and two-host users (default 50)")
    parser.add_argument("--seconds", type=int, default=60, help="scenario 1 measured window (default 60)")
    parser.add_argument("--two-host-seconds", type=int, default=30, help="two-host measured window (default 30)")
    parser.add_argument("--stampede-users", type=int, default=100)
    parser.add_argument(
        "--spawn-rate",
        type=int,
        default=10,
        help="users started per second (default 10). Each logs in with a deliberately slow password"
        " hash; started all at once on a busy machine, the last logins outwait the client's timeout."
        " Measuring starts when all are in, and the stampede's users still book at the same moment",
    )
    parser.add_argument("--workers", type=int, default=8, help="gunicorn workers per instance (default 8)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (default 1)")
    parser.add_argument("--wait-min", type=float, default=0.1, help="think time between tasks, from (s)")
    parser.add_argument("--wait-max", type=float, default=0.8, help="think time between tasks, to (s)")
    parser.add_argument("--only", choices=["mixed", "stampede", "two-hosts"], action="append")
    parser.add_argument("--strict", action="store_true", help="also fail when a performance goal is missed")
    args = parser.parse_args(argv)
    wanted = set(args.only or ["mixed", "stampede", "two-hosts"])

    started = time.monotonic()
    run_dir = ROOT / "var" / "loadtest" / datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S")
    (run_dir / "var").mkdir(parents=True)
    log(f"run directory {run_dir.relative_to(ROOT)}")

    subprocess.run(["bash", "scripts/postgres.sh", "start"], cwd=ROOT, check=True, timeout=300)  # noqa: S607
    subprocess.run(["bash", "scripts/redis.sh", "start"], cwd=ROOT, check=True, timeout=120)  # noqa: S607
    database_url = fresh_database(
        script_output("bash", "scripts/postgres.sh", "url"), os.environ.get("LOADTEST_DATABASE", "app_load")
    )
    redis_base = script_output("bash", "scripts/redis.sh", "url").rsplit("/", 1)[0]
    broker_url = f"{redis_base}/{os.environ.get('LOADTEST_REDIS_DB', '7')}"
    empty_redis_db(broker_url)

    env = production_env(run_dir, database_url, broker_url, args)
    setup_django(env)
    from django.core.management import call_command
    from django.db import connections

    log("migrate")
    call_command("migrate", verbosity=0, interactive=False)
    if not (Path(env["STATIC_ROOT"]) / "staticfiles.json").exists():
        log(
            f"collectstatic into {Path(env['STATIC_ROOT']).relative_to(ROOT)} (once per static sources; about a minute)"
        )
        call_command("collectstatic", verbosity=0, interactive=False)
    log("generated clinic")
    data = build_clinic(run_dir)
    connections.close_all()

    stack = Stack(run_dir=run_dir, env=env)
    summary: dict[str, Any] = {
        "run_dir": str(run_dir.relative_to(ROOT)),
        "cpus": os.cpu_count(),
        "gunicorn": {"workers": args.workers, "threads": args.threads},
        "think_time_s": [args.wait_min, args.wait_max],
    }
    problems: list[str] = []
    misses: list[str] = []
    sampler = CpuSampler(stack)
    sampler.start()
    try:
        port = free_port()
        gunicorn(stack, port, args)
        celery(stack, "worker", "--concurrency=1", "-n", "lt-worker1@%h", name="celery-worker1")
        celery(stack, "beat", "--schedule", str(run_dir / "var" / "beat-schedule"), name="celery-beat")
        host = f"http://{LOOPBACK}:{port}"

        if "mixed" in wanted:
            stats, results = run_locust(
                stack,
                "scenario1",
                users=args.users,
                spawn_rate=args.spawn_rate,
                classes=["PatientUser", "DeskUser"],
                host=host,
                limit_seconds=args.seconds + 150,
                LOADTEST_MEASURE_SECONDS=str(args.seconds),
                LOADTEST_PATIENT_OFFSET="0",
            )
            figures = scenario_figures(stats, results)
            figures["overlaps"] = overlaps_now()
            figures["cpu_cores"] = sampler.cores(results.get("measure_started"), results.get("measure_ended"))
            figures["cpu_ms_per_request"] = cpu_per_request(figures, stats)
            figures["book_server_ms"] = server_side_booking_ms(
                access_logs(run_dir), results.get("measure_started"), results.get("measure_ended")
            )
            summary["scenario1"] = figures
            problems += check_mixed("scenario 1", figures)
            if figures["bookings_per_s"] < GOAL_BOOKINGS_PER_S:
                misses.append(f"scenario 1: {figures['bookings_per_s']} bookings/s < {GOAL_BOOKINGS_PER_S}")
            if (figures["book_p95_ms"] or 0) >= GOAL_BOOKING_P95_MS:
                misses.append(f"scenario 1: booking p95 {figures['book_p95_ms']} ms >= {GOAL_BOOKING_P95_MS}")

        if "stampede" in wanted:
            stats, results = run_locust(
                stack,
                "stampede",
                users=args.stampede_users,
                spawn_rate=args.spawn_rate,
                classes=["StampedeUser"],
                host=host,
                limit_seconds=180,
                LOADTEST_PATIENT_OFFSET="50",
            )
            booked = booked_for(data["hot_provider"])
            outcome = results.get("stampede", {})
            grab = stats.get("stampede book") or {}
            summary["stampede"] = {
                "users": args.stampede_users,
                "free_slots_seen": len(results.get("stampede_slots_seen", [])),
                "outcome": outcome,
                "booked_in_db": booked,
                "book_p50_ms": grab.get("50%"),
                "book_p95_ms": grab.get("95%"),
                "book_p99_ms": grab.get("99%"),
                "failures": sum(int(r["Failure Count"] or 0) for n, r in stats.items() if n != "Aggregated"),
                "overlaps": overlaps_now(),
                "samples": results.get("samples", []),
                "cpu_cores": sampler.cores(results.get("measure_started"), results.get("measure_ended")),
            }
            problems += [f"stampede: {p}" for p in stampede_problems(outcome, args.stampede_users, RUSH_SLOTS, booked)]
            if summary["stampede"]["failures"]:
                problems.append(f"stampede: {summary['stampede']['failures']} failed requests")
            problems += [f"stampede: {n} {w} overlaps" for w, n in summary["stampede"]["overlaps"].items() if n]

        if "two-hosts" in wanted:
            second = free_port()
            gunicorn(stack, second, args)
            celery(stack, "worker", "--concurrency=1", "-n", "lt-worker2@%h", name="celery-worker2")
            stats, results = run_locust(
                stack,
                "two-hosts",
                users=args.users,
                spawn_rate=args.spawn_rate,
                classes=["PatientUser", "DeskUser"],
                host=host,
                limit_seconds=args.two_host_seconds + 150,
                LOADTEST_MEASURE_SECONDS=str(args.two_host_seconds),
                LOADTEST_PATIENT_OFFSET="160",
                LOADTEST_HOSTS=f"{host},http://{LOOPBACK}:{second}",
            )
            figures = scenario_figures(stats, results)
            figures["ports"] = [port, second]
            figures["overlaps"] = overlaps_now()
            figures["cpu_cores"] = sampler.cores(results.get("measure_started"), results.get("measure_ended"))
            figures["cpu_ms_per_request"] = cpu_per_request(figures, stats)
            figures["book_server_ms"] = server_side_booking_ms(
                access_logs(run_dir), results.get("measure_started"), results.get("measure_ended")
            )
            if reminder_model() is not None:
                log("waiting for the reminder outbox to drain")
                figures["reminders"] = reminder_report(run_dir / "var", drain_reminders(timeout=60))
                if figures["reminders"]["duplicated"]:
                    problems.append(f"two hosts: {figures['reminders']['duplicated']} reminder sends duplicated")
                if figures["reminders"]["rows"].get("due_not_sent"):
                    problems.append(f"two hosts: {figures['reminders']['rows']['due_not_sent']} due reminders unsent")
            else:
                figures["reminders"] = "pending: booking.Reminder does not exist yet"
            summary["two_hosts"] = figures
            problems += check_mixed("two hosts", figures)
    finally:
        sampler.done.set()
        log("stopping gunicorn and Celery")
        stack.stop_all()
        from django.db import connections

        connections.close_all()

    summary["problems"] = problems
    summary["goals_missed"] = misses
    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(render_summary(summary))
    return 1 if problems or (args.strict and misses) else 0


def check_mixed(label: str, figures: dict[str, Any]) -> list[str]:
    problems = []
    if figures["failures"]:
        problems.append(f"{label}: {figures['failures']} failed requests, e.g. {figures['samples'][:2]}")
    problems += [f"{label}: {n} overlapping pairs per {what}" for what, n in figures["overlaps"].items() if n]
    if figures["conflicts_without_alternatives"]:
        problems.append(f"{label}: {figures['conflicts_without_alternatives']} 409 answers without alternatives")
    return problems


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.0f}"


def cpu_per_request(figures: dict[str, Any], stats: dict[str, dict[str, Any]]) -> dict[str, float]:
    """CPU milliseconds per request (all kinds) of the web tier and of PostgreSQL: what the stack
    costs whatever else the machine runs, so runs on a busy machine can still be compared."""
    requests = int((stats.get("Aggregated") or {}).get("Request Count") or 0)
    seconds = figures.get("measured_seconds") or 0.0
    cores = figures.get("cpu_cores") or {}
    if not requests or not seconds:
        return {}
    return {
        part: round(cores[part] * seconds * 1000 / requests, 2) for part in ("gunicorn", "postgresql") if part in cores
    }


def _cpu_line(figures: dict[str, Any]) -> str:
    parts = figures.get("cpu_cores") or {}
    line = "  CPU in the window (cores): " + (", ".join(f"{k} {v}" for k, v in parts.items()) or "not sampled")
    per_request = figures.get("cpu_ms_per_request") or {}
    if per_request:
        line += "; CPU ms per request: " + ", ".join(f"{k} {v}" for k, v in per_request.items())
    return line


def render_summary(summary: dict[str, Any]) -> str:
    workers = summary["gunicorn"]
    lines = [
        "",
        f"== make loadtest: same box, loopback, {summary['cpus']} CPUs; gunicorn {workers['workers']} workers"
        f" x {workers['threads']} thread(s) per instance; PostgreSQL + Redis; think time"
        f" {summary['think_time_s'][0]}-{summary['think_time_s'][1]} s; {summary['wall_seconds']} s ==",
    ]
    for key, title in (("scenario1", "Scenario 1"), ("two_hosts", "Two hosts")):
        figures = summary.get(key)
        if not figures:
            continue
        ports = (
            f" (ports {figures['ports'][0]} + {figures['ports'][1]}, 2 workers, 1 beat)" if "ports" in figures else ""
        )
        lines += [
            f"{title}{ports}: {figures['users_ready']} users, {figures['measured_seconds']:.0f} s measured",
            f"  bookings/s {figures['bookings_per_s']}   reads/s {figures['reads_per_s']}"
            f"   booking p50/p95/p99 {_ms(figures['book_p50_ms'])}/{_ms(figures['book_p95_ms'])}"
            f"/{_ms(figures['book_p99_ms'])} ms",
            f"  bookings {figures['bookings']} (by status {figures['book_status']})   failures {figures['failures']}"
            f"   overlaps provider {figures['overlaps']['provider']} room {figures['overlaps']['room']}",
        ]
        server = figures.get("book_server_ms") or {}
        lines.append(
            f"  booking inside gunicorn p50/p95/p99 {_ms(server.get('p50'))}/{_ms(server.get('p95'))}"
            f"/{_ms(server.get('p99'))} ms (the rest of locust's figure is waiting for a free worker)"
        )
        lines.append(_cpu_line(figures))
        reminders = figures.get("reminders")
        if isinstance(reminders, dict):
            lines.append(
                f"  reminders: rows {reminders['rows']}; gateway calls {reminders['gateway_calls']} for"
                f" {reminders['keys_sent']} keys; duplicated {reminders['duplicated']}"
            )
        elif reminders:
            lines.append(f"  reminders: {reminders}")
    stampede = summary.get("stampede")
    if stampede:
        outcome = stampede["outcome"]
        others = sum(v for k, v in outcome.items() if k.startswith("other") or k.endswith("without_alternatives"))
        lines += [
            f"Stampede: {stampede['users']} users, one provider, {stampede['free_slots_seen']} free slots seen",
            f"  winners {outcome.get('winners', 0)} (in the database {stampede['booked_in_db']})"
            f"   losers 409 with alternatives {outcome.get('losers_409_with_alternatives', 0)}"
            f"   5xx {outcome.get('server_errors', 0)}   other {others}"
            f"   failures {stampede['failures']}",
            f"  booking p50/p95/p99 {_ms(stampede['book_p50_ms'])}/{_ms(stampede['book_p95_ms'])}"
            f"/{_ms(stampede['book_p99_ms'])} ms   overlaps provider {stampede['overlaps']['provider']}"
            f" room {stampede['overlaps']['room']}",
            _cpu_line(stampede),
        ]
    verdict = "PASS" if not summary["problems"] else "FAIL"
    lines.append(f"Checks: {verdict}" + "".join(f"\n  - {p}" for p in summary["problems"]))
    goals = "all met" if not summary["goals_missed"] else "; ".join(summary["goals_missed"])
    lines.append(
        f"Goals (>= {GOAL_BOOKINGS_PER_S:.0f} bookings/s, booking p95 < {GOAL_BOOKING_P95_MS:.0f} ms): {goals}"
    )
    lines.append(f"Details: {summary['run_dir']}/summary.json")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
