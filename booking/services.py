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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from booking import series as series_planner
from booking.availability import (
    PATIENT_POLICY,
    Policy,
    Reason,
    check_start,
    find_slots,
    load_schedule,
    slots_as_dicts,
)
from booking.errors import BookingError, InvalidTransition, SeriesClash, SeriesNeedsChoice, SlotBusy, SlotTaken
from booking.models import Appointment, AppointmentEvent, EventAction, Series, SeriesStatus, Status
from booking.series import PlannedSession, SeriesRules, SessionChoice
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


def _release_stale_holds(appointment_ids: list[int], now: datetime) -> None:
    """Expire run-out holds in the way of a write: the constraint cannot see the clock."""
    if not appointment_ids:
        return
    Appointment.objects.filter(pk__in=appointment_ids, status=Status.HELD).update(status=Status.EXPIRED, updated_at=now)
    for appointment in Appointment.objects.filter(pk__in=appointment_ids):
        _record(appointment, EventAction.EXPIRED, by=None, now=now, from_status=Status.HELD, reason="hold expired")


def _utc_start(start: datetime) -> datetime:
    """The requested start as a UTC instant, refused if it has no offset or is not a whole minute."""
    if timezone.is_naive(start):
        raise BookingError("invalid_start", "The start time must include a time zone offset.")
    if start.second or start.microsecond:
        raise BookingError("invalid_start", "The start time must be on a whole minute.")
    return start.astimezone(UTC)


def _check_offer(
    provider: Provider, visit_type: VisitType, location: Location, policy: Policy, *, query: bool = True
) -> None:
    """Refuse inactive set-up, online bookings of visits not offered online, and providers who do
    not offer the visit there. With query=False the last check is left to _placement, whose
    schedule only has hours for providers who offer the visit (one query fewer per booking)."""
    if not (provider.is_active and visit_type.is_active and location.is_active):
        raise BookingError("not_offered", "This provider, visit or location is not taking bookings.")
    if policy.online_only and not visit_type.bookable_online:
        raise BookingError("not_bookable_online", "This visit cannot be booked online; please call the clinic.")
    if query:
        _require_offer(provider, visit_type, location)


def _require_offer(provider: Provider, visit_type: VisitType, location: Location) -> None:
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
    if reason == Reason.OUTSIDE_HOURS:
        _require_offer(provider, visit_type, location)  # the more precise refusal, when it applies
    if reason in _TAKEN:
        raise SlotTaken(REASON_TEXT[reason])
    if reason is not None:
        raise BookingError(reason, REASON_TEXT[reason])
    end = start + visit_type.duration
    place = Placement(
        start=start,
        end=end,
        block_start=start - timedelta(minutes=visit_type.buffer_before_minutes),
        block_end=end + timedelta(minutes=visit_type.buffer_after_minutes),
        room_id=room_id,
    )
    block = (int(place.block_start.timestamp()), int(place.block_end.timestamp()))
    _release_stale_holds(schedule.stale_holds_in_the_way(provider.pk, room_id, block), now)
    return place


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
    _check_offer(provider, visit_type, location, policy, query=False)
    rooms_at = location if visit_type.needs_room else None

    def write() -> Appointment:
        _lock([provider.pk], rooms_at)
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
    _check_offer(new_provider, visit_type, location, policy, query=False)
    rooms_at = location if visit_type.needs_room else None

    def write() -> Appointment:
        _lock([appointment.provider_id, new_provider.pk], rooms_at)
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if current.status not in (Status.HELD, Status.BOOKED):
            raise InvalidTransition(f"A {current.get_status_display().lower()} appointment cannot be moved.")
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


# --- treatment series -------------------------------------------------------------------------
# A series is planned by the pure booking.series.plan over one Schedule for the whole window,
# then booked in ONE transaction through the same lock and checks as book_appointment: all
# sessions or none. See docs/series.md.

