"""The only code that creates or changes appointments.

Every write here owns its transaction, its lock, its checks and its audit row. The no-overlap
rule is held three ways: a per-resource lock taken in a fixed order (PostgreSQL advisory locks;
on SQLite the IMMEDIATE transaction is the lock), a check inside the transaction through the same
functions that list free slots, and the database constraint (exclusion constraint on
PostgreSQL, triggers on SQLite) as the proof.
"""

from __future__ import annotations

import logging
import random
import time as time_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from booking.availability import (
    PATIENT_POLICY,
    Policy,
    Reason,
    Slot,
    check_start,
    find_slots,
    load_schedule,
)
from booking.errors import BookingError, InvalidTransition, SlotBusy, SlotTaken
from booking.models import Appointment, AppointmentEvent, EventAction, Series, Status
from clinic.models import Location, Provider, VisitType
from patients.models import Patient

logger = logging.getLogger(__name__)
T = TypeVar("T")
User = AbstractBaseUser | None

WRITE_ATTEMPTS = 4
_LOCK_PROVIDER = 1
_LOCK_LOCATION_ROOMS = 2
# PostgreSQL: deadlock_detected, serialization_failure, lock_not_available.
_TRANSIENT_SQLSTATES = {"40P01", "40001", "55P03"}
_OVERLAP_CONSTRAINTS = ("booking_appointment_no_provider_overlap", "booking_appointment_no_room_overlap")

REASON_TEXT = {
    Reason.IN_PAST: "That time is in the past.",
    Reason.MIN_NOTICE: "That time is too soon: this visit must be booked further ahead.",
    Reason.BEYOND_HORIZON: "That date is too far ahead to book yet.",
    Reason.CLOSED: "The clinic is closed that day.",
    Reason.OUTSIDE_HOURS: "The provider does not see patients for this visit at that time.",
    Reason.TIME_OFF: "The provider is away at that time.",
    Reason.OFF_GRID: "Visits start on the times shown in the calendar; please pick one of those.",
    Reason.SLOT_TAKEN: "That time is already taken.",
    Reason.NO_ROOM: "No treatment room is free at that time.",
}
_TAKEN = {Reason.SLOT_TAKEN, Reason.NO_ROOM}


# --- plumbing ---------------------------------------------------------------------------------


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(getattr(cause, "diag", None), "sqlstate", None)


def _is_overlap_violation(exc: IntegrityError) -> bool:
    text = str(exc)
    cause = exc.__cause__
    name = getattr(getattr(cause, "diag", None), "constraint_name", None) or ""
    return any(c in text or c == name for c in _OVERLAP_CONSTRAINTS)


def _write(fn: Callable[[], T]) -> T:
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


def _lock(provider_ids: Iterable[int], rooms_at: Location | None) -> None:
    """Serialise writers per provider, then per location's rooms, always in that order."""
    if connection.vendor != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already holds the database's single write lock.
    keys = [(_LOCK_PROVIDER, pid) for pid in sorted(set(provider_ids))]
    if rooms_at is not None:
        keys.append((_LOCK_LOCATION_ROOMS, rooms_at.pk))
    sql = "SELECT " + ", ".join("pg_advisory_xact_lock(%s, %s)" for _ in keys)
    with connection.cursor() as cursor:
        cursor.execute(sql, [part for key in keys for part in key])


