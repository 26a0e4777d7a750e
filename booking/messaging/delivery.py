"""Sending the outbox: sweep due rows to the workers, then claim, re-check, render, send, mark.

Celery beat runs sweep_due every minute; it hands due rows to the broker by id after commit. The
task calls deliver: claim (one conditional UPDATE and a lease), re-check that the message still
makes sense (hold_back), issue the single-use manage link a message about a visit still to come
carries, render in the patient's language (texts.py, which only reads), send with the row's
idempotency key, mark sent (conditional on the claim still being ours). No ETA tasks: the row is
the schedule. docs/reminders.md has the reasons.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, models, transaction
from django.template import TemplateSyntaxError
from django.utils import timezone

from booking import services
from booking.messaging import sms, texts
from booking.messaging.ics import appointment_ics
from booking.messaging.policy import BEFORE_VISIT, OPT_OUT_KINDS, QUIET_KINDS, delivery_time, reachable
from booking.models import Appointment, Channel, MessageKind, OfferStatus, Reminder, ReminderStatus, Status
from clinic.models import Location
from patients.models import Patient, ReminderChannel

logger = logging.getLogger(__name__)

K = MessageKind
# E-mails that carry the visit as a calendar file (.ics), so it lands in the patient's calendar.
ICS_KINDS = (K.CONFIRMATION, K.CHANGE)


class SendError(Exception):
    """A message could not be sent."""


class TransientSendError(SendError):
    """Worth retrying later (gateway or network trouble)."""


class PermanentSendError(SendError):
    """Not worth retrying (refused address, no gateway, broken template)."""


# --- sweep and claim --------------------------------------------------------------------------


def batches(reminder_ids: list[int], size: int | None = None) -> list[list[int]]:
    """The ids in task-sized lists (REMINDER_TASK_BATCH), in order."""
    size = max(1, size or settings.REMINDER_TASK_BATCH)
    return [reminder_ids[at : at + size] for at in range(0, len(reminder_ids), size)]


def enqueue_all(reminder_ids: list[int]) -> None:
    """One send_reminders message per REMINDER_TASK_BATCH ids, through one producer (one broker
    connection). Each row is still claimed, sent and marked on its own (docs/decisions.md)."""
    from booking.tasks import send_reminders

    with send_reminders.app.producer_or_acquire() as producer:
        for batch in batches(reminder_ids):
            send_reminders.apply_async((batch,), producer=producer)


def sweep_due(
    now: datetime | None = None, *, enqueue: Callable[[list[int]], Any] | None = None, limit: int | None = None
) -> list[int]:
    """Hand every due row to the broker by id, after commit. Safe to run twice at once.

    Rows handed out are marked (lease_until) so the next sweeps skip them for
    REMINDER_REQUEUE_SECONDS; rows whose worker's lease ran out go back to pending.
    """
    now = now or timezone.now()
    limit = limit or settings.REMINDER_SWEEP_BATCH
    enqueue = enqueue or enqueue_all
    with transaction.atomic():
        # A row claimed this often keeps killing or failing its worker: stop the loop.
        Reminder.objects.due(now).filter(attempts__gte=settings.REMINDER_MAX_ATTEMPTS).update(
            status=ReminderStatus.FAILED,
            lease_until=None,
            last_error=f"gave up after {settings.REMINDER_MAX_ATTEMPTS} attempts",
            updated_at=now,
        )
        due = Reminder.objects.due(now).order_by("send_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)  # a second sweep takes the other rows
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            handed_out = now + timedelta(seconds=settings.REMINDER_REQUEUE_SECONDS)
            Reminder.objects.filter(pk__in=ids, status=ReminderStatus.PENDING).update(
                lease_until=handed_out, updated_at=now
            )
            Reminder.objects.filter(pk__in=ids, status=ReminderStatus.SENDING).update(
                status=ReminderStatus.PENDING,
                lease_until=handed_out,
                last_error="the worker's lease ran out",
                updated_at=now,
            )
            transaction.on_commit(lambda: enqueue(ids))
    return ids


# The claim, the read and the final write of every send are plain SQL: the ORM spent ~1 ms
# building each statement, ten times what the database takes to run it, and they run 10,000 times
# when a morning's reminders fall due together (measured: 4 ms -> 1.2 ms per send).
_CLAIM_SQL = """
UPDATE booking_reminder
   SET status = %s, lease_until = %s, attempts = attempts + 1, updated_at = %s
 WHERE id = %s AND attempts < %s
   AND ((status = %s AND send_at <= %s) OR (status = %s AND lease_until <= %s))
