"""Prescriptions: a series planned by the provider, booked later by the patient or the desk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from booking.errors import InvalidTransition
from booking.models import Series, SeriesStatus
from booking.scheduling.availability import Policy
from booking.scheduling.series import PlannedSession
from booking.services import write_path as wp
from booking.services.series.book import (
    Choices,
    book_series_rules,
    new_series,
    offered_rules,
    plan_for,
    series_choices,
    series_rules_of,
)
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
    by: User | None,
    policy: Policy,
) -> Series:
    """Save a series' parameters without booking it: status planned, no appointments.

    Refused (422) on the same rules as book_series: the provider must offer the visit there and
    the numbers must be in range.
    """
    rules = offered_rules(
        provider=provider,
        visit_type=visit_type,
        location=location,
        policy=policy,
        sessions=sessions,
        first_date=date.min,  # chosen when the prescription is booked
        gap_days=gap_days,
        tolerance_days=tolerance_days,
        taper_days=taper_days,
        preferred_time=preferred_time,
    )
    with transaction.atomic():
        return new_series(
            patient=patient, provider=provider, visit_type=visit_type, location=location, rules=rules, by=by
        )


def is_prescription(series: Series) -> bool:
    """A planned series with no sessions yet: what a patient can book from their page."""
    return series.status == SeriesStatus.PLANNED and not series.appointments.exists()


def _require_prescription(series: Series) -> None:
    if not is_prescription(series):
        raise InvalidTransition(gettext_noop("This series is already booked or closed; please look at it again."))


def plan_prescribed_series(
    *, series: Series, first_date: date, choices: Choices = None, policy: Policy, now: datetime | None = None
) -> list[PlannedSession]:
    """Preview a prescription from `first_date` with its stored parameters (a dry run). Reads only."""
    now = now or timezone.now()
    _require_prescription(series)
    wp.check_offer(series.provider, series.visit_type, series.location, policy)
    rules = series_rules_of(series, first_date=first_date)
    return plan_for(series, rules, series_choices(choices, rules), policy=policy, now=now)


def book_prescribed_series(
    *,
    series: Series,
    first_date: date,
    choices: Choices = None,
    by: User | None,
    policy: Policy,
    now: datetime | None = None,
) -> Series:
    """Book every session of a prescription from `first_date`, or none (as book_series).

    SeriesNeedsChoice (422), SeriesClash (409) as book_series; InvalidTransition (409) when the
    prescription was booked or stopped meanwhile.
    """
    now = now or timezone.now()
    _require_prescription(series)
    wp.check_offer(series.provider, series.visit_type, series.location, policy)
    rules = series_rules_of(series, first_date=first_date)
    picked = series_choices(choices, rules)

    def locked_prescription() -> Series:
        current = Series.objects.select_for_update().get(pk=series.pk)
        _require_prescription(current)  # a second click, or the desk booked it meanwhile
        return current

    return book_series_rules(
        series=series, rules=rules, picked=picked, get_series=locked_prescription, by=by, policy=policy, now=now
    )