def _record(
    appointment: Appointment,
    action: str,
    *,
    by: User,
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


def _expire_holds(now: datetime, provider_ids: Iterable[int], rooms_at: Location | None) -> None:
    """Release run-out holds that could stand in the way; the constraint cannot see the clock."""
    stale = Appointment.objects.expired_holds(now).filter(provider_id__in=list(provider_ids))
    if rooms_at is not None:
        stale = stale | Appointment.objects.expired_holds(now).filter(room__location=rooms_at)
    for appointment in stale:
        appointment.status = Status.EXPIRED
        appointment.save(update_fields=["status", "updated_at"])
        _record(appointment, EventAction.EXPIRED, by=None, now=now, from_status=Status.HELD, reason="hold expired")


def _utc_start(start: datetime) -> datetime:
    """The requested start as a UTC instant, refused if it has no offset or is not a whole minute."""
    if timezone.is_naive(start):
        raise BookingError("invalid_start", "The start time must include a time zone offset.")
    if start.second or start.microsecond:
        raise BookingError("invalid_start", "The start time must be on a whole minute.")
    return start.astimezone(UTC)


def _check_offer(provider: Provider, visit_type: VisitType, location: Location, policy: Policy) -> None:
    if not (provider.is_active and visit_type.is_active and location.is_active):
        raise BookingError("not_offered", "This provider, visit or location is not taking bookings.")
    if policy.online_only and not visit_type.bookable_online:
        raise BookingError("not_bookable_online", "This visit cannot be booked online; please call the clinic.")
    offers = (
        provider.visit_types.filter(pk=visit_type.pk).exists() and provider.locations.filter(pk=location.pk).exists()
    )
    if not offers:
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


def _placement(
    *,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    start: datetime,
    policy: Policy,
    now: datetime,
    exclude_appointment_id: int | None = None,
) -> Placement:
    """Inside the transaction and the lock: decide whether the visit fits, with the reason if not."""
    day = timezone.localtime(start, location.tz).date()
    schedule = load_schedule(
        visit_type=visit_type,
        location=location,
        first_day=day,
        last_day=day,
        provider_ids=[provider.pk],
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    reason, room_id = check_start(schedule, provider.pk, start, policy)
    if reason in _TAKEN:
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


def slot_as_dict(slot: Slot, location: Location, kind: str | None = None) -> dict[str, Any]:
    tz = location.tz
    out: dict[str, Any] = {
        "start": slot.start.astimezone(tz).isoformat(),
        "end": slot.end.astimezone(tz).isoformat(),
        "provider": slot.provider_id,
        "room": slot.room_id,
    }
    if kind:
        out["kind"] = kind
    return out


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
    same_provider = [slot_as_dict(s, location, "same_provider") for s in later if s.start >= start][:limit]
    same_day = find_slots(visit_type=visit_type, location=location, first_day=day, last_day=day, policy=policy, now=now)
    same_time = [
        slot_as_dict(s, location, "other_provider")
        for s in same_day
        if s.start == start and s.provider_id != provider.pk
    ][:limit]
    return same_provider + same_time


def _with_alternatives(exc: SlotTaken, **where: Any) -> SlotTaken:
    exc.alternatives = find_alternatives(**where)
    return exc


def book_appointment(
    *,
    patient: Patient,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    start: datetime,
    by: User,
    policy: Policy = PATIENT_POLICY,
    hold: bool = False,
    series: Series | None = None,
    session_number: int | None = None,
    notes: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Book (or, with hold=True, briefly hold) one visit; SlotTaken carries alternatives."""
    now = now or timezone.now()
    start = _utc_start(start)
    _check_offer(provider, visit_type, location, policy)
    rooms_at = location if visit_type.needs_room else None

    def write() -> Appointment:
        _lock([provider.pk], rooms_at)
        _expire_holds(now, [provider.pk], rooms_at)
        place = _placement(
            provider=provider, visit_type=visit_type, location=location, start=start, policy=policy, now=now
        )
        appointment = Appointment.objects.create(
            patient=patient,
            provider=provider,
            location=location,
            visit_type=visit_type,
            room_id=place.room_id,
            start=place.start,
            end=place.end,
            block_start=place.block_start,
            block_end=place.block_end,
            status=Status.HELD if hold else Status.BOOKED,
            hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES) if hold else None,
            series=series,
            session_number=session_number,
            notes=notes,
            created_by=by,
        )
        _record(appointment, EventAction.HELD if hold else EventAction.BOOKED, by=by, now=now)
        return appointment

    try:
        return _write(write)
    except SlotTaken as exc:
        raise _with_alternatives(
            exc, provider=provider, visit_type=visit_type, location=location, start=start, policy=policy, now=now
        ) from exc.__cause__


def confirm_hold(*, appointment: Appointment, by: User, now: datetime | None = None) -> Appointment:
    """Turn a live hold into a booking; a hold that ran out must be picked again."""
    now = now or timezone.now()

    def write() -> Appointment:
        confirmed = Appointment.objects.filter(pk=appointment.pk, status=Status.HELD, hold_expires_at__gt=now).update(
            status=Status.BOOKED, hold_expires_at=None, updated_at=now
        )
        appointment.refresh_from_db()
        if not confirmed:
            if appointment.status == Status.BOOKED:
                return appointment  # a double submit: already confirmed
            raise BookingError(
                "hold_expired", "The time was held for you for a few minutes only; please pick it again."
            )
        _record(appointment, EventAction.CONFIRMED, by=by, now=now, from_status=Status.HELD)
        return appointment

    return _write(write)


def move_appointment(
    *,
    appointment: Appointment,
    start: datetime,
    by: User,
    provider: Provider | None = None,
    policy: Policy = PATIENT_POLICY,
    reason: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Move a held or booked visit to another time (and optionally provider), atomically."""
    now = now or timezone.now()
    start = _utc_start(start)
    new_provider = provider or appointment.provider
    visit_type, location = appointment.visit_type, appointment.location
    _check_offer(new_provider, visit_type, location, policy)
    rooms_at = location if visit_type.needs_room else None

    def write() -> Appointment:
        _lock([appointment.provider_id, new_provider.pk], rooms_at)
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if current.status not in (Status.HELD, Status.BOOKED):
            raise InvalidTransition(f"A {current.get_status_display().lower()} appointment cannot be moved.")
        _expire_holds(now, [new_provider.pk], rooms_at)
        place = _placement(
            provider=new_provider,
            visit_type=visit_type,
            location=location,
            start=start,
            policy=policy,
            now=now,
            exclude_appointment_id=current.pk,
        )
        from_start, from_provider_id = current.start, current.provider_id
        current.provider = new_provider
        current.start, current.end = place.start, place.end
        current.block_start, current.block_end = place.block_start, place.block_end
        current.room_id = place.room_id
        current.save(update_fields=["provider", "start", "end", "block_start", "block_end", "room", "updated_at"])
        _record(
            current,
            EventAction.MOVED,
            by=by,
            now=now,
            from_status=current.status,
            from_start=from_start,
            from_provider_id=from_provider_id,
            reason=reason,
        )
        return current

    try:
        moved = _write(write)
    except SlotTaken as exc:
        raise _with_alternatives(
            exc, provider=new_provider, visit_type=visit_type, location=location, start=start, policy=policy, now=now
        ) from exc.__cause__
    appointment.refresh_from_db()
    return moved


# --- status changes ---------------------------------------------------------------------------


def _transition(
    appointment: Appointment,
    *,
    to: Status,
    allowed_from: tuple[Status, ...],
    action: str,
    by: User,
    now: datetime,
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> Appointment:
    """Compare-and-swap the status, so two clicks or two clerks cannot both apply a change."""

    def write() -> Appointment:
        before = Appointment.objects.filter(pk=appointment.pk).values_list("status", flat=True).first()
        changed = Appointment.objects.filter(pk=appointment.pk, status__in=allowed_from).update(
            status=to, updated_at=now, **(extra or {})
        )
        if not changed:
            label = Status(before).label.lower() if before else "missing"
            raise InvalidTransition(f"This appointment is {label}; it cannot be marked {to.label.lower()}.")
        appointment.refresh_from_db()
        _record(appointment, action, by=by, now=now, from_status=before or "", reason=reason)
        return appointment

    return _write(write)


def cancel_appointment(*, appointment: Appointment, by: User, reason: str, now: datetime | None = None) -> Appointment:
    """Cancel a held or booked visit and free its time; the reason is kept."""
    reason = reason.strip()[:200]
    if not reason:
        raise BookingError("reason_required", "Please give a reason for the cancellation.")
    return _transition(
        appointment,
        to=Status.CANCELLED,
        allowed_from=(Status.HELD, Status.BOOKED),
        action=EventAction.CANCELLED,
        by=by,
        now=now or timezone.now(),
        reason=reason,
        extra={"cancel_reason": reason},
    )


def check_in(*, appointment: Appointment, by: User, now: datetime | None = None) -> Appointment:
    """Mark the patient as arrived; only on the day of the visit."""
    now = now or timezone.now()
    tz = appointment.location.tz
    if timezone.localtime(now, tz).date() != timezone.localtime(appointment.start, tz).date():
        raise BookingError("not_today", "Patients can be checked in on the day of their visit only.")
    return _transition(
        appointment, to=Status.CHECKED_IN, allowed_from=(Status.BOOKED,), action=EventAction.CHECKED_IN, by=by, now=now
    )


def mark_no_show(*, appointment: Appointment, by: User, now: datetime | None = None) -> Appointment:
    """Record that the patient did not come; only once the visit's start has passed."""
    now = now or timezone.now()
    if now < appointment.start:
        raise BookingError("not_started", "A visit can be marked as a no-show only after its start time.")
    return _transition(
        appointment, to=Status.NO_SHOW, allowed_from=(Status.BOOKED,), action=EventAction.NO_SHOW, by=by, now=now
    )


def complete_appointment(*, appointment: Appointment, by: User, now: datetime | None = None) -> Appointment:
    """Close a visit that took place (the provider saved the procedure record)."""
    now = now or timezone.now()
    if now < appointment.start:
        raise BookingError("not_started", "A visit can be completed only after it has started.")
    return _transition(
        appointment,
        to=Status.COMPLETED,
        allowed_from=(Status.BOOKED, Status.CHECKED_IN),
        action=EventAction.COMPLETED,
        by=by,
        now=now,
    )


def expire_holds(*, now: datetime | None = None) -> int:
    """Sweep: release every hold that ran out. Returns how many."""
    now = now or timezone.now()
    count = 0
    for appointment in Appointment.objects.expired_holds(now):
        with transaction.atomic():
            if Appointment.objects.filter(pk=appointment.pk, status=Status.HELD).update(
                status=Status.EXPIRED, updated_at=now
            ):
                appointment.status = Status.EXPIRED
                _record(
                    appointment, EventAction.EXPIRED, by=None, now=now, from_status=Status.HELD, reason="hold expired"
                )
                count += 1
    return count