MAX_SERIES_SESSIONS = 52  # the database's booking_series_sessions_in_range
MAX_GAP_DAYS = 90
MAX_TOLERANCE_DAYS = 14
_OPEN_SERIES = (SeriesStatus.PLANNED, SeriesStatus.ACTIVE)
_MOVABLE = (Status.HELD, Status.BOOKED)

Choices = Mapping[int, SessionChoice | datetime] | None


class _DryRun(Exception):
    """Raised inside a transaction to roll it back and hand the plan to the caller."""

    def __init__(self, plan: list[PlannedSession]) -> None:
        super().__init__("dry run")
        self.plan = plan


def _series_rules(
    *,
    sessions: int,
    first_date: date,
    gap_days: int,
    tolerance_days: int,
    taper_days: Sequence[int],
    preferred_time: time,
    first_number: int = 1,
    after_date: date | None = None,
) -> SeriesRules:
    """The planner's rules, refused with a 422 when a value is out of range."""
    problems = []
    if sessions < 1 or first_number + sessions - 1 > MAX_SERIES_SESSIONS:
        problems.append(f"a series has 1 to {MAX_SERIES_SESSIONS} sessions")
    if not 1 <= gap_days <= MAX_GAP_DAYS or any(not 1 <= gap <= MAX_GAP_DAYS for gap in taper_days):
        problems.append(f"gaps are 1 to {MAX_GAP_DAYS} days")
    if not 0 <= tolerance_days <= MAX_TOLERANCE_DAYS:
        problems.append(f"the tolerance is 0 to {MAX_TOLERANCE_DAYS} days")
    if preferred_time.tzinfo is not None or preferred_time.second or preferred_time.microsecond:
        problems.append("the preferred time is a local time of day in whole minutes, e.g. 09:30")
    if problems:
        raise BookingError("invalid_series", "; ".join(problems).capitalize() + ".")
    return SeriesRules(
        sessions=sessions,
        first_date=first_date,
        gap_days=gap_days,
        tolerance_days=tolerance_days,
        preferred_time=preferred_time,
        taper_days=tuple(taper_days),
        first_number=first_number,
        after_date=after_date,
    )


def _series_choices(choices: Choices, rules: SeriesRules) -> dict[int, SessionChoice]:
    picked: dict[int, SessionChoice] = {}
    for number, choice in (choices or {}).items():
        if number not in rules.numbers:
            raise BookingError("invalid_choice", f"There is no session {number} to choose a time for.")
        if isinstance(choice, datetime):
            choice = SessionChoice(choice)
        picked[number] = SessionChoice(_utc_start(choice.start), choice.provider_id)
    return picked


def _load_plan(
    *,
    rules: SeriesRules,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    policy: Policy,
    now: datetime,
    choices: Mapping[int, SessionChoice],
) -> list[PlannedSession]:
    """One load_schedule call for the whole window (every provider, for alternatives), then plan."""
    first_day, last_day = series_planner.planning_window(rules, location.tz, choices)
    schedule = load_schedule(visit_type=visit_type, location=location, first_day=first_day, last_day=last_day, now=now)
    return series_planner.plan(schedule, rules, provider_id=provider.pk, policy=policy, choices=choices)


def _require_bookable(plan: list[PlannedSession], tz: ZoneInfo) -> None:
    clashes = [session.number for session in plan if session.clash]
    if clashes:
        clashing = next(s for s in plan if s.clash)
        raise SeriesClash(
            clashes[0],
            series_planner.plan_as_dict(plan, tz),
            [a.as_dict(tz) for a in clashing.alternatives],
        )
    if not series_planner.is_bookable(plan):
        waiting = ", ".join(str(s.number) for s in plan if s.start is None)
        raise SeriesNeedsChoice(
            series_planner.plan_as_dict(plan, tz),
            f"Sessions {waiting} have no time inside their tolerance; please choose one for each.",
        )


