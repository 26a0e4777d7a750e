"""Patient messages through a transactional outbox: rows written with the booking, sent by Celery.

Writing (inside the booking service's transaction, so a rolled-back booking leaves nothing):
  schedule_for (book, confirm a hold, each series session), reschedule_for (move),
  cancel_for (cancel), aftercare_for (complete), series_summary_for (book a series).
Sending: Celery beat runs sweep_due every minute; it hands due rows to the broker by id after
commit. The task calls deliver: claim (one conditional UPDATE and a lease), re-check that the
message still makes sense, render in the patient's language, send with the row's idempotency
key, mark sent (conditional on the claim still being ours). No ETA tasks: the row is the schedule.

The policy (docs/reminders.md has the reasons):
- Reminders (REMINDER_SCHEDULE) count whole days in the location's wall time ("24 h before" a
  09:00 visit is 09:00 the day before, 23 or 25 elapsed hours across a DST change); any remaining
  hours are elapsed time. A reminder whose time has passed at booking is recorded as skipped.
- Quiet hours (REMINDER_QUIET_HOURS, location time) hold back reminders, aftercare and waitlist
  offers until they end. If that is not before the visit, the message goes just before the
  quiet hours begin, or is skipped if that time has passed. Receipts of a change to the booking
  (confirmation, change, cancellation, series summary) go at once.
- Channels: reminders use the channel the schedule names when the patient takes it, else the
  channel the patient takes. `none` stops reminders and waitlist offers only; receipts and
  aftercare still go, by e-mail (by SMS when there is no address).
- Texts: MessageTemplate for the location, else the clinic default, else the built-in text in
  templates/emails/; always in the patient's language. Templates see plain values only.
"""

from __future__ import annotations

import logging
import re
import smtplib
import time as time_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, models, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.signals import post_delete, post_save
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.urls import reverse
from django.utils import dateformat, timezone, translation

from booking.messaging import sms
from booking.messaging.aftercare import aftercare_paragraphs
from booking.messaging.ics import appointment_ics
from booking.models import (
    Appointment,
    Channel,
    MessageKind,
    MessageTemplate,
    OfferStatus,
    Reminder,
    ReminderStatus,
    Status,
    WaitlistOffer,
)
from booking.scheduling import waitlist as waitlist_rules
from clinic.models import Location, VisitKind
from patients.models import Language, Patient, ReminderChannel

logger = logging.getLogger(__name__)

K = MessageKind
REMINDERS = (K.REMINDER_LONG, K.REMINDER_SHORT)
# Held back by quiet hours; the rest answer a change to the booking and go at once.
QUIET_KINDS = (K.REMINDER_LONG, K.REMINDER_SHORT, K.AFTERCARE, K.WAITLIST_OFFER)
# About a visit still to come: pointless once it started or stopped being booked.
BEFORE_VISIT = (K.CONFIRMATION, K.REMINDER_LONG, K.REMINDER_SHORT, K.CHANGE, K.WAITLIST_OFFER)
# E-mails that carry the visit as a calendar file (.ics), so it lands in the patient's calendar.
ICS_KINDS = (K.CONFIRMATION, K.CHANGE)
# Stopped by reminder_channel = none.
OPT_OUT_KINDS = (K.REMINDER_LONG, K.REMINDER_SHORT, K.WAITLIST_OFFER)
CHANNEL_ORDER = (Channel.EMAIL, Channel.SMS)
OPEN = (ReminderStatus.PENDING, ReminderStatus.SENDING)

DEFAULT_TEXTS_DIR = Path(settings.BASE_DIR) / "templates" / "emails"
DATE_FORMATS = {"en": "l, F j, Y", "es": r"l j \d\e F \d\e Y"}
TIME_FORMATS = {"en": "g:i A T", "es": "G:i T"}
# What a template may use (the admin shows this); all plain text, never model instances.
CONTEXT_HELP = {
    "patient_first_name": "The patient's first name",
    "date": "The visit's local date, e.g. Monday, December 7, 2026",
    "time": "The visit's local time with the zone, e.g. 9:00 AM EST",
    "clinic_name": "The location's name",
    "clinic_phone": "The location's phone number",
    "clinic_email": "The location's e-mail address",
    "clinic_address": "The location's address (several lines)",
    "manage_url": "Where the patient sees, moves or cancels the visit: a single-use link to this "
    "appointment in confirmations, reminders and change messages; their appointments page otherwise; "
    "in a waitlist offer, the link to take the time",
    "aftercare": "Aftercare only: the location's aftercare advice in the patient's language (admin: Locations)",
    "sessions": "Series summary only: a list, each with .date and .time",
    "offer_expires": "Waitlist offer only: the local time the offer closes, e.g. 11:00 AM EST",
}