"""
_FINISH_COLUMNS = frozenset(
    {"status", "last_error", "lease_until", "updated_at", "send_at", "sent_at", "provider_message_id"}
)


def _execute(sql: str, params: list[Any]) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapt(p) if isinstance(p, datetime) else p for p in params])
        return cursor.rowcount


def claim(reminder_id: int, now: datetime | None = None) -> bool:
    """Take a due row for this worker with one conditional UPDATE; False if someone else has it.

    Claimable: pending and due, or sending with a lease that ran out (its worker died).
    """
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    params = [ReminderStatus.SENDING, lease_until, now, reminder_id, settings.REMINDER_MAX_ATTEMPTS]
    params += [ReminderStatus.PENDING, now, ReminderStatus.SENDING, now]
    return _execute(_CLAIM_SQL, params) == 1


def _in_model_order(model: type[models.Model], names: set[str]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields if field.attname in names]  # as from_db wants


# What sending reads, per model; everything else stays deferred (loaded on access, if ever).
_SEND_FIELDS: list[tuple[type[models.Model], str, list[str]]] = [
    (model, alias, _in_model_order(model, names))
    for model, alias, names in [
        (Reminder, "r", {"id", "appointment_id", "offer_id", "kind", "channel", "attempts", "generation"}),
        (Appointment, "a", {"id", "patient_id", "location_id", "series_id", "status", "start", "end", "updated_at"}),
        (Patient, "p", {"id", "first_name", "email", "phone", "preferred_language", "reminder_channel"}),
        (Location, "l", {"id", "name", "phone", "email", "address", "timezone"}),
    ]
]


def _from_db_value(value: Any) -> Any:
    """A datetime as the ORM would give it: aware UTC (SQLite hands back naive UTC)."""
    if isinstance(value, datetime) and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value


def _column(model: type[models.Model], attname: str) -> str:
    field = model._meta.get_field(attname)
    assert isinstance(field, models.Field) and field.column
    return field.column


@cache
def _load_sql(vendor: str) -> str:
    columns = ", ".join(
        f"{alias}.{connection.ops.quote_name(_column(model, attname))}"
        for model, alias, names in _SEND_FIELDS
        for attname in names
    )
    tables = {alias: connection.ops.quote_name(model._meta.db_table) for model, alias, _ in _SEND_FIELDS}
    return (
        f"SELECT {columns} FROM {tables['r']} r"  # noqa: S608 - names from the models' metadata
        f" JOIN {tables['a']} a ON a.id = r.appointment_id"
        f" JOIN {tables['p']} p ON p.id = a.patient_id"
        f" JOIN {tables['l']} l ON l.id = a.location_id"
        " WHERE r.id = %s"
    )


def _load_claimed(reminder_id: int) -> Reminder:
    """The claimed row with its appointment, patient and location, in one plain query."""
    with connection.cursor() as cursor:
        cursor.execute(_load_sql(connection.vendor), [reminder_id])
        row = cursor.fetchone()
    if row is None:  # not about an appointment: a waitlist offer's message (rare; the ORM will do)
        return Reminder.objects.select_related("offer__entry__patient", "offer__location").get(
            pk=reminder_id, offer__isnull=False
        )
    values = iter(row)
    loaded = [
        model.from_db(connection.alias, names, [_from_db_value(next(values)) for _ in names])
        for model, _, names in _SEND_FIELDS
    ]
    reminder, appointment = cast(Reminder, loaded[0]), cast(Appointment, loaded[1])
    appointment.patient, appointment.location = cast(Patient, loaded[2]), cast(Location, loaded[3])
    reminder.appointment = appointment
    return reminder


def _finish_claimed(reminder: Reminder, **values: Any) -> bool:
    """Write the outcome of a claim, only if the claim is still this worker's (same generation and
    attempt, still sending): a row armed again or re-claimed meanwhile is left as it is."""
    assert set(values) <= _FINISH_COLUMNS
    sets = ", ".join(f"{column} = %s" for column in values)
    sql = f"UPDATE booking_reminder SET {sets} WHERE id = %s AND status = %s AND generation = %s AND attempts = %s"  # noqa: S608 - fixed column names
    params = [*values.values(), reminder.pk, ReminderStatus.SENDING, reminder.generation, reminder.attempts]
    return _execute(sql, params) == 1


# --- sending ----------------------------------------------------------------------------------


def _send_email(reminder: Reminder, subject: str, body: str) -> str:
    patient, location = reminder.patient, reminder.location
    key = reminder.idempotency_key
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or "localhost"
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[patient.email],
        reply_to=[location.email] if location.email else None,
        # The same Message-ID on a repeat lets mail services and clients drop the second copy.
        headers={"X-Idempotency-Key": key, "Message-ID": f"<{key}@{domain}>"},
    )
    if reminder.kind in ICS_KINDS and reminder.appointment is not None:
        language = patient.preferred_language or "en"
        message.attach("appointment.ics", appointment_ics(reminder.appointment, language=language), "text/calendar")
    try:
        message.send()
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        raise PermanentSendError(f"e-mail refused: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientSendError(f"e-mail not sent: {exc.__class__.__name__}: {exc}") from exc
    return key


def _send_sms(reminder: Reminder, body: str) -> str:
    message = sms.SmsMessage(to=str(reminder.patient.phone), body=body, idempotency_key=reminder.idempotency_key)
    try:
        return sms.get_backend().send(message)
    except sms.TransientSmsError as exc:
        raise TransientSendError(str(exc)) from exc
    except sms.SmsError as exc:
        raise PermanentSendError(str(exc)) from exc


@dataclass(frozen=True)
class Verdict:
    """What to do with a claimed message instead of sending it: the row's new status and why."""

    status: str
    why: str
    send_at: datetime | None = None