def _book_sessions(
    *,
    get_series: Callable[[], Series],
    plan: list[PlannedSession],
    patient: Patient,
    visit_type: VisitType,
    location: Location,
    by: User,
    policy: Policy,
    now: datetime,
    replan: Callable[[], list[PlannedSession]],
) -> Series:
    """Insert every planned session in one transaction, re-checked under the lock; all or none."""
    _require_bookable(plan, location.tz)
    providers = Provider.objects.in_bulk({session.provider_id for session in plan})
    for other in providers.values():
        _check_offer(other, visit_type, location, policy)
    rooms_at = location if visit_type.needs_room else None
    attempting: list[int] = []

    def write() -> Series:
        _lock(providers, rooms_at)
        series = get_series()
        for session in plan:
            assert session.start is not None  # _require_bookable said so
            attempting[:] = [session.number]
            try:
                place = _placement(
                    provider=providers[session.provider_id],
                    visit_type=visit_type,
                    location=location,
                    start=session.start,
                    policy=policy,
                    now=now,
                )
            except SlotTaken:
                raise
            except BookingError as exc:
                raise BookingError(exc.code, f"Session {session.number}: {exc.detail}") from exc
            appointment = Appointment.objects.create(
                patient=patient,
                provider=providers[session.provider_id],
                location=location,
                visit_type=visit_type,
                room_id=place.room_id,
                start=place.start,
                end=place.end,
                block_start=place.block_start,
                block_end=place.block_end,
                status=Status.BOOKED,
                series=series,
                session_number=session.number,
                created_by=by,
            )
            reason = f"series session {session.number} of {series.sessions_planned}"
            _record(appointment, EventAction.BOOKED, by=by, now=now, reason=reason)
        if series.status == SeriesStatus.PLANNED:
            series.status = SeriesStatus.ACTIVE
            series.save(update_fields=["status"])
        return series

    try:
        return _write(write)
    except SlotTaken as exc:
        number = attempting[0] if attempting else None
        fresh = replan()
        for session in fresh:
            if session.number == number:
                session.clash = True
                session.problem = session.problem or Reason.SLOT_TAKEN
        marked = next((s for s in fresh if s.number == number), None)
        alternatives = [a.as_dict(location.tz) for a in marked.alternatives] if marked else []
        raise SeriesClash(number, series_planner.plan_as_dict(fresh, location.tz), alternatives) from exc


def plan_series(
    *,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    sessions: int,
    gap_days: int,
    tolerance_days: int,
    taper_days: Sequence[int],
    preferred_time: time,
    first_date: date,
    choices: Choices = None,
    policy: Policy,
    now: datetime | None = None,
) -> list[PlannedSession]:
    """Preview a series (a dry run): where each session would go. Writes nothing."""
    now = now or timezone.now()
    _check_offer(provider, visit_type, location, policy)
    rules = _series_rules(
        sessions=sessions,
        first_date=first_date,
        gap_days=gap_days,
        tolerance_days=tolerance_days,
        taper_days=taper_days,
        preferred_time=preferred_time,
    )
    picked = _series_choices(choices, rules)
    return _load_plan(
        rules=rules, provider=provider, visit_type=visit_type, location=location, policy=policy, now=now, choices=picked
    )


def book_series(
    *,
    patient: Patient,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    sessions: int,
    gap_days: int,
    tolerance_days: int,
    taper_days: Sequence[int],
    preferred_time: time,
    first_date: date,
    choices: Choices = None,
    by: User,
    policy: Policy,
    now: datetime | None = None,
) -> Series:
    """Plan and book a whole series in one transaction: every session or none.

    SeriesNeedsChoice (422) when a session has no time inside its tolerance and no choice;
    SeriesClash (409) when a time was taken meanwhile, with the plan made again.
    """
    now = now or timezone.now()
    _check_offer(provider, visit_type, location, policy)
    rules = _series_rules(
        sessions=sessions,
        first_date=first_date,
        gap_days=gap_days,
        tolerance_days=tolerance_days,
        taper_days=taper_days,
        preferred_time=preferred_time,
    )
    picked = _series_choices(choices, rules)

    def replan() -> list[PlannedSession]:
        return _load_plan(
            rules=rules,
            provider=provider,
            visit_type=visit_type,
            location=location,
            policy=policy,
            now=now,
            choices=picked,
        )

    def create_series() -> Series:
        return Series.objects.create(
            patient=patient,
            provider=provider,
            visit_type=visit_type,
            location=location,
            sessions_planned=sessions,
            gap_days=gap_days,
            tolerance_days=tolerance_days,
            taper_days=list(taper_days),
            preferred_time=preferred_time,
            status=SeriesStatus.PLANNED,
            created_by=by,
        )

    return _book_sessions(
        get_series=create_series,
        plan=replan(),
        patient=patient,
        visit_type=visit_type,
        location=location,
        by=by,
        policy=policy,
        now=now,
        replan=replan,
    )


