"""Moving one session of a booked series, optionally re-planning the later ones from its new date.

The preview and the move make their plan with the same function, `_plan_move`: it reads the
calendar as if the session and the later sessions had stepped aside, places the session, and
re-plans the later ones with the pure planner. The preview stops there (no transaction, no lock,
no write); the move does the same under the lock and then writes what it planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from booking.errors import BookingError, InvalidTransition, SlotTaken
from booking.models import Appointment, Series, Status
from booking.scheduling import series as series_planner
from booking.scheduling.availability import Policy
from booking.scheduling.loading import load_schedule
from booking.scheduling.series import PlannedSession
from booking.services import write_path as wp
from booking.services.series.book import MOVABLE, require_bookable, require_open, series_rules_of
from clinic.models import Provider


@dataclass(frozen=True)
class _Move:
    """What is asked: the session's row, where it goes, and the later sessions to re-plan."""

    series: Series
    session_number: int
    appointment: Appointment
    provider: Provider
    start: datetime
    later_ids: list[int]


@dataclass(frozen=True)
class _MovePlan:
    place: wp.Placement
    stale_holds: list[int]  # run-out holds in the moved session's way: the move releases them
    sessions: list[PlannedSession]  # the moved session, then the re-planned ones


def _move_of(
    *,
    series: Series,
    session_number: int,
    start: datetime,
    provider: Provider | None,
    replan_later: bool,
    policy: Policy,
    now: datetime,
) -> _Move:
    """Check the request against the series as it is (reads only): 422 or 409 when it cannot be."""
    start = wp.utc_start(start)
    require_open(series)
    appointment = (
        series.appointments.filter(session_number=session_number, status__in=MOVABLE).select_related("provider").first()
    )
    if appointment is None:
        raise BookingError("no_such_session", f"Session {session_number} is not booked, so it cannot be moved.")
    new_provider = provider or appointment.provider
    wp.check_offer(new_provider, series.visit_type, series.location, policy)
    later_ids: list[int] = []
    if replan_later:
        later_ids = list(
            series.appointments.filter(session_number__gt=session_number, status__in=MOVABLE, start__gt=now)
            .order_by("session_number")
            .values_list("pk", flat=True)
        )
    return _Move(
        series=series,
        session_number=session_number,
        appointment=appointment,
        provider=new_provider,
        start=start,
        later_ids=later_ids,
    )


def _plan_move(move: _Move, current: Appointment, *, policy: Policy, now: datetime) -> _MovePlan:
    """Place the session and re-plan the later ones, reading the calendar as if they had all
    stepped aside (their old times are free to reuse). Reads only: no transaction, lock or write."""
    series = move.series
    visit_type, location, tz = series.visit_type, series.location, series.location.tz
    stepping_aside = [current.pk, *move.later_ids]
    day = wp.placement_schedule(
        provider=move.provider,
        visit_type=visit_type,
        location=location,
        start=move.start,
        now=now,
        patient_id=series.patient_id,
        exclude_appointment_ids=stepping_aside,
    )
    place = wp.placement_in(
        day, provider=move.provider, visit_type=visit_type, location=location, start=move.start, policy=policy
    )
    old_date = current.local_start().date()
    moved = series_planner.moved_session(
        number=move.session_number,
        old_date=old_date,
        provider_id=move.provider.pk,
        start=place.start,
        end=place.end,
        room_id=place.room_id,
        tz=tz,
    )
    replanned: list[PlannedSession] = []
    if move.later_ids:
        number, new_date = move.session_number, moved.date
        rules = series_rules_of(
            series,
            sessions=len(move.later_ids),
            first_date=new_date + timedelta(days=series_rules_of(series).gap_after(number)),
            first_number=number + 1,
            after_date=new_date,
        )
        first_day, last_day = series_planner.planning_window(rules, tz)
        window = load_schedule(
            visit_type=visit_type,
            location=location,
            first_day=first_day,
            last_day=last_day,
            now=now,
            exclude_appointment_ids=stepping_aside,
        )
        replanned = series_planner.plan_after_move(
            window, rules, moved=moved, provider_id=series.provider_id, policy=policy
        )
    return _MovePlan(
        place=place,
        stale_holds=wp.stale_holds_in_the_way(day, move.provider, place),
        sessions=[moved, *replanned],
    )


