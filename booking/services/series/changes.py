"""Changing a booked series: extend it, stop what is left of it, or complete it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext_noop

from audit.registry import log_queryset_update
from booking.errors import BookingError, InvalidTransition
from booking.messaging import planning
from booking.models import Appointment, EventAction, Series, SeriesStatus, Status
from booking.scheduling.availability import Policy
from booking.scheduling.series import PlannedSession, SeriesRules
from booking.services import write_path as wp
from booking.services.series.book import (
    MOVABLE,
    OPEN_SERIES,
    Choices,
    book_series_rules,
    plan_for,
    require_open,
    series_choices,
    series_rules_of,
)


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
    probe = series_rules_of(series, sessions=1)
    return series_rules_of(
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
    """Preview `sessions` more sessions after the last one (a dry run). Reads only; no transaction or lock."""
    now = now or timezone.now()
    require_open(series)
    rules = _extension(series, sessions)
    return plan_for(series, rules, series_choices(choices, rules), policy=policy, now=now)


def extend_series(
    *,
    series: Series,
    sessions: int,
    by: User | None,
    choices: Choices = None,
    policy: Policy,
    now: datetime | None = None,
) -> Series:
    """Plan and book `sessions` more sessions after the last one, all or none."""
    now = now or timezone.now()
    require_open(series)
    wp.check_offer(series.provider, series.visit_type, series.location, policy)
    rules = _extension(series, sessions)
    picked = series_choices(choices, rules)
    planned_before = series.sessions_planned

    def locked_series() -> Series:
        current = Series.objects.select_for_update().get(pk=series.pk)
        require_open(current)
        if current.sessions_planned != planned_before:
            raise InvalidTransition(gettext_noop("This series was changed meanwhile; please look at it again."))
        current.sessions_planned = planned_before + sessions
        current.save(update_fields=["sessions_planned"])
        return current

    return book_series_rules(
        series=series, rules=rules, picked=picked, get_series=locked_series, by=by, policy=policy, now=now
    )


def _close_series(series: Series, *, to: SeriesStatus, by: User | None, reason: str, now: datetime) -> Series:
    """Compare-and-swap the series' status and cancel its remaining future sessions, atomically;
    their times are offered to the waitlist in the same transaction."""
    from booking.services.waitlist.offers import offer_after_cancellation  # waitlist books through appointments

    def write() -> Series:
        before = series.status
        if not Series.objects.filter(pk=series.pk, status__in=OPEN_SERIES).update(status=to):
            series.refresh_from_db()
            require_open(series)
            raise InvalidTransition(gettext_noop("This series was changed meanwhile; please look at it again."))
        log_queryset_update(series, by=by, changes={"status": (before, to)})
        remaining = Appointment.objects.select_for_update().filter(series=series, status__in=MOVABLE, start__gt=now)
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


def cancel_series_remaining(*, series: Series, by: User | None, reason: str, now: datetime | None = None) -> Series:
    """Stop a series: cancel every remaining future session (the reason is kept on each)."""
    reason = reason.strip()[:200]
    if not reason:
        raise BookingError("reason_required", "Please give a reason for stopping the series.")
    return _close_series(series, to=SeriesStatus.STOPPED, by=by, reason=reason, now=now or timezone.now())


def complete_series(*, series: Series, by: User | None, now: datetime | None = None) -> Series:
    """The course is done: maintenance from now on, with no automatic bookings.

    Any session still booked in the future is cancelled, since the patient now returns only when
    pain recurs.
    """
    reason = "series completed: maintenance"
    return _close_series(series, to=SeriesStatus.COMPLETED, by=by, reason=reason, now=now or timezone.now())
