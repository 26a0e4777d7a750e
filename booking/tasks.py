# mypy: disable-error-code="call-arg"
# celery-types leaves apply_async's message options out (`retries=` below); a test reads that
# call's line as it is, so the gap is named here rather than with an ignore on the line.
"""Thin Celery tasks: they take ids (or nothing), call one service, and are safe to run twice.

No task is scheduled with an ETA or countdown for its timing: the outbox row is the schedule and
beat's sweep hands due rows out. The one countdown is a failed send's retry, capped at
REMINDER_RETRY_BACKOFF_MAX, far below the broker's visibility timeout; if that retry is lost,
the sweep finds the row again.
"""

import time
from collections import Counter
from typing import Any

from celery import shared_task
from celery.signals import task_postrun
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import connections

from booking import services
from booking.messaging import delivery


@shared_task(name="booking.expire_holds")
def expire_holds() -> int:
    """Release holds that ran out, so their slots show as free again."""
    return services.expire_holds()


@shared_task(name="booking.expire_waitlist_offers")
def expire_waitlist_offers() -> int:
    """Close waitlist offers that ran out and offer their times to the next in line (every minute)."""
    return services.expire_waitlist_offers()


@shared_task(name="booking.sweep_reminders")
def sweep_reminders() -> int:
    """Hand every due message to the workers (beat runs this every minute)."""
    return len(delivery.sweep_due())


@shared_task(
    bind=True,
    name="booking.send_reminder",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.REMINDER_MAX_RETRIES,
    retry_backoff=settings.REMINDER_RETRY_BACKOFF,
    retry_backoff_max=settings.REMINDER_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    time_limit=settings.REMINDER_TASK_TIME_LIMIT,
)
def send_reminder(self, reminder_id: int) -> str:
    """Send one message; a transient failure retries with exponential backoff and jitter.

    The backoff is computed here (as Celery's autoretry would) so the row can wait the same
    time as pending: a retry lost with a worker is then picked up by the sweep.
    """
    delay = retry_delay(self.request.retries)
    try:
        return delivery.deliver(reminder_id, retry_in=delay)
    except delivery.TransientSendError as exc:
        raise self.retry(exc=exc, countdown=delay) from exc


def retry_delay(retries: int) -> int | None:
    """Seconds before retry number `retries + 1` of a failed send; None when none is left."""
    if retries >= settings.REMINDER_MAX_RETRIES:
        return None
    return max(
        1,
        get_exponential_backoff_interval(
            factor=settings.REMINDER_RETRY_BACKOFF,
            retries=retries,
            maximum=settings.REMINDER_RETRY_BACKOFF_MAX,
            full_jitter=True,
        ),
    )


@shared_task(
    name="booking.send_reminders",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.REMINDER_TASK_TIME_LIMIT,
)
def send_reminders(reminder_ids: list[int]) -> dict[str, int]:
    """Send the messages one sweep handed out together, one after another.

    Each is claimed, re-checked, sent and marked on its own, exactly as send_reminder does, so a
    killed worker cuts short only the message it was sending, and a redelivered batch skips the
    rows already sent (their claim fails). What this saves is Celery's cost per message: one
    broker round trip, ack and task set-up per batch instead of per row (docs/decisions.md).

    A transient failure hands that row to send_reminder's retries, with the same backoff. Past a
    third of the time limit the rest are published as a new batch rather than run into it.
    """
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + settings.REMINDER_TASK_TIME_LIMIT / 3
    for position, reminder_id in enumerate(reminder_ids):
        if time.monotonic() > deadline:
            rest = reminder_ids[position:]
            delivery.enqueue_all(rest)
            outcomes["handed_on"] += len(rest)
            break
        delay = retry_delay(0)
        try:
            outcomes[delivery.deliver(reminder_id, retry_in=delay)] += 1
        except delivery.TransientSendError:
            if delay is None:  # not reached: with no retry left deliver() fails the row instead
                raise
            # The row waits as pending until then; the retry carries on send_reminder's count.
            send_reminder.apply_async((reminder_id,), countdown=delay, retries=1)
            outcomes["retrying"] += 1
    return dict(outcomes)


@task_postrun.connect
def drop_broken_connections(**_: Any) -> None:
    """Workers reuse database connections (CELERY_DB_REUSE_MAX); one that failed is not reused."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and connection.errors_occurred and not connection.is_usable():
            connection.close()