def _require_open(series: Series) -> None:
    if series.status not in _OPEN_SERIES:
        label = SeriesStatus(series.status).label.lower()
        raise InvalidTransition(f"This series is {label}; its sessions can no longer be changed.")


def _series_rules_of(series: Series, **overrides: Any) -> SeriesRules:
    values: dict[str, Any] = {
        "sessions": series.sessions_planned,
        "first_date": date.min,
        "gap_days": series.gap_days,
        "tolerance_days": series.tolerance_days,
        "taper_days": series.taper_days or (),
        "preferred_time": series.preferred_time,
        **overrides,
    }
    return _series_rules(**values)


def _extension(series: Series, sessions: int) -> SeriesRules:
    """Rules for `sessions` more sessions after the series' last session that still stands."""
    last = (
        series.appointments.exclude(status__in=(Status.CANCELLED, Status.EXPIRED))
        .order_by("-start")
        .select_related("location")
        .first()
    )
    if last is None:
        raise BookingError("nothing_to_extend", "This series has no session to count the next one from.")
    last_date = last.local_start().date()
    after = last.session_number or series.sessions_planned
    probe = _series_rules_of(series, sessions=1)
    return _series_rules_of(
        series,
        sessions=sessions,
        first_date=last_date + timedelta(days=probe.gap_after(after)),
        first_number=series.sessions_planned + 1,
        after_date=last_date,
    )


def plan_series_extension(
    *,
    series: Series,
    sessions: int,
    choices: Choices = None,
    policy: Policy,
    now: datetime | None = None,
) -> list[PlannedSession]:
    """Preview `sessions` more sessions after the last one (a dry run). Writes nothing."""
    now = now or timezone.now()
    _require_open(series)
    rules = _extension(series, sessions)
    return _load_plan(
        rules=rules,
        provider=series.provider,
        visit_type=series.visit_type,
        location=series.location,
        policy=policy,
        now=now,
        choices=_series_choices(choices, rules),
    )


def extend_series(
    *,
    series: Series,
    sessions: int,
    by: User,
    choices: Choices = None,
    policy: Policy,
    now: datetime | None = None,
) -> Series:
    """Plan and book `sessions` more sessions after the last one, all or none."""
    now = now or timezone.now()
    _require_open(series)
    _check_offer(series.provider, series.visit_type, series.location, policy)
    rules = _extension(series, sessions)
    picked = _series_choices(choices, rules)
    planned_before = series.sessions_planned

    def replan() -> list[PlannedSession]:
        return _load_plan(
            rules=rules,
            provider=series.provider,
            visit_type=series.visit_type,
            location=series.location,
            policy=policy,
            now=now,
            choices=picked,
        )

    def locked_series() -> Series:
        current = Series.objects.select_for_update().get(pk=series.pk)
        _require_open(current)
        if current.sessions_planned != planned_before:
            raise InvalidTransition("This series was changed meanwhile; please look at it again.")
        current.sessions_planned = planned_before + sessions
        current.save(update_fields=["sessions_planned"])
        return current

    extended = _book_sessions(
        get_series=locked_series,
        plan=replan(),
        patient=series.patient,
        visit_type=series.visit_type,
        location=series.location,
        by=by,
        policy=policy,
        now=now,
        replan=replan,
    )
    series.refresh_from_db()
    return extended


