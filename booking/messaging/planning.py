"""The outbox: which message rows a booking change writes, and when each is due.

Called by booking/services/ inside the booking's transaction, so a rolled-back booking leaves
nothing: schedule_for (book, confirm a hold, each series session), reschedule_for (move),
cancel_for (cancel), aftercare_for (complete), series_summary_for (book a series),
waitlist_offer_for and close_offer_messages (waitlist offers). The row is the schedule: no ETA
tasks; delivery.py sends what is due. A reminder whose time has passed at booking is recorded as
skipped. Channels and times come from policy.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from booking.messaging.policy import BEFORE_VISIT, delivery_time, receipt_channels, reminder_channel, wall_clock_before
from booking.models import Appointment, MessageKind, Reminder, ReminderStatus, Status, WaitlistOffer
from clinic.models import VisitKind

K = MessageKind
REMINDERS = (K.REMINDER_LONG, K.REMINDER_SHORT)


@dataclass(frozen=True)
class Planned:
    """One message row as the policy places it (not yet written)."""

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
    new_rows: list[Reminder] = []
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