def hold_back(reminder: Reminder, now: datetime) -> Verdict | None:
    """Why a claimed message must not go now (checked after the claim), or None to send it."""
    if reminder.offer_id:
        return _hold_back_offer(reminder, now)
    appointment = reminder.appointment
    assert appointment is not None  # the row's check constraint: an appointment or an offer
    patient = appointment.patient
    kind, state = reminder.kind, appointment.status
    if kind in BEFORE_VISIT:
        if state in (Status.CANCELLED, Status.EXPIRED):
            return Verdict(ReminderStatus.CANCELLED, f"the appointment is {Status(state).label.lower()}")
        if state != Status.BOOKED:
            return Verdict(ReminderStatus.SKIPPED, f"the appointment is {Status(state).label.lower()}")
    if kind == K.CANCELLATION and state != Status.CANCELLED:
        return Verdict(ReminderStatus.SKIPPED, "the appointment is not cancelled")
    if kind == K.AFTERCARE and state != Status.COMPLETED:
        return Verdict(ReminderStatus.SKIPPED, "the visit is not completed")
    if kind == K.SERIES_SUMMARY and not texts.upcoming_sessions(appointment, now).exists():
        return Verdict(ReminderStatus.SKIPPED, "no session of the series is still ahead")
    if kind in (*BEFORE_VISIT, K.CANCELLATION) and now >= appointment.start:
        return Verdict(ReminderStatus.SKIPPED, "the visit time has come")
    if kind in OPT_OUT_KINDS and patient.reminder_channel == ReminderChannel.NONE:
        return Verdict(ReminderStatus.SKIPPED, "the patient opted out of reminders")
    if not reachable(patient, reminder.channel):
        contact = "e-mail address" if reminder.channel == Channel.EMAIL else "mobile number"
        return Verdict(ReminderStatus.SKIPPED, f"no {contact} on file")
    if kind in QUIET_KINDS:
        before = appointment.start if kind in BEFORE_VISIT else None
        at = delivery_time(now, appointment.location.tz, now=now, before=before)
        if at is None:
            return Verdict(ReminderStatus.SKIPPED, "quiet hours last until the visit")
        if at > now:
            return Verdict(ReminderStatus.PENDING, "waiting for quiet hours to end", send_at=at)
    return None