def _move_series(
    *,
    series: Series,
    session_number: int,
    start: datetime,
    by: User,
    provider: Provider | None,
    replan_later: bool,
    policy: Policy,
    reason: str,
    now: datetime,
    dry_run: bool,
) -> list[PlannedSession]:
    """Move one session and, optionally, re-plan the later ones from its new date, atomically."""
    start = _utc_start(start)
    _require_open(series)
    appointment = (
        series.appointments.filter(session_number=session_number, status__in=_MOVABLE)
        .select_related("provider")
        .first()
    )
    if appointment is None:
        raise BookingError("no_such_session", f"Session {session_number} is not booked, so it cannot be moved.")
    visit_type, location, tz = series.visit_type, series.location, series.location.tz
    new_provider = provider or appointment.provider
    _check_offer(new_provider, visit_type, location, policy)
    rooms_at = location if visit_type.needs_room else None
    later_ids: list[int] = []
    if replan_later:
        later_ids = list(
            series.appointments.filter(session_number__gt=session_number, status__in=_MOVABLE, start__gt=now)
            .order_by("session_number")
            .values_list("pk", flat=True)
        )
    why = reason or f"session {session_number} of the series moved"

    def write() -> list[PlannedSession]:
        involved = {appointment.provider_id, new_provider.pk, series.provider_id}
        later = list(Appointment.objects.select_for_update().filter(pk__in=later_ids).order_by("session_number"))
        involved |= {row.provider_id for row in later}
        _lock(involved, rooms_at)
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if current.status not in _MOVABLE:
            raise InvalidTransition(f"A {current.get_status_display().lower()} appointment cannot be moved.")
        # Later sessions step aside inside this transaction only, so the re-plan can reuse their
        # times; each is restored to its own status at its new time below, or the rollback undoes it.
        statuses = {row.pk: row.status for row in later}
        Appointment.objects.filter(pk__in=statuses).update(status=Status.CANCELLED)
        place = _placement(
            provider=new_provider,
            visit_type=visit_type,
            location=location,
            start=start,
            policy=policy,
            now=now,
            exclude_appointment_id=current.pk,
        )
        old_date = current.local_start().date()
        _move_row(current, new_provider, place, by=by, now=now, reason=why)
        new_date = place.start.astimezone(tz).date()
        moved = PlannedSession(
            number=session_number,
            target_date=old_date,
            status=series_planner.SessionStatus.CHOSEN,
            provider_id=new_provider.pk,
            start=place.start,
            end=place.end,
            room_id=place.room_id,
            day_offset=(new_date - old_date).days,
            pinned=True,
        )
        replanned: list[PlannedSession] = []
        if later:
            rules = _series_rules_of(
                series,
                sessions=len(later),
                first_date=new_date + timedelta(days=_series_rules_of(series).gap_after(session_number)),
                first_number=session_number + 1,
                after_date=new_date,
            )
            replanned = _load_plan(
                rules=rules,
                provider=series.provider,
                visit_type=visit_type,
                location=location,
                policy=policy,
                now=now,
                choices={},
            )
        plan = [moved, *replanned]
        if dry_run:
            raise _DryRun(plan)
        _require_bookable(plan, tz)
        providers = Provider.objects.in_bulk({s.provider_id for s in replanned})
        for row, session in zip(later, replanned, strict=True):
            assert session.start is not None  # _require_bookable said so
            row_place = _placement(
                provider=providers[session.provider_id],
                visit_type=visit_type,
                location=location,
                start=session.start,
                policy=policy,
                now=now,
                exclude_appointment_id=row.pk,
            )
            row.status = statuses[row.pk]
            _move_row(row, providers[session.provider_id], row_place, by=by, now=now, reason=why, also=["status"])
        return plan

    try:
        return _write(write)
    except _DryRun as preview:
        return preview.plan
    except SlotTaken as exc:
        raise _with_alternatives(
            exc, provider=new_provider, visit_type=visit_type, location=location, start=start, policy=policy, now=now
        ) from exc.__cause__


