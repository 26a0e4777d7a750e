"""Kill the Celery worker again and again while it sends: no reminder is lost, none is delivered twice.

A real `celery -A clinic worker` (prefork, one pool process, acks_late, reject_on_worker_lost,
prefetch 1) on a real redis-server on loopback, against this test's database; a fake SMS gateway
in this process that records every call and dedups by idempotency key. This test plays beat:
it sweeps every second. The worker is SIGKILLed KILLS times at random moments while messages
flow, alternately as a whole process group (then restarted) and as its single pool process
(which the worker replaces).

Raw calls are every call that reached the gateway, including calls whose worker was killed
before the gateway answered. Why one pool process: the unavoidable extra call is the one a kill
cuts short (before or after the gateway accepted it, before its row was marked sent). With one
process sending, a kill cuts at most one, so `raw calls - N <= kills` holds every time, not
just usually. Two sweeps or two workers racing for a row are covered in test_reminders_sending.
"""

import json
import os
import random
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from booking.messaging import delivery
from booking.models import Appointment, MessageKind, Reminder, ReminderStatus, Status
from clinic.models import Location, Provider, VisitKind, VisitType
from patients.models import Patient, ReminderChannel
from tests.booking import reminder_harness as harness

# Starts processes that race each other on a deadline: with `make test`'s `--dist loadgroup`, the
# tests of this group run one at a time on one xdist worker (see the Makefile).
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("processes")]

N = 300
KILLS = 6
DEADLINE_SECONDS = 100
SEED = 20261125