def _hold_back_offer(reminder: Reminder, now: datetime) -> Verdict | None:
    """A waitlist offer's message goes only while the offer is open, outside quiet hours, before
    it runs out."""
    offer, patient = reminder.offer, reminder.patient
    assert offer is not None
    if offer.status != OfferStatus.OPEN:
        return Verdict(ReminderStatus.CANCELLED, f"the offer is {OfferStatus(offer.status).label.lower()}")
    if now >= offer.expires_at:
        return Verdict(ReminderStatus.CANCELLED, "the offer ran out before it could be sent")
    if patient.reminder_channel == ReminderChannel.NONE:
        return Verdict(ReminderStatus.SKIPPED, "the patient opted out of reminders")
    if not reachable(patient, reminder.channel):
        contact = "e-mail address" if reminder.channel == Channel.EMAIL else "mobile number"
        return Verdict(ReminderStatus.SKIPPED, f"no {contact} on file")
    at = delivery_time(now, offer.location.tz, now=now, before=offer.expires_at)
    if at is None:
        return Verdict(ReminderStatus.SKIPPED, "quiet hours last until the offer runs out")
    if at > now:
        return Verdict(ReminderStatus.PENDING, "waiting for quiet hours to end", send_at=at)
    return None


def _manage_token(reminder: Reminder, now: datetime) -> str | None:
    """A new single-use manage link for a message that carries one, else None. Each send makes
    its own (a retried send carries a new one; the earlier one stays valid until used or until
    the visit starts)."""
    if not texts.wants_manage_link(reminder, now):
        return None
    assert reminder.appointment is not None  # wants_manage_link: a message about a visit
    return services.issue_manage_link(appointment=reminder.appointment, now=now)


def deliver(reminder_id: int, *, now: datetime | None = None, retry_in: float | None = None) -> str:
    """Claim, re-check, render, send and mark one message. Returns what happened.

    On a transient failure the row waits `retry_in` seconds as pending and TransientSendError is
    raised for the caller to retry; with retry_in=None (no retries left) the row is failed.
    """
    now = now or timezone.now()
    if not claim(reminder_id, now):
        return "not_claimed"
    reminder = _load_claimed(reminder_id)

    def finish(status: str, why: str = "", **fields: Any) -> str:
        written = _finish_claimed(
            reminder, status=status, last_error=why[:2000], lease_until=None, updated_at=timezone.now(), **fields
        )
        if not written:
            logger.info("reminder %s: changed while being sent; left as it is now", reminder.pk)
            return f"{status}_claim_lost"
        return status

    verdict = hold_back(reminder, now)
    if verdict is not None:
        extra = {"send_at": verdict.send_at} if verdict.send_at else {}
        return finish(verdict.status, verdict.why, **extra)
    try:
        subject, body = texts.render(reminder, now=now, manage_token=_manage_token(reminder, now))
        if reminder.channel == Channel.EMAIL:
            message_id = _send_email(reminder, subject, body)
        else:
            message_id = _send_sms(reminder, body)
    except (PermanentSendError, texts.MissingText, TemplateSyntaxError) as exc:
        logger.warning("reminder %s failed: %s", reminder.pk, exc)
        return finish(ReminderStatus.FAILED, str(exc))
    except TransientSendError as exc:
        if retry_in is None:
            logger.warning("reminder %s failed after retries: %s", reminder.pk, exc)
            return finish(ReminderStatus.FAILED, str(exc))
        finish(ReminderStatus.PENDING, str(exc), send_at=now + timedelta(seconds=retry_in))
        raise
    return finish(ReminderStatus.SENT, sent_at=timezone.now(), provider_message_id=message_id[:200])