def _move_row(
    row: Appointment,
    provider: Provider,
    place: Placement,
    *,
    by: User,
    now: datetime,
    reason: str,
    also: Sequence[str] = (),
) -> None:
    from_start, from_provider_id = row.start, row.provider_id
    row.provider = provider
    row.start, row.end = place.start, place.end
    row.block_start, row.block_end = place.block_start, place.block_end
    row.room_id = place.room_id
    fields = ["provider", "start", "end", "block_start", "block_end", "room", "updated_at", *also]
    row.save(update_fields=fields)
    _record(
        row,
        EventAction.MOVED,
        by=by,
        now=now,
        from_status=row.status,
        from_start=from_start,
        from_provider_id=from_provider_id,
        reason=reason,
    )


def preview_series_move(
    *,
    series: Series,
    session_number: int,
    start: datetime,
    provider: Provider | None = None,
    replan_later: bool = False,
    policy: Policy,
    now: datetime | None = None,
) -> list[PlannedSession]:
    """What move_series_session would do (the moved session, then the re-planned ones); writes nothing."""
    return _move_series(
        series=series,
        session_number=session_number,
        start=start,
        by=None,
        provider=provider,
        replan_later=replan_later,
        policy=policy,
        reason="",
        now=now or timezone.now(),
        dry_run=True,
    )


def move_series_session(
    *,
    series: Series,
    session_number: int,
    start: datetime,
    by: User,
    provider: Provider | None = None,
    replan_later: bool = False,
    policy: Policy,
    reason: str = "",
    now: datetime | None = None,
) -> Series:
    """Move one session; with replan_later, re-plan every later future session from its new date."""
    _move_series(
        series=series,
        session_number=session_number,
        start=start,
        by=by,
        provider=provider,
        replan_later=replan_later,
        policy=policy,
        reason=reason.strip()[:200],
        now=now or timezone.now(),
        dry_run=False,
    )
    series.refresh_from_db()
    return series


def _close_series(series: Series, *, to: SeriesStatus, by: User, reason: str, now: datetime) -> Series:
    """Compare-and-swap the series' status and cancel its remaining future sessions, atomically."""

    def write() -> Series:
        if not Series.objects.filter(pk=series.pk, status__in=_OPEN_SERIES).update(status=to):
            series.refresh_from_db()
            _require_open(series)
            raise InvalidTransition("This series was changed meanwhile; please look at it again.")
        remaining = Appointment.objects.select_for_update().filter(series=series, status__in=_MOVABLE, start__gt=now)
        for appointment in remaining:
            before = appointment.status
            appointment.status = Status.CANCELLED
            appointment.cancel_reason = reason
            appointment.save(update_fields=["status", "cancel_reason", "updated_at"])
            _record(appointment, EventAction.CANCELLED, by=by, now=now, from_status=before, reason=reason)
        series.refresh_from_db()
        return series

    return _write(write)


def cancel_series_remaining(*, series: Series, by: User, reason: str, now: datetime | None = None) -> Series:
    """Stop a series: cancel every remaining future session (the reason is kept on each)."""
    reason = reason.strip()[:200]
    if not reason:
        raise BookingError("reason_required", "Please give a reason for stopping the series.")
    return _close_series(series, to=SeriesStatus.STOPPED, by=by, reason=reason, now=now or timezone.now())


def complete_series(*, series: Series, by: User, now: datetime | None = None) -> Series:
    """The course is done: maintenance from now on, with no automatic bookings.

    Any session still booked in the future is cancelled, since the patient now returns only when
    pain recurs.
    """
    reason = "series completed: maintenance"
    return _close_series(series, to=SeriesStatus.COMPLETED, by=by, reason=reason, now=now or timezone.now())
