"""Moving one session of a booked series, optionally re-planning the later ones from its new date."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from booking.errors import BookingError, InvalidTransition, SlotTaken
from booking.models import Appointment, Series, Status
from booking.scheduling import series as series_planner
from booking.scheduling.availability import Policy
from booking.scheduling.series import PlannedSession
from booking.services import write_path as wp
from booking.services.series.book import MOVABLE, load_plan, require_bookable, require_open, series_rules_of
from booking.services.write_path import User
from clinic.models import Provider


class _DryRun(Exception):
    """Raised inside a transaction to roll it back and hand the plan to the caller."""

    def __init__(self, plan: list[PlannedSession]) -> None:
        super().__init__("dry run")
        self.plan = plan


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
    require_open(series)
    appointment = (
        series.appointments.filter(session_number=session_number, status__in=MOVABLE).select_related("provider").first()
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
            series.appointments.filter(session_number__gt=session_number, status__in=MOVABLE, start__gt=now)
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
        if current.status not in MOVABLE:
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
            rules = series_rules_of(
                series,
                sessions=len(later),
                first_date=new_date + timedelta(days=series_rules_of(series).gap_after(session_number)),
                first_number=session_number + 1,
                after_date=new_date,
            )
            replanned = load_plan(
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
        require_bookable(plan, tz)
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
