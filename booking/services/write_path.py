"""The write path every booking service shares: one transaction, a lock, the check, the audit row.

The no-overlap rule is held three ways: a per-resource lock taken in a fixed order (PostgreSQL
advisory locks; on SQLite the IMMEDIATE transaction is the lock), a check inside the transaction
through the same functions that list free slots, and the database constraint (exclusion
constraint on PostgreSQL, triggers on SQLite) as the proof.
"""

from __future__ import annotations

import logging
import random
import time as time_module
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from booking.errors import BookingError, SlotBusy, SlotTaken
from booking.messaging import planning
from booking.models import Appointment, AppointmentEvent, EventAction, Status
from booking.scheduling.availability import PATIENT_POLICY, Policy, Reason, Schedule, check_start
from booking.scheduling.loading import find_slots, load_schedule, slots_as_dicts
from clinic.models import Location, Provider, VisitType

logger = logging.getLogger(__name__)
T = TypeVar("T")

WRITE_ATTEMPTS = 4
_LOCK_PROVIDER = 1
_LOCK_LOCATION_ROOMS = 2
# PostgreSQL: deadlock_detected, serialization_failure, lock_not_available.
_TRANSIENT_SQLSTATES = {"40P01", "40001", "55P03"}
_OVERLAP_CONSTRAINTS = ("booking_appointment_no_provider_overlap", "booking_appointment_no_room_overlap")

REASON_TEXT = {
    Reason.IN_PAST: gettext_noop("That time is in the past."),
    Reason.MIN_NOTICE: gettext_noop("That time is too soon: this visit must be booked further ahead."),
    Reason.BEYOND_HORIZON: gettext_noop("That date is too far ahead to book yet."),
    Reason.CLOSED: gettext_noop("The clinic is closed that day."),
    Reason.OUTSIDE_HOURS: gettext_noop("The provider does not see patients for this visit at that time."),
    Reason.TIME_OFF: gettext_noop("The provider is away at that time."),
    Reason.OFF_GRID: gettext_noop("Visits start on the times shown in the calendar; please pick one of those."),
    Reason.SLOT_TAKEN: gettext_noop("That time is already taken."),
    Reason.NO_ROOM: gettext_noop("No treatment room is free at that time."),
    Reason.PATIENT_BUSY: gettext_noop("This patient already has a visit at that time."),
}
TAKEN = {Reason.SLOT_TAKEN, Reason.NO_ROOM}


# --- plumbing ---------------------------------------------------------------------------------


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(getattr(cause, "diag", None), "sqlstate", None)


def _is_overlap_violation(exc: IntegrityError) -> bool:
    text = str(exc)
    cause = exc.__cause__
    name = getattr(getattr(cause, "diag", None), "constraint_name", None) or ""
    return any(c in text or c == name for c in _OVERLAP_CONSTRAINTS)


def write(fn: Callable[[], T]) -> T:
    """Run `fn` in one transaction; map overlap violations to SlotTaken, retry transient failures."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with transaction.atomic():
                return fn()
        except IntegrityError as exc:
            if _is_overlap_violation(exc):
                raise SlotTaken() from exc
            raise
        except OperationalError as exc:
            state = _sqlstate(exc)
            if connection.vendor == "sqlite" and "locked" in str(exc):
                # SQLite already waited its busy timeout for the write lock.
                raise SlotBusy() from exc
            if state not in _TRANSIENT_SQLSTATES:
                raise
            if connection.in_atomic_block or attempt == WRITE_ATTEMPTS - 1:
                # Inside a caller's transaction the whole of it must be retried, not this part.
                raise SlotBusy() from exc
            logger.info("booking write retry %s after %s", attempt + 1, state)
            time_module.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not crypto
    raise SlotBusy()  # pragma: no cover - the loop always returns or raises


def lock(provider_ids: Iterable[int], rooms_at: Location | None) -> None:
    """Serialise writers per provider, then per location's rooms, always in that order."""
    if connection.vendor != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already holds the database's single write lock.
    keys = [(_LOCK_PROVIDER, pid) for pid in sorted(set(provider_ids))]
    if rooms_at is not None:
        keys.append((_LOCK_LOCATION_ROOMS, rooms_at.pk))
    sql = "SELECT " + ", ".join("pg_advisory_xact_lock(%s, %s)" for _ in keys)
    with connection.cursor() as cursor:
        cursor.execute(sql, [part for key in keys for part in key])


