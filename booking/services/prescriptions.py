"""A prescribed series: the provider's plan saved without times, booked later by the patient or the desk.

A prescription is a Series row with status `planned` and no appointments. Booking it places its
sessions with the stored parameters and a first date chosen then, through the same planner,
lock, checks and all-or-nothing transaction as `book_series`; the sessions go into the
prescribed row, so who prescribed it (`created_by`) stays on the series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from django.db import transaction
from django.utils import timezone

from booking.availability import Policy
from booking.errors import InvalidTransition
from booking.models import Series, SeriesStatus
from booking.series import PlannedSession, SeriesRules
from booking.services import write_path as wp
from booking.services.series import Choices, _book_sessions, _load_plan, _series_choices, _series_rules
from booking.services.write_path import User
from clinic.models import Location, Provider, VisitType
from patients.models import Patient


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
    return _load_plan(
        rules=rules,
        provider=series.provider,
        visit_type=series.visit_type,
        location=series.location,
        policy=policy,
        now=now,
        choices=_series_choices(choices, rules),
    )


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

    def locked_prescription() -> Series:
        current = Series.objects.select_for_update().get(pk=series.pk)
        _require_prescription(current)  # a second click, or the desk booked it meanwhile
        return current

    booked = _book_sessions(
        get_series=locked_prescription,
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


def _require_prescription(series: Series) -> None:
    if not is_prescription(series):
        raise InvalidTransition("This series is already booked or closed; please look at it again.")
