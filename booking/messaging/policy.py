"""Which channel a message takes and when it may go: the patient's choice and the quiet hours.

The rules (docs/reminders.md has the reasons):
- Channels: reminders use the channel the schedule names when the patient takes it, else the
  channel the patient takes. `none` stops reminders and waitlist offers only; receipts and
  aftercare still go, by e-mail (by SMS when there is no address).
- Quiet hours (REMINDER_QUIET_HOURS, location time) hold back reminders, aftercare and waitlist
  offers until they end. If that is not before the visit, the message goes just before the
  quiet hours begin, or is skipped if that time has passed. Receipts of a change to the booking
  (confirmation, change, cancellation, series summary) go at once.
- Reminder times count whole days in the location's wall time ("24 h before" a 09:00 visit is
  09:00 the day before, 23 or 25 elapsed hours across a DST change); any remaining hours are
  elapsed time.

Pure: plain values in, plain values out; nothing here reads or writes the database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from booking.models import Channel, MessageKind
from patients.models import Patient, ReminderChannel

K = MessageKind
# Held back by quiet hours; the rest answer a change to the booking and go at once.
QUIET_KINDS = (K.REMINDER_LONG, K.REMINDER_SHORT, K.AFTERCARE, K.WAITLIST_OFFER)
# About a visit still to come: pointless once it started or stopped being booked.
BEFORE_VISIT = (K.CONFIRMATION, K.REMINDER_LONG, K.REMINDER_SHORT, K.CHANGE, K.WAITLIST_OFFER)
# Stopped by reminder_channel = none.
OPT_OUT_KINDS = (K.REMINDER_LONG, K.REMINDER_SHORT, K.WAITLIST_OFFER)
CHANNEL_ORDER: tuple[str, ...] = (Channel.EMAIL, Channel.SMS)


# --- channels ---------------------------------------------------------------------------------


def reachable(patient: Patient, channel: str) -> bool:
    """Whether the patient has the address or number this channel needs."""
    return bool(patient.email) if channel == Channel.EMAIL else bool(patient.phone)


def chosen_channels(patient: Patient) -> list[str]:
    """The channels the patient chose and can be reached on, e-mail first."""
    by_choice: dict[str, set[str]] = {
        ReminderChannel.EMAIL: {Channel.EMAIL},
        ReminderChannel.SMS: {Channel.SMS},
        ReminderChannel.BOTH: {Channel.EMAIL, Channel.SMS},
    }
    wanted = by_choice.get(patient.reminder_channel, set())
    return [c for c in CHANNEL_ORDER if c in wanted and reachable(patient, c)]


def reminder_channel(patient: Patient, configured: str) -> str | None:
    """The channel for a scheduled reminder: the configured one if the patient takes it, else the
    one they take (or can be reached on); None when they opted out of reminders."""
    if patient.reminder_channel == ReminderChannel.NONE:
        return None
    chosen = chosen_channels(patient)
    if configured in chosen:
        return configured
    fallback = chosen or [c for c in CHANNEL_ORDER if reachable(patient, c)]
    return fallback[0] if fallback else None


def offer_channels(patient: Patient) -> list[str]:
    """Channels for a waitlist offer: like a reminder (opt-out stops it), on every channel the
    patient chose, else the first they can be reached on."""
    if patient.reminder_channel == ReminderChannel.NONE:
        return []
    return chosen_channels(patient) or [c for c in CHANNEL_ORDER if reachable(patient, c)][:1]


def receipt_channels(patient: Patient) -> list[str]:
    """Channels for receipts and aftercare: the chosen ones; without any, one the patient can be
    reached on (e-mail first), since these record a change to their care rather than remind."""
    chosen = chosen_channels(patient)
    return chosen or [c for c in CHANNEL_ORDER if reachable(patient, c)][:1]


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