def _with_alternatives(exc: SlotTaken, move: _Move, *, policy: Policy, now: datetime) -> SlotTaken:
    series = move.series
    return wp.with_alternatives(
        exc,
        provider=move.provider,
        visit_type=series.visit_type,
        location=series.location,
        start=move.start,
        policy=policy,
        now=now,
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
    """What move_series_session would do (the moved session, then the re-planned ones).

    Reads only: no transaction, no lock, no write. Refused as the move would be (422, or 409
    with free times nearby); a later session that would need a choice shows as needs_choice.
    """
    now = now or timezone.now()
    move = _move_of(
        series=series,
        session_number=session_number,
        start=start,
        provider=provider,
        replan_later=replan_later,
        policy=policy,
        now=now,
    )
    try:
        return _plan_move(move, move.appointment, policy=policy, now=now).sessions
    except SlotTaken as exc:
        raise _with_alternatives(exc, move, policy=policy, now=now) from exc.__cause__


def move_series_session(
    *,
    series: Series,
    session_number: int,
    start: datetime,
    by: User | None,
    provider: Provider | None = None,
    replan_later: bool = False,
    policy: Policy,
    reason: str = "",
    now: datetime | None = None,
) -> Series:
    """Move one session; with replan_later, re-plan every later future session from its new date."""
    now = now or timezone.now()
    move = _move_of(
        series=series,
        session_number=session_number,
        start=start,
        provider=provider,
        replan_later=replan_later,
        policy=policy,
        now=now,
    )
    why = reason.strip()[:200] or f"session {session_number} of the series moved"
    try:
        wp.write(lambda: _write_move(move, by=by, policy=policy, reason=why, now=now))
    except SlotTaken as exc:
        raise _with_alternatives(exc, move, policy=policy, now=now) from exc.__cause__
    series.refresh_from_db()
    return series


def _write_move(move: _Move, *, by: User | None, policy: Policy, reason: str, now: datetime) -> list[PlannedSession]:
    """Inside the transaction: lock, plan as the preview does, then move every row; all or nothing."""
    series = move.series
    location, tz = series.location, series.location.tz
    later = list(Appointment.objects.select_for_update().filter(pk__in=move.later_ids).order_by("session_number"))
    involved = {move.appointment.provider_id, move.provider.pk, series.provider_id, *(row.provider_id for row in later)}
    wp.lock(involved, location if series.visit_type.needs_room else None)
    current = Appointment.objects.select_for_update().get(pk=move.appointment.pk)
    if current.status not in MOVABLE:
        raise InvalidTransition(f"A {current.get_status_display().lower()} appointment cannot be moved.")
    plan = _plan_move(move, current, policy=policy, now=now)
    require_bookable(plan.sessions, tz)
    # The later sessions step aside (the plan reused their times); each is restored to its own
    # status at its new time below, or the rollback undoes it.
    statuses = {row.pk: row.status for row in later}
    Appointment.objects.filter(pk__in=statuses).update(status=Status.CANCELLED)
    wp.release_stale_holds(plan.stale_holds, now)
    wp.move_row(current, move.provider, plan.place, by=by, now=now, reason=reason)
    replanned = plan.sessions[1:]
    providers = Provider.objects.in_bulk({s.provider_id for s in replanned})
    for row, session in zip(later, replanned, strict=True):
        assert session.start is not None  # require_bookable said so
        row_place = wp.placement_for(
            provider=providers[session.provider_id],
            visit_type=series.visit_type,
            location=location,
            start=session.start,
            policy=policy,
            now=now,
            patient_id=series.patient_id,
            exclude_appointment_id=row.pk,
        )
        row.status = statuses[row.pk]
        wp.move_row(row, providers[session.provider_id], row_place, by=by, now=now, reason=reason, also=["status"])
    return plan.sessions