class SendError(Exception):
    """A message could not be sent."""


class TransientSendError(SendError):
    """Worth retrying later (gateway or network trouble)."""


class PermanentSendError(SendError):
    """Not worth retrying (refused address, no gateway, broken template)."""


# --- channels ---------------------------------------------------------------------------------


def _reachable(patient: Patient, channel: str) -> bool:
    return bool(patient.email) if channel == Channel.EMAIL else bool(patient.phone)


def chosen_channels(patient: Patient) -> list[str]:
    """The channels the patient chose and can be reached on, e-mail first."""
    wanted = {
        ReminderChannel.EMAIL: {Channel.EMAIL},
        ReminderChannel.SMS: {Channel.SMS},
        ReminderChannel.BOTH: {Channel.EMAIL, Channel.SMS},
    }.get(patient.reminder_channel, set())
    return [c for c in CHANNEL_ORDER if c in wanted and _reachable(patient, c)]


def reminder_channel(patient: Patient, configured: str) -> str | None:
    """The channel for a scheduled reminder: the configured one if the patient takes it, else the
    one they take (or can be reached on); None when they opted out of reminders."""
    if patient.reminder_channel == ReminderChannel.NONE:
        return None
    chosen = chosen_channels(patient)
    if configured in chosen:
        return configured
    fallback = chosen or [c for c in CHANNEL_ORDER if _reachable(patient, c)]
    return fallback[0] if fallback else None


def offer_channels(patient: Patient) -> list[str]:
    """Channels for a waitlist offer: like a reminder (opt-out stops it), on every channel the
    patient chose, else the first they can be reached on."""
    if patient.reminder_channel == ReminderChannel.NONE:
        return []
    return chosen_channels(patient) or [c for c in CHANNEL_ORDER if _reachable(patient, c)][:1]


def receipt_channels(patient: Patient) -> list[str]:
    """Channels for receipts and aftercare: the chosen ones; without any, one the patient can be
    reached on (e-mail first), since these record a change to their care rather than remind."""
    chosen = chosen_channels(patient)
    return chosen or [c for c in CHANNEL_ORDER if _reachable(patient, c)][:1]


# --- time -------------------------------------------------------------------------------------


def wall_clock_before(start: datetime, offset: timedelta, tz: ZoneInfo) -> datetime:
    """`offset` before `start`: whole days in local wall time, the remainder as elapsed time.

    A wall time that does not exist (spring gap) moves forward by the gap; an ambiguous one
    (autumn) is its first occurrence.
    """
    days = offset.days
    rest = offset - timedelta(days=days)
    local = timezone.localtime(start, tz).replace(tzinfo=None) - timedelta(days=days)
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC) - rest


def _quiet_period(at: datetime, tz: ZoneInfo, quiet: tuple[time, time]) -> tuple[datetime, datetime] | None:
    """The quiet period containing `at`, as UTC instants [start, end); None if `at` is not quiet."""
    begin, end = quiet
    local = timezone.localtime(at, tz)
    day, now_time = local.date(), local.time()

    def instant(on: date, clock: time) -> datetime:
        return datetime.combine(on, clock, tzinfo=tz).astimezone(UTC)

    if begin < end:  # within one day, e.g. 12:00-13:00
        if begin <= now_time < end:
            return instant(day, begin), instant(day, end)
        return None
    if now_time >= begin:  # overnight, evening part
        return instant(day, begin), instant(day + timedelta(days=1), end)
    if now_time < end:  # overnight, morning part
        return instant(day - timedelta(days=1), begin), instant(day, end)
    return None