def record(
    appointment: Appointment,
    action: str,
    *,
    by: User | None,
    now: datetime,
    from_status: str = "",
    from_start: datetime | None = None,
    from_provider_id: int | None = None,
    reason: str = "",
) -> AppointmentEvent:
    return AppointmentEvent.objects.create(
        appointment=appointment,
        action=action,
        by=by,
        at=now,
        from_status=from_status,
        to_status=appointment.status,
        from_start=from_start,
        to_start=appointment.start,
        from_provider_id=from_provider_id,
        to_provider_id=appointment.provider_id,
        reason=reason,
    )


def release_stale_holds(appointment_ids: list[int], now: datetime) -> None:
    """Expire run-out holds in the way of a write: the constraint cannot see the clock."""
    if not appointment_ids:
        return
    Appointment.objects.filter(pk__in=appointment_ids, status=Status.HELD).update(status=Status.EXPIRED, updated_at=now)
    for appointment in Appointment.objects.filter(pk__in=appointment_ids):
        record(appointment, EventAction.EXPIRED, by=None, now=now, from_status=Status.HELD, reason="hold expired")


def utc_start(start: datetime) -> datetime:
    """The requested start as a UTC instant, refused if it has no offset or is not a whole minute."""
    if timezone.is_naive(start):
        raise BookingError("invalid_start", "The start time must include a time zone offset.")
    if start.second or start.microsecond:
        raise BookingError("invalid_start", "The start time must be on a whole minute.")
    return start.astimezone(UTC)


def check_offer(
    provider: Provider, visit_type: VisitType, location: Location, policy: Policy, *, query: bool = True
) -> None:
    """Refuse inactive set-up, online bookings of visits not offered online, and providers who do
    not offer the visit there. With query=False the last check is left to placement_for, whose
    schedule only has hours for providers who offer the visit (one query fewer per booking)."""
    if not (provider.is_active and visit_type.is_active and location.is_active):
        raise BookingError("not_offered", "This provider, visit or location is not taking bookings.")
    if policy.online_only and not visit_type.bookable_online:
        raise BookingError("not_bookable_online", "This visit cannot be booked online; please call the clinic.")
    if query:
        require_offer(provider, visit_type, location)


def require_offer(provider: Provider, visit_type: VisitType, location: Location) -> None:
    if not Provider.objects.filter(pk=provider.pk, visit_types=visit_type, locations=location).exists():
        raise BookingError("not_offered", f"{provider} does not offer {visit_type} at {location}.")


# --- placing an appointment -------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """What the checks decided for one visit: where it goes and the span it blocks."""

    start: datetime
    end: datetime
    block_start: datetime
    block_end: datetime
    room_id: int | None


def placement_for(
    *,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    start: datetime,
    policy: Policy,
    now: datetime,
    patient_id: int | None = None,
    exclude_appointment_id: int | None = None,
) -> Placement:
    """Inside the transaction and the lock: decide whether the visit fits, with the reason if not,
    and release the run-out holds in its way."""
    schedule = placement_schedule(
        provider=provider,
        visit_type=visit_type,
        location=location,
        start=start,
        now=now,
        patient_id=patient_id,
        exclude_appointment_ids=() if exclude_appointment_id is None else (exclude_appointment_id,),
    )
    place = placement_in(
        schedule, provider=provider, visit_type=visit_type, location=location, start=start, policy=policy
    )
    release_stale_holds(stale_holds_in_the_way(schedule, provider, place), now)
    return place


