"""Booking a new series: plan it in local wall time, then book every session or none.

A series is planned by the pure booking.scheduling.series.plan over one Schedule for the whole
window, then booked in ONE transaction through the same lock and checks as book_appointment: all
sessions or none. The helpers here are shared with extensions, moves and prescriptions.
See docs/series.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.utils import timezone

from booking.errors import BookingError, InvalidTransition, SeriesClash, SeriesNeedsChoice, SlotTaken
from booking.messaging import planning
from booking.models import Appointment, EventAction, Series, SeriesStatus, Status
from booking.scheduling import series as series_planner
from booking.scheduling.availability import Policy, Reason
from booking.scheduling.loading import load_schedule
from booking.scheduling.series import PlannedSession, SeriesRules, SessionChoice
from booking.services import write_path as wp
from clinic.models import Location, Provider, VisitType
from patients.models import Patient

MAX_SERIES_SESSIONS = 52  # the database's booking_series_sessions_in_range
MAX_GAP_DAYS = 90
MAX_TOLERANCE_DAYS = 14
OPEN_SERIES = (SeriesStatus.PLANNED, SeriesStatus.ACTIVE)
MOVABLE = (Status.HELD, Status.BOOKED)

Choices = Mapping[int, SessionChoice | datetime] | None


def series_rules(
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


def offered_rules(
    *,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    policy: Policy,
    sessions: int,
    first_date: date,
    gap_days: int,
    tolerance_days: int,
    taper_days: Sequence[int],
    preferred_time: time,
) -> SeriesRules:
    """A new series' rules, once the provider offers the visit there (422 otherwise, as for numbers out of range)."""
    wp.check_offer(provider, visit_type, location, policy)
    return series_rules(
        sessions=sessions,
        first_date=first_date,
        gap_days=gap_days,
        tolerance_days=tolerance_days,
        taper_days=taper_days,
        preferred_time=preferred_time,
    )


def new_series(
    *,
    patient: Patient,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    rules: SeriesRules,
    by: User | None,
) -> Series:
    """The series row for these rules: planned, with no sessions yet (booking them is the caller's)."""
    return Series.objects.create(
        patient=patient,
        provider=provider,
        visit_type=visit_type,
        location=location,
        sessions_planned=rules.sessions,
        gap_days=rules.gap_days,
        tolerance_days=rules.tolerance_days,
        taper_days=list(rules.taper_days),
        preferred_time=rules.preferred_time,
        status=SeriesStatus.PLANNED,
        created_by=by,
    )


def series_rules_of(series: Series, **overrides: Any) -> SeriesRules:
    """The rules of a stored series (its first date unknown unless given), with `overrides`."""
    values: dict[str, Any] = {
        "sessions": series.sessions_planned,
        "first_date": date.min,
        "gap_days": series.gap_days,
        "tolerance_days": series.tolerance_days,
        "taper_days": series.taper_days or (),
        "preferred_time": series.preferred_time,
        **overrides,
    }
    return series_rules(**values)


def series_choices(choices: Choices, rules: SeriesRules) -> dict[int, SessionChoice]:
    """A person's picks by session number, as UTC starts; 422 for a session the rules do not have."""
    picked: dict[int, SessionChoice] = {}
    for number, choice in (choices or {}).items():
        if number not in rules.numbers:
            raise BookingError("invalid_choice", f"There is no session {number} to choose a time for.")
        if isinstance(choice, datetime):
            choice = SessionChoice(choice)
        picked[number] = SessionChoice(wp.utc_start(choice.start), choice.provider_id)
    return picked


def require_open(series: Series) -> None:
    if series.status not in OPEN_SERIES:
        label = SeriesStatus(series.status).label.lower()
        raise InvalidTransition(f"This series is {label}; its sessions can no longer be changed.")