def delivery_time(due: datetime, tz: ZoneInfo, *, now: datetime, before: datetime | None = None) -> datetime | None:
    """When a message due at `due` may go out: not before now, not in quiet hours, and (for a
    message about a visit) before `before`. None when no such time is left."""
    quiet_hours = settings.REMINDER_QUIET_HOURS
    at = max(due, now)
    period = _quiet_period(at, tz, quiet_hours) if quiet_hours else None
    if period is not None:
        quiet_start, quiet_end = period
        if before is None or quiet_end < before:
            at = quiet_end
        else:  # waiting would reach the visit: go just before the quiet hours begin, if still ahead
            at = quiet_start - timedelta(minutes=1)
            if at < now:
                return None
    if before is not None and at >= before:
        return None
    return at


# --- planning rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    kind: str
    channel: str
    send_at: datetime
    status: str = ReminderStatus.PENDING
    note: str = ""


def _hours(offset: timedelta) -> str:
    return f"{offset.total_seconds() / 3600:g} h"


def plan_reminders(appointment: Appointment, *, now: datetime) -> list[Planned]:
    """The scheduled reminders for a booked appointment, as the policy places them."""
    patient, tz = appointment.patient, appointment.location.tz
    planned: list[Planned] = []
    for kind, configured, offset in settings.REMINDER_SCHEDULE:
        channel = reminder_channel(patient, configured)
        if channel is None or any(p.kind == kind and p.channel == channel for p in planned):
            continue
        due = wall_clock_before(appointment.start, offset, tz)
        if due <= now:
            note = f"booked less than {_hours(offset)} before the visit"
            planned.append(Planned(kind, channel, due, ReminderStatus.SKIPPED, note))
            continue
        at = delivery_time(due, tz, now=now, before=appointment.start)
        if at is None:
            planned.append(Planned(kind, channel, due, ReminderStatus.SKIPPED, "quiet hours last until the visit"))
        else:
            planned.append(Planned(kind, channel, at))
    return planned


def _receipts(appointment: Appointment, kind: str, now: datetime) -> list[Planned]:
    return [Planned(kind, channel, now) for channel in receipt_channels(appointment.patient)]


def _apply(appointment: Appointment, planned: Iterable[Planned], now: datetime, *, new: bool = False) -> list[Reminder]:
    """Create the planned rows, or arm existing ones again with the planned time.

    A row already sent is armed again (new generation, so a new idempotency key) only for a
    change receipt, or for a reminder whose new time is still ahead; a confirmation is never
    sent twice. A row a worker is sending now is armed again too: its worker's mark-sent no
    longer matches, and the message goes again with the new time.
    """
    planned = list(planned)
    if not planned:
        return []
    # A row created in this transaction has no messages yet: no need to ask.
    existing = {} if new else {(r.kind, r.channel): r for r in Reminder.objects.filter(appointment=appointment)}
    new_rows = []
    for plan in planned:
        row = existing.get((plan.kind, plan.channel))
        if row is None:
            new_rows.append(
                Reminder(
                    appointment=appointment,
                    kind=plan.kind,
                    channel=plan.channel,
                    send_at=plan.send_at,
                    status=plan.status,
                    last_error=plan.note,
                )
            )
            continue
        if row.status == ReminderStatus.SENT:
            again = plan.kind == K.CHANGE or (plan.kind in REMINDERS and plan.status == ReminderStatus.PENDING)
            if not again:
                continue
        used = row.attempts > 0 or row.status in (ReminderStatus.SENDING, ReminderStatus.SENT)
        Reminder.objects.filter(pk=row.pk).update(
            send_at=plan.send_at,
            status=plan.status,
            last_error=plan.note,
            lease_until=None,
            attempts=0,
            generation=F("generation") + (1 if used else 0),
            sent_at=None,
            provider_message_id="",
            updated_at=now,
        )
    return Reminder.objects.bulk_create(new_rows) if new_rows else []


def schedule_for(
    appointment: Appointment, *, now: datetime | None = None, confirmation: bool = True, new: bool = False
) -> None:
    """A booked appointment's confirmation and reminders; call inside the booking's transaction.
    `new`: the appointment was created in this transaction (so it has no message rows yet)."""
    if appointment.status != Status.BOOKED:
        return  # holds get theirs when confirmed
    now = now or timezone.now()
    planned = _receipts(appointment, K.CONFIRMATION, now) if confirmation else []
    _apply(appointment, planned + plan_reminders(appointment, now=now), now, new=new)