def placement_schedule(
    *,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    start: datetime,
    now: datetime,
    patient_id: int | None = None,
    exclude_appointment_ids: Collection[int] = (),
) -> Schedule:
    """The provider's day around `start`, as placement_in needs it (one query)."""
    day = timezone.localtime(start, location.tz).date()
    return load_schedule(
        visit_type=visit_type,
        location=location,
        first_day=day,
        last_day=day,
        provider_ids=[provider.pk],
        now=now,
        exclude_appointment_ids=exclude_appointment_ids,
        patient_id=patient_id,
    )


def placement_in(
    schedule: Schedule,
    *,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    start: datetime,
    policy: Policy,
) -> Placement:
    """Where the visit goes in `schedule`, or SlotTaken / BookingError with the reason; writes nothing."""
    reason, room_id = check_start(schedule, provider.pk, start, policy)
    if reason == Reason.OUTSIDE_HOURS:
        require_offer(provider, visit_type, location)  # the more precise refusal, when it applies
    if reason in TAKEN:
        raise SlotTaken(REASON_TEXT[reason])
    if reason is not None:
        raise BookingError(reason, REASON_TEXT[reason])
    end = start + visit_type.duration
    return Placement(
        start=start,
        end=end,
        block_start=start - timedelta(minutes=visit_type.buffer_before_minutes),
        block_end=end + timedelta(minutes=visit_type.buffer_after_minutes),
        room_id=room_id,
    )


def stale_holds_in_the_way(schedule: Schedule, provider: Provider, place: Placement) -> list[int]:
    """Run-out holds the database would still see in the way of `place` (release them first)."""
    block = (int(place.block_start.timestamp()), int(place.block_end.timestamp()))
    return schedule.stale_holds_in_the_way(provider.pk, place.room_id, block)


def find_alternatives(
    *,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    start: datetime,
    policy: Policy = PATIENT_POLICY,
    now: datetime | None = None,
    limit: int = 5,
) -> list[dict[str, Any]]:
    """The next free slots with the same provider, then the same time with other providers."""
    day = timezone.localtime(start, location.tz).date()
    later = find_slots(
        visit_type=visit_type,
        location=location,
        first_day=day,
        last_day=day + timedelta(days=13),
        provider_ids=[provider.pk],
        policy=policy,
        now=now,
    )
    from_ts = int(start.timestamp())
    same_provider = slots_as_dicts([s for s in later if s.start_ts >= from_ts][:limit], location.tz, "same_provider")
    same_day = find_slots(visit_type=visit_type, location=location, first_day=day, last_day=day, policy=policy, now=now)
    others = [s for s in same_day if s.start_ts == from_ts and s.provider_id != provider.pk][:limit]
    same_time = slots_as_dicts(others, location.tz, "other_provider")
    return same_provider + same_time


def with_alternatives(exc: SlotTaken, **where: Any) -> SlotTaken:
    exc.alternatives = find_alternatives(**where)
    return exc


def move_row(
    row: Appointment,
    provider: Provider,
    place: Placement,
    *,
    by: User | None,
    now: datetime,
    reason: str,
    also: Sequence[str] = (),
) -> None:
    """Put a locked row at its new place, write the audit row and move its reminders."""
    from_start, from_provider_id = row.start, row.provider_id
    row.provider = provider
    row.start, row.end = place.start, place.end
    row.block_start, row.block_end = place.block_start, place.block_end
    row.room_id = place.room_id
    fields = ["provider", "start", "end", "block_start", "block_end", "room", "updated_at", *also]
    row.save(update_fields=fields)
    record(
        row,
        EventAction.MOVED,
        by=by,
        now=now,
        from_status=row.status,
        from_start=from_start,
        from_provider_id=from_provider_id,
        reason=reason,
    )
    planning.reschedule_for(row, now=now)