def make_due_reminders(count: int) -> list[int]:
    """`count` booked visits from tomorrow on, each with an SMS reminder due a minute ago."""
    location = Location.objects.create(name="Kill-test clinic", timezone="America/New_York", phone="555-0100")
    visit_type = VisitType.objects.create(
        slug="kill-test", name="Follow-up", kind=VisitKind.FOLLOW_UP, duration_minutes=30, needs_room=False
    )
    provider = Provider.objects.create(display_name="Dr Kill")
    patient = Patient.objects.create(
        first_name="Pat",
        last_name="Kill",
        date_of_birth=date(1980, 1, 1),
        phone="+16175550123",
        reminder_channel=ReminderChannel.SMS,
    )
    first = datetime.combine(timezone.now().date() + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    Appointment.objects.bulk_create(
        [
            Appointment(
                patient=patient,
                provider=provider,
                location=location,
                visit_type=visit_type,
                start=(start := first + timedelta(minutes=30 * n)),
                end=start + timedelta(minutes=30),
                block_start=start,
                block_end=start + timedelta(minutes=30),
                status=Status.BOOKED,
            )
            for n in range(count)
        ]
    )
    due = timezone.now() - timedelta(minutes=1)
    Reminder.objects.bulk_create(
        [
            Reminder(appointment_id=pk, kind=MessageKind.REMINDER_SHORT, channel="sms", send_at=due)
            for pk in Appointment.objects.filter(provider=provider).values_list("pk", flat=True)
        ]
    )
    return list(Reminder.objects.order_by("pk").values_list("pk", flat=True))


def test_killing_the_worker_loses_nothing_and_delivers_each_reminder_once(tmp_path, settings, record_property):
    # Short times so a run takes seconds; the worker gets the same ones below. This process
    # sweeps, so a message lost with a killed worker is handed out again after REQUEUE.
    settings.REMINDER_REQUEUE_SECONDS = 15
    broker = harness.redis_url()
    if broker is None:
        pytest.skip("redis-server is not installed (CI installs it)")
    ids = make_due_reminders(N)
    assert len(ids) == N
    queue = f"kill-test-{os.getpid()}"
    harness.purge(broker, queue)
    enqueue = harness.producer(broker, queue)
    rng = random.Random(SEED)  # noqa: S311 - test randomness
    kills: list[str] = []
    started = time.monotonic()

    with harness.FakeSmsGateway(latency=(0.005, 0.03), seed=SEED) as gateway:
        env = harness.worker_env(
            database_url=harness.database_url(connection.settings_dict),
            broker_url=broker,
            gateway_url=gateway.url,
            var_dir=tmp_path / "var",
            CELERY_VISIBILITY_TIMEOUT="10",
            REMINDER_LEASE_SECONDS="6",
            REMINDER_TASK_TIME_LIMIT="4",
            REMINDER_REQUEUE_SECONDS=str(settings.REMINDER_REQUEUE_SECONDS),
            CONN_MAX_AGE="60",
            SMS_GATEWAY_TIMEOUT="2",
        )
        worker = harness.CeleryWorker(env=env, queue=queue, concurrency=1, log_dir=tmp_path)
        last_sweep = 0.0

        def beat() -> None:
            nonlocal last_sweep
            if time.monotonic() - last_sweep >= 1.0:
                delivery.sweep_due(enqueue=enqueue)
                last_sweep = time.monotonic()

        timeline: list[str] = []

        def unsent() -> int:
            waiting = dict(
                Reminder.objects.exclude(status=ReminderStatus.SENT)
                .values_list("status")
                .annotate(n=Count("pk"))
                .values_list("status", "n")
            )
            timeline.append(f"{time.monotonic() - started:5.1f}s {gateway.accepted_calls} accepted, waiting {waiting}")
            return sum(waiting.values())

        try:
            worker.start()
            for number in range(KILLS):
                # Kill only while messages flow: wait for a new gateway call, then a random moment.
                seen = gateway.accepted_calls
                wait_until = time.monotonic() + 30
                while gateway.accepted_calls == seen and time.monotonic() < wait_until:
                    beat()
                    time.sleep(0.01)
                assert gateway.accepted_calls > seen, f"no progress before kill {number + 1}:\n{worker.tail()}"
                moment = time.monotonic() + rng.uniform(0.05, 0.5)
                while time.monotonic() < moment:
                    beat()
                    time.sleep(0.01)
                timeline.append(
                    f"{time.monotonic() - started:5.1f}s kill {number + 1}, {gateway.accepted_calls} accepted"
                )
                if number % 2 == 0:
                    worker.kill_group()
                    kills.append("group")
                    worker.start()
                else:
                    assert worker.kill_child() is not None, "no pool process to kill"
                    kills.append("child")
            while unsent() and time.monotonic() - started < DEADLINE_SECONDS:
                beat()
                time.sleep(0.5)
        finally:
            worker.stop()

        sent = Reminder.objects.filter(status=ReminderStatus.SENT).count()
        lost = N - sent
        expected_keys = {f"reminder-{pk}" for pk in ids}
        delivered_keys = set(gateway.deliveries)
        repeats = gateway.repeated_keys()
        max_attempts = Reminder.objects.aggregate(m=Max("attempts"))["m"]
        result = {
            "reminders": N,
            "kills": len(kills),
            "kinds": kills,
            "lost": lost,
            "unique_deliveries": len(delivered_keys),
            "raw_calls": gateway.raw_calls,
            "accepted_calls": gateway.accepted_calls,
            "abandoned_calls": gateway.abandoned,
            "keys_called_twice": len(repeats),
            "max_attempts": max_attempts,
            "database": connection.vendor,
            "seconds": round(time.monotonic() - started, 1),
        }
        (tmp_path / "timeline.txt").write_text("\n".join(timeline))
        record_property("kill_test", json.dumps(result))
        print(f"\nreminder kill test: {json.dumps(result)}")

        stuck = list(
            Reminder.objects.exclude(status=ReminderStatus.SENT).values(
                "pk", "status", "send_at", "lease_until", "attempts", "generation", "last_error"
            )
        )
        assert lost == 0, (
            f"{lost} reminders not sent: {result}\nnow {timezone.now()}\n{stuck}\n"
            + "\n".join(timeline[-15:])
            + f"\n{worker.tail()}"
        )
        assert delivered_keys == expected_keys, result
        assert gateway.raw_calls - N <= len(kills), (result, repeats)
        assert len(kills) >= 5 and {"group", "child"} <= set(kills)
        assert max_attempts <= len(kills) + 2, result
