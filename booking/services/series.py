"""Treatment series: plan in local wall time, book all sessions or none, and change them later."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from audit.registry import log_queryset_update
from booking.errors import BookingError, InvalidTransition, SeriesClash, SeriesNeedsChoice, SlotTaken
from booking.messaging import planning
from booking.models import Appointment, EventAction, Series, SeriesStatus, Status
from booking.scheduling import series as series_planner
from booking.scheduling.availability import Policy, Reason
from booking.scheduling.loading import load_schedule
from booking.scheduling.series import PlannedSession, SeriesRules, SessionChoice
from booking.services import write_path as wp
from booking.services.write_path import User
from clinic.models import Location, Provider, VisitType
from patients.models import Patient

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
        picked[number] = SessionChoice(wp.utc_start(choice.start), choice.provider_id)
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
        wp.check_offer(other, visit_type, location, policy)
    rooms_at = location if visit_type.needs_room else None
    attempting: list[int] = []

    def write() -> Series:
        wp.lock(providers, rooms_at)
        series = get_series()
        for session in plan:
            assert session.start is not None  # _require_bookable said so
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
    wp.check_offer(provider, visit_type, location, policy)
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
    wp.check_offer(provider, visit_type, location, policy)
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
    return _plan_for(series, rules, _series_choices(choices, rules), policy=policy, now=now)


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
    wp.check_offer(series.provider, series.visit_type, series.location, policy)
    rules = _extension(series, sessions)
    picked = _series_choices(choices, rules)
    planned_before = series.sessions_planned

    def locked_series() -> Series:
        current = Series.objects.select_for_update().get(pk=series.pk)
        _require_open(current)
        if current.sessions_planned != planned_before:
            raise InvalidTransition(gettext_noop("This series was changed meanwhile; please look at it again."))
        current.sessions_planned = planned_before + sessions
        current.save(update_fields=["sessions_planned"])
        return current

    return _book_series_rules(
        series=series, rules=rules, picked=picked, get_series=locked_series, by=by, policy=policy, now=now
    )


def _plan_for(
    series: Series, rules: SeriesRules, picked: dict[int, SessionChoice], *, policy: Policy, now: datetime
) -> list[PlannedSession]:
    """Plan `rules` with the series' provider, visit type and location."""
    return _load_plan(
        rules=rules,
        provider=series.provider,
        visit_type=series.visit_type,
        location=series.location,
        policy=policy,
        now=now,
        choices=picked,
    )