def reschedule_for(appointment: Appointment, *, now: datetime | None = None) -> None:
    """After a move: reminders follow the new time, and the patient is told of the change (unless
    the confirmation has not gone yet: it will carry the new time)."""
    if appointment.status != Status.BOOKED:
        return
    now = now or timezone.now()
    planned = plan_reminders(appointment, now=now)
    unsent_confirmations = set(
        Reminder.objects.filter(
            appointment=appointment, kind=K.CONFIRMATION, status=ReminderStatus.PENDING
        ).values_list("channel", flat=True)
    )
    planned += [p for p in _receipts(appointment, K.CHANGE, now) if p.channel not in unsent_confirmations]
    _apply(appointment, planned, now)
    # Reminders the plan no longer has (the patient changed channel or opted out) stop here.
    keep = [Q(kind=p.kind, channel=p.channel) for p in planned]
    stale = Reminder.objects.filter(appointment=appointment, kind__in=REMINDERS, status=ReminderStatus.PENDING)
    for wanted in keep:
        stale = stale.exclude(wanted)
    stale.update(status=ReminderStatus.CANCELLED, last_error="no longer planned", lease_until=None, updated_at=now)


def cancel_for(appointment: Appointment, *, now: datetime | None = None) -> None:
    """After a cancellation: nothing still waiting goes out, and the patient is told (if they were
    ever told of the visit: a released hold gets no message)."""
    now = now or timezone.now()
    rows = Reminder.objects.filter(appointment=appointment)
    told = rows.exists()
    # A row a worker holds now is left to it: the task re-checks the appointment before sending.
    rows.filter(status=ReminderStatus.PENDING).update(
        status=ReminderStatus.CANCELLED, last_error="appointment cancelled", lease_until=None, updated_at=now
    )
    if told:
        _apply(appointment, _receipts(appointment, K.CANCELLATION, now), now)


def aftercare_for(appointment: Appointment, *, now: datetime | None = None) -> None:
    """After a completed procedure visit: the aftercare advice, outside quiet hours."""
    now = now or timezone.now()
    Reminder.objects.filter(appointment=appointment, kind__in=BEFORE_VISIT, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.SKIPPED, last_error="the visit took place", lease_until=None, updated_at=now
    )
    if appointment.visit_type.kind != VisitKind.PROCEDURE:
        return
    at = delivery_time(now, appointment.location.tz, now=now) or now
    planned = [Planned(K.AFTERCARE, channel, at) for channel in receipt_channels(appointment.patient)]
    _apply(appointment, planned, now)


def series_summary_for(first_session: Appointment, *, now: datetime | None = None) -> None:
    """One message listing a series' upcoming sessions, kept on the first session booked with it."""
    now = now or timezone.now()
    _apply(first_session, _receipts(first_session, K.SERIES_SUMMARY, now), now)


def waitlist_offer_for(offer: WaitlistOffer, *, channels: Iterable[str], send_at: datetime) -> list[Reminder]:
    """The offer's message on each channel; call inside the transaction that makes the offer."""
    rows = [
        Reminder(offer=offer, kind=K.WAITLIST_OFFER, channel=channel, send_at=send_at, status=ReminderStatus.PENDING)
        for channel in channels
    ]
    return Reminder.objects.bulk_create(rows)


def close_offer_messages(offer_ids: Iterable[int], *, why: str, now: datetime | None = None) -> None:
    """Offers that closed (taken, lost, ran out, withdrawn): their unsent messages stay unsent."""
    Reminder.objects.filter(offer_id__in=list(offer_ids), status=ReminderStatus.PENDING).update(
        status=ReminderStatus.CANCELLED, last_error=why[:2000], lease_until=None, updated_at=now or timezone.now()
    )


def resend(reminder: Reminder, *, now: datetime | None = None) -> bool:
    """Staff: send a message again (a new generation, so a gateway will not drop it as a repeat)."""
    now = now or timezone.now()
    return bool(
        Reminder.objects.filter(pk=reminder.pk)
        .exclude(status=ReminderStatus.SENDING)
        .update(
            status=ReminderStatus.PENDING,
            send_at=now,
            lease_until=None,
            attempts=0,
            generation=F("generation") + 1,
            sent_at=None,
            last_error="",
            provider_message_id="",
            updated_at=now,
        )
    )


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