def load_plan(
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


def plan_for(
    series: Series, rules: SeriesRules, picked: Mapping[int, SessionChoice], *, policy: Policy, now: datetime
) -> list[PlannedSession]:
    """Plan `rules` with the series' provider, visit type and location."""
    return load_plan(
        rules=rules,
        provider=series.provider,
        visit_type=series.visit_type,
        location=series.location,
        policy=policy,
        now=now,
        choices=picked,
    )


def require_bookable(plan: list[PlannedSession], tz: ZoneInfo) -> None:
    """SeriesClash (409) for a pinned time already taken, SeriesNeedsChoice (422) for a session
    with no time inside its tolerance."""
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


def book_sessions(
    *,
    get_series: Callable[[], Series],
    plan: list[PlannedSession],
    patient: Patient,
    visit_type: VisitType,
    location: Location,
    by: User | None,
    policy: Policy,
    now: datetime,
    replan: Callable[[], list[PlannedSession]],
) -> Series:
    """Insert every planned session in one transaction, re-checked under the lock; all or none."""
    require_bookable(plan, location.tz)
    providers = Provider.objects.in_bulk({session.provider_id for session in plan})
    for other in providers.values():
        wp.check_offer(other, visit_type, location, policy)
    rooms_at = location if visit_type.needs_room else None
    attempting: list[int] = []

    def write() -> Series:
        wp.lock(providers, rooms_at)
        series = get_series()
        for session in plan:
            assert session.start is not None  # require_bookable said so
            attempting[:] = [session.number]
            try:
                place = wp.placement_for(
                    provider=providers[session.provider_id],
                    visit_type=visit_type,
                    location=location,
                    start=session.start,
                    policy=policy,
                    now=now,
                    patient_id=patient.pk,
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
            wp.record(appointment, EventAction.BOOKED, by=by, now=now, reason=reason)
            planning.schedule_for(appointment, now=now, confirmation=False, new=True)
            if session is plan[0]:
                planning.series_summary_for(appointment, now=now)  # one message for the whole series
        if series.status == SeriesStatus.PLANNED:
            series.status = SeriesStatus.ACTIVE
            series.save(update_fields=["status"])
        return series

    try:
        return wp.write(write)
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


def book_series_rules(
    *,
    series: Series,
    rules: SeriesRules,
    picked: Mapping[int, SessionChoice],
    get_series: Callable[[], Series],
    by: User | None,
    policy: Policy,
    now: datetime,
) -> Series:
    """Plan `rules` for the series' provider and book every session, re-planning on a clash at commit."""

    def replan() -> list[PlannedSession]:
        return plan_for(series, rules, picked, policy=policy, now=now)

    booked = book_sessions(
        get_series=get_series,
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
    return booked


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
    """Preview a series (a dry run): where each session would go. Reads only; no transaction or lock."""
    now = now or timezone.now()
    rules = offered_rules(
        provider=provider,
        visit_type=visit_type,
        location=location,
        policy=policy,
        sessions=sessions,
        first_date=first_date,
        gap_days=gap_days,
        tolerance_days=tolerance_days,
        taper_days=taper_days,
        preferred_time=preferred_time,
    )
    picked = series_choices(choices, rules)
    return load_plan(
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
    by: User | None,
    policy: Policy,
    now: datetime | None = None,
) -> Series:
    """Plan and book a whole series in one transaction: every session or none.

    SeriesNeedsChoice (422) when a session has no time inside its tolerance and no choice;
    SeriesClash (409) when a time was taken meanwhile, with the plan made again.
    """
    now = now or timezone.now()
    rules = offered_rules(
        provider=provider,
        visit_type=visit_type,
        location=location,
        policy=policy,
        sessions=sessions,
        first_date=first_date,
        gap_days=gap_days,
        tolerance_days=tolerance_days,
        taper_days=taper_days,
        preferred_time=preferred_time,
    )
    picked = series_choices(choices, rules)

    def replan() -> list[PlannedSession]:
        return load_plan(
            rules=rules,
            provider=provider,
            visit_type=visit_type,
            location=location,
            policy=policy,
            now=now,
            choices=picked,
        )

    def create_series() -> Series:
        return new_series(
            patient=patient, provider=provider, visit_type=visit_type, location=location, rules=rules, by=by
        )

    return book_sessions(
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