def _book_series_rules(
    *,
    series: Series,
    rules: SeriesRules,
    picked: dict[int, SessionChoice],
    get_series: Callable[[], Series],
    by: User,
    policy: Policy,
    now: datetime,
) -> Series:
    """Plan `rules` for the series' provider and book every session, re-planning on a clash at commit."""

    def replan() -> list[PlannedSession]:
        return _plan_for(series, rules, picked, policy=policy, now=now)

    booked = _book_sessions(
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
    start = wp.utc_start(start)
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
    wp.check_offer(new_provider, visit_type, location, policy)
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
        wp.lock(involved, rooms_at)
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if current.status not in _MOVABLE:
            raise InvalidTransition(f"A {current.get_status_display().lower()} appointment cannot be moved.")
        # Later sessions step aside inside this transaction only, so the re-plan can reuse their
        # times; each is restored to its own status at its new time below, or the rollback undoes it.
        statuses = {row.pk: row.status for row in later}
        Appointment.objects.filter(pk__in=statuses).update(status=Status.CANCELLED)
        place = wp.placement_for(
            provider=new_provider,
            visit_type=visit_type,
            location=location,
            start=start,
            policy=policy,
            now=now,
            patient_id=series.patient_id,
            exclude_appointment_id=current.pk,
        )
        old_date = current.local_start().date()
        wp.move_row(current, new_provider, place, by=by, now=now, reason=why)
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
            row_place = wp.placement_for(
                provider=providers[session.provider_id],
                visit_type=visit_type,
                location=location,
                start=session.start,
                policy=policy,
                now=now,
                patient_id=series.patient_id,
                exclude_appointment_id=row.pk,
            )
            row.status = statuses[row.pk]
            wp.move_row(row, providers[session.provider_id], row_place, by=by, now=now, reason=why, also=["status"])
        return plan

    try:
        return wp.write(write)
    except _DryRun as preview:
        return preview.plan
    except SlotTaken as exc:
        raise wp.with_alternatives(
            exc, provider=new_provider, visit_type=visit_type, location=location, start=start, policy=policy, now=now
        ) from exc.__cause__


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
    """Compare-and-swap the series' status and cancel its remaining future sessions, atomically;
    their times are offered to the waitlist in the same transaction."""
    from booking.services.waitlist import offer_after_cancellation  # waitlist books through appointments

    def write() -> Series:
        before = series.status
        if not Series.objects.filter(pk=series.pk, status__in=_OPEN_SERIES).update(status=to):
            series.refresh_from_db()
            _require_open(series)
            raise InvalidTransition(gettext_noop("This series was changed meanwhile; please look at it again."))
        log_queryset_update(series, by=by, changes={"status": (before, to)})
        remaining = Appointment.objects.select_for_update().filter(series=series, status__in=_MOVABLE, start__gt=now)
        for appointment in remaining:
            before = appointment.status
            appointment.status = Status.CANCELLED
            appointment.cancel_reason = reason
            appointment.save(update_fields=["status", "cancel_reason", "updated_at"])
            wp.record(appointment, EventAction.CANCELLED, by=by, now=now, from_status=before, reason=reason)
            planning.cancel_for(appointment, now=now)
            offer_after_cancellation(appointment, now=now)
        series.refresh_from_db()
        return series

    return wp.write(write)


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


# --- prescriptions: a series planned by the provider, booked later by the patient or desk ---


def prescribe_series(
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
    by: User,
    policy: Policy,
) -> Series:
    """Save a series' parameters without booking it: status planned, no appointments.

    Refused (422) on the same rules as book_series: the provider must offer the visit there and
    the numbers must be in range.
    """
    wp.check_offer(provider, visit_type, location, policy)
    _series_rules(
        sessions=sessions,
        first_date=date.min,  # chosen when the prescription is booked
        gap_days=gap_days,
        tolerance_days=tolerance_days,
        taper_days=taper_days,
        preferred_time=preferred_time,
    )
    with transaction.atomic():
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


def is_prescription(series: Series) -> bool:
    """A planned series with no sessions yet: what a patient can book from their page."""
    return series.status == SeriesStatus.PLANNED and not series.appointments.exists()


def _prescription_rules(series: Series, first_date: date) -> SeriesRules:
    return _series_rules(
        sessions=series.sessions_planned,
        first_date=first_date,
        gap_days=series.gap_days,
        tolerance_days=series.tolerance_days,
        taper_days=series.taper_days or (),
        preferred_time=series.preferred_time,
    )


def plan_prescribed_series(
    *, series: Series, first_date: date, choices: Choices = None, policy: Policy, now: datetime | None = None
) -> list[PlannedSession]:
    """Preview a prescription from `first_date` with its stored parameters (a dry run)."""
    now = now or timezone.now()
    _require_prescription(series)
    wp.check_offer(series.provider, series.visit_type, series.location, policy)
    rules = _prescription_rules(series, first_date)
    return _plan_for(series, rules, _series_choices(choices, rules), policy=policy, now=now)


def book_prescribed_series(
    *, series: Series, first_date: date, choices: Choices = None, by: User, policy: Policy, now: datetime | None = None
) -> Series:
    """Book every session of a prescription from `first_date`, or none (as book_series).

    SeriesNeedsChoice (422), SeriesClash (409) as book_series; InvalidTransition (409) when the
    prescription was booked or stopped meanwhile.
    """
    now = now or timezone.now()
    _require_prescription(series)
    wp.check_offer(series.provider, series.visit_type, series.location, policy)
    rules = _prescription_rules(series, first_date)
    picked = _series_choices(choices, rules)

    def locked_prescription() -> Series:
        current = Series.objects.select_for_update().get(pk=series.pk)
        _require_prescription(current)  # a second click, or the desk booked it meanwhile
        return current

    return _book_series_rules(
        series=series, rules=rules, picked=picked, get_series=locked_prescription, by=by, policy=policy, now=now
    )


def _require_prescription(series: Series) -> None:
    if not is_prescription(series):
        raise InvalidTransition(gettext_noop("This series is already booked or closed; please look at it again."))