@cache
def _load_sql(vendor: str) -> str:
    columns = ", ".join(
        f"{alias}.{connection.ops.quote_name(model._meta.get_field(attname).column)}"
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
    reminder, appointment, patient, location = (
        model.from_db(connection.alias, names, [_from_db_value(next(values)) for _ in names])
        for model, _, names in _SEND_FIELDS
    )
    appointment.patient, appointment.location = patient, location
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


# --- texts ------------------------------------------------------------------------------------

_ENGINE = Engine(autoescape=False)  # plain text: no HTML escaping of "&" in a clinic's name


@lru_cache(maxsize=512)
def _compile(text: str) -> Template:
    return _ENGINE.from_string(text)


def _split_subject(text: str) -> tuple[str, str]:
    first, _, rest = text.partition("\n")
    if first.startswith("Subject:"):
        return first.removeprefix("Subject:").strip(), rest.lstrip("\n")
    return "", text


@cache
def default_texts() -> dict[tuple[str, str, str], tuple[str, str]]:
    """The built-in texts: templates/emails/<kind>.<channel>.<language>.txt -> (subject, body)."""
    texts = {}
    for kind in K.values:
        for channel in Channel.values:
            for language in Language.values:
                path = DEFAULT_TEXTS_DIR / f"{kind}.{channel}.{language}.txt"
                if path.exists():
                    texts[(kind, channel, language)] = _split_subject(path.read_text(encoding="utf-8"))
    return texts


def seed_message_templates(template_model: type[MessageTemplate] = MessageTemplate) -> int:
    """Create the clinic-default templates that do not exist yet, from the built-in texts."""
    have = set(template_model.objects.filter(location__isnull=True).values_list("kind", "channel", "language"))
    rows = [
        template_model(kind=kind, channel=channel, language=language, subject=subject, body=body)
        for (kind, channel, language), (subject, body) in sorted(default_texts().items())
        if (kind, channel, language) not in have
    ]
    template_model.objects.bulk_create(rows)
    return len(rows)


_templates: dict[tuple[int | None, str, str, str], tuple[str, str]] = {}
_templates_loaded_at = float("-inf")


def clear_template_cache(**_: Any) -> None:
    """Forget the loaded templates (on save in this process; other processes wait out the TTL)."""
    global _templates_loaded_at
    _templates_loaded_at = float("-inf")


def _active_templates() -> dict[tuple[int | None, str, str, str], tuple[str, str]]:
    """Every active template, loaded once per REMINDER_TEMPLATE_CACHE_SECONDS per process; read
    fresh inside a transaction, which may itself have changed them."""
    global _templates, _templates_loaded_at
    fresh = connection.in_atomic_block
    if fresh or time_module.monotonic() - _templates_loaded_at >= settings.REMINDER_TEMPLATE_CACHE_SECONDS:
        loaded = {
            (location_id, kind, channel, language): (subject, body)
            for location_id, kind, channel, language, subject, body in MessageTemplate.objects.filter(
                active=True
            ).values_list("location_id", "kind", "channel", "language", "subject", "body")
        }
        if fresh:
            return loaded
        _templates, _templates_loaded_at = loaded, time_module.monotonic()
    return _templates


post_save.connect(clear_template_cache, sender=MessageTemplate, dispatch_uid="reminders-template-saved")
post_delete.connect(clear_template_cache, sender=MessageTemplate, dispatch_uid="reminders-template-deleted")


def find_text(kind: str, channel: str, language: str, location_id: int | None) -> tuple[str, str]:
    """(subject, body) source: the location's template, the clinic default, the built-in text; in
    the patient's language first, then English."""
    templates = _active_templates()
    for lang in [language] if language == "en" else [language, "en"]:
        for source in (
            templates.get((location_id, kind, channel, lang)),
            templates.get((None, kind, channel, lang)),
            default_texts().get((kind, channel, lang)),
        ):
            if source is not None:
                return source
    raise PermanentSendError(f"no text for {kind} by {channel}")


def format_local(local: datetime, formats: dict[str, str], language: str) -> str:
    return dateformat.format(local, formats.get(language, formats["en"]))


# Messages about one visit still to come carry a single-use link to manage that visit.
LINK_KINDS = (K.CONFIRMATION, K.REMINDER_LONG, K.REMINDER_SHORT, K.CHANGE)


def manage_url(token: str | None = None) -> str:
    """The patient's appointments page, or with a token the single-use link to one appointment."""
    if token:
        return f"{settings.SITE_URL}{reverse('booking:manage', args=[token])}"
    return f"{settings.SITE_URL}{settings.REMINDER_MANAGE_PATH}"


def _upcoming_sessions(appointment: Appointment, now: datetime) -> QuerySet[Appointment]:
    if not appointment.series_id:
        return Appointment.objects.none()
    return Appointment.objects.filter(series_id=appointment.series_id, status=Status.BOOKED, start__gt=now)


def message_context(
    appointment: Appointment, kind: str, language: str, *, now: datetime, manage_token: str | None = None
) -> dict[str, Any]:
    """The plain values a template may use; no visit type, provider, notes or procedure details."""
    location: Location = appointment.location
    tz = location.tz
    with translation.override(language):
        local = timezone.localtime(appointment.start, tz)
        context: dict[str, Any] = {
            "patient_first_name": appointment.patient.first_name,
            "date": format_local(local, DATE_FORMATS, language),
            "time": format_local(local, TIME_FORMATS, language),
            "clinic_name": location.name,
            "clinic_phone": location.phone,
            "clinic_email": location.email,
            "clinic_address": location.address.strip(),
            "manage_url": manage_url(manage_token),
            "sessions": [],
            "aftercare": "\n\n".join(aftercare_paragraphs(location, language)) if kind == K.AFTERCARE else "",
        }
        if kind == K.SERIES_SUMMARY:
            upcoming = _upcoming_sessions(appointment, now).order_by("start")
            context["sessions"] = [
                {
                    "date": format_local(timezone.localtime(a.start, tz), DATE_FORMATS, language),
                    "time": format_local(timezone.localtime(a.start, tz), TIME_FORMATS, language),
                }
                for a in upcoming
            ]
    return context


def render_text(subject: str, body: str, context: dict[str, Any]) -> tuple[str, str]:
    """Render a template's subject and body; raises TemplateSyntaxError for a broken one."""
    rendered_subject = " ".join(_compile(subject).render(Context(context)).split())
    rendered_body = _compile(body).render(Context(context))
    rendered_body = re.sub(r"\n{3,}", "\n\n", rendered_body).strip() + "\n"
    return rendered_subject, rendered_body


def offer_context(offer: WaitlistOffer, language: str) -> dict[str, Any]:
    """A waitlist offer's values: the offered time and place, and the link to take it (as
    manage_url, so one template text serves); no visit type, provider or clinical detail."""
    location: Location = offer.location
    with translation.override(language):
        local = timezone.localtime(offer.start, location.tz)
        expires = timezone.localtime(offer.expires_at, location.tz)
        link = waitlist_rules.offer_url(offer.token_nonce)
        return {
            "patient_first_name": offer.entry.patient.first_name,
            "date": format_local(local, DATE_FORMATS, language),
            "time": format_local(local, TIME_FORMATS, language),
            "clinic_name": location.name,
            "clinic_phone": location.phone,
            "clinic_email": location.email,
            "clinic_address": location.address.strip(),
            "manage_url": link,
            "offer_url": link,
            "offer_expires": format_local(expires, TIME_FORMATS, language),
            "sessions": [],
        }


def render(reminder: Reminder, *, now: datetime | None = None) -> tuple[str, str]:
    """The message's subject (e-mail) and body, in the patient's language."""
    if reminder.offer_id:
        patient = reminder.patient
        language = patient.preferred_language or "en"
        subject, body = find_text(reminder.kind, reminder.channel, language, reminder.offer.location_id)
        return render_text(subject, body, offer_context(reminder.offer, language))
    appointment = reminder.appointment
    language = appointment.patient.preferred_language or "en"
    subject, body = find_text(reminder.kind, reminder.channel, language, appointment.location_id)
    now = now or timezone.now()
    token = None
    if reminder.kind in LINK_KINDS and appointment.start > now:
        # A new single-use link each time the message is rendered for sending (a retried send
        # carries a new one; the earlier one stays valid until used or until the visit starts).
        from booking.services import manage_links  # the services import this module

        token = manage_links.issue_manage_link(appointment=appointment, now=now)
    context = message_context(appointment, reminder.kind, language, now=now, manage_token=token)
    return render_text(subject, body, context)


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
    if reminder.kind in ICS_KINDS and reminder.appointment_id is not None:
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
    status: str
    why: str
    send_at: datetime | None = None


def hold_back(reminder: Reminder, now: datetime) -> Verdict | None:
    """Why a claimed message must not go now (checked after the claim), or None to send it."""
    if reminder.offer_id:
        return _hold_back_offer(reminder, now)
    appointment, patient = reminder.appointment, reminder.appointment.patient
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
    if kind == K.SERIES_SUMMARY and not _upcoming_sessions(appointment, now).exists():
        return Verdict(ReminderStatus.SKIPPED, "no session of the series is still ahead")
    if kind in (*BEFORE_VISIT, K.CANCELLATION) and now >= appointment.start:
        return Verdict(ReminderStatus.SKIPPED, "the visit time has come")
    if kind in OPT_OUT_KINDS and patient.reminder_channel == ReminderChannel.NONE:
        return Verdict(ReminderStatus.SKIPPED, "the patient opted out of reminders")
    if not _reachable(patient, reminder.channel):
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
    if offer.status != OfferStatus.OPEN:
        return Verdict(ReminderStatus.CANCELLED, f"the offer is {OfferStatus(offer.status).label.lower()}")
    if now >= offer.expires_at:
        return Verdict(ReminderStatus.CANCELLED, "the offer ran out before it could be sent")
    if patient.reminder_channel == ReminderChannel.NONE:
        return Verdict(ReminderStatus.SKIPPED, "the patient opted out of reminders")
    if not _reachable(patient, reminder.channel):
        contact = "e-mail address" if reminder.channel == Channel.EMAIL else "mobile number"
        return Verdict(ReminderStatus.SKIPPED, f"no {contact} on file")
    at = delivery_time(now, offer.location.tz, now=now, before=offer.expires_at)
    if at is None:
        return Verdict(ReminderStatus.SKIPPED, "quiet hours last until the offer runs out")
    if at > now:
        return Verdict(ReminderStatus.PENDING, "waiting for quiet hours to end", send_at=at)
    return None


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
        subject, body = render(reminder, now=now)
        if reminder.channel == Channel.EMAIL:
            message_id = _send_email(reminder, subject, body)
        else:
            message_id = _send_sms(reminder, body)
    except (PermanentSendError, TemplateSyntaxError) as exc:
        logger.warning("reminder %s failed: %s", reminder.pk, exc)
        return finish(ReminderStatus.FAILED, str(exc))
    except TransientSendError as exc:
        if retry_in is None:
            logger.warning("reminder %s failed after retries: %s", reminder.pk, exc)
            return finish(ReminderStatus.FAILED, str(exc))
        finish(ReminderStatus.PENDING, str(exc), send_at=now + timedelta(seconds=retry_in))
        raise
    return finish(ReminderStatus.SENT, sent_at=timezone.now(), provider_message_id=message_id[:200])


# --- keeping clinical details out -------------------------------------------------------------

# Words that would tell a reader what the visit is for (English and Spanish stems).
CLINICAL_WORDS = (
    "inject",
    "inyec",
    "trigger point",
    "punto gatillo",
    "puntos gatillo",
    "lidocain",
    "anesthe",
    "anaesthe",
    "anestes",
    "steroid",
    "esteroid",
    "cortico",
    "botox",
    "botulinum",
    "toxin",
    "needl",
    "aguja",
    "dry needling",
    "punción",
    "diagnos",
    "diagnós",
    "medication",
    "medicament",
    "medicine",
    "procedure",
    "procedimiento",
    "myofascial",
    "miofascial",
    "fibromyalgia",
    "fibromialgia",
)
_TPI = re.compile(r"\btpi\b", re.IGNORECASE)


def clinical_words_in(text: str, extra: Iterable[str] = ()) -> list[str]:
    """The clinical words (and `extra` terms, e.g. visit type names) found in `text`."""
    lowered = text.lower()
    found = [word for word in (*CLINICAL_WORDS, *(e.lower() for e in extra if e)) if word in lowered]
    if _TPI.search(text):
        found.append("TPI")
    return found
