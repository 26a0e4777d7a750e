"""Treatment series in the JSON API: plan (dry run) or book, read, extend, move a session, cancel
the rest, complete. Staff only for every change; every write goes through booking.services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from booking import services
from booking.api.appointments import appointment_out
from booking.api.lookups import caller, get_series_for, shown, visit_type_or_404
from booking.api.schemas import (
    SERIES_RESPONSES,
    CancelIn,
    ExtendIn,
    SeriesIn,
    SeriesMoveIn,
    SeriesOut,
    SeriesPlanOut,
)
from booking.models import Series
from booking.scheduling.availability import STAFF_POLICY
from booking.scheduling.series import PlannedSession, SessionChoice, plan_as_dict
from clinic.api import AUTH, ErrorOut, require_staff
from clinic.models import Location, Provider
from patients.models import Patient

router = Router()


def series_out(series: Series) -> dict[str, Any]:
    appointments = list(
        series.appointments.select_related("patient", "location", "visit_type").order_by("session_number", "start")
    )
    for appointment in appointments:
        appointment.series = series  # "session k of n" without a query per row
    return {
        "id": series.pk,
        "patient": series.patient_id,
        "provider": series.provider_id,
        "visit_type": series.visit_type.slug,
        "location": series.location_id,
        "timezone": series.location.timezone,
        "sessions_planned": series.sessions_planned,
        "gap_days": series.gap_days,
        "tolerance_days": series.tolerance_days,
        "taper_days": list(series.taper_days or []),
        "preferred_time": series.preferred_time.strftime("%H:%M"),
        "status": series.status,
        "appointments": [appointment_out(a) for a in appointments],
    }


def _choices(choices: dict[int, Any]) -> dict[int, SessionChoice]:
    return {
        number: SessionChoice(choice) if isinstance(choice, datetime) else SessionChoice(choice.start, choice.provider)
        for number, choice in choices.items()
    }


def _plan_out(plan: list[PlannedSession], location: Location) -> dict[str, Any]:
    return plan_as_dict(plan, location.tz)


@router.post("series", auth=AUTH, response={200: SeriesPlanOut, 201: SeriesOut, **SERIES_RESPONSES})
def create_series(request: HttpRequest, payload: SeriesIn, dry_run: bool = False) -> Any:
    """Plan a series: with ?dry_run=1 the preview (nothing written), otherwise book every session or none."""
    user = require_staff(request)
    provider = get_object_or_404(Provider, pk=payload.provider)
    location = get_object_or_404(Location, pk=payload.location)
    rules: dict[str, Any] = {
        "provider": provider,
        "visit_type": visit_type_or_404(payload.visit_type),
        "location": location,
        "sessions": payload.sessions,
        "gap_days": payload.gap_days,
        "tolerance_days": payload.tolerance_days,
        "taper_days": payload.taper_days,
        "preferred_time": payload.preferred_time,
        "first_date": payload.first_date,
        "choices": _choices(payload.choices),
        "policy": STAFF_POLICY,
    }
    if dry_run:
        return Status(200, _plan_out(services.plan_series(**rules), location))
    patient = get_object_or_404(Patient, pk=payload.patient)
    series = services.book_series(patient=patient, by=user, **rules)
    return Status(201, shown(request, series_out(series)))


@router.get("series/{series_id}", auth=AUTH, response={200: SeriesOut, 404: ErrorOut})
def get_series(request: HttpRequest, series_id: int) -> Any:
    return shown(request, series_out(get_series_for(caller(request), series_id)))


@router.post("series/{series_id}/cancel-remaining", auth=AUTH, response={200: SeriesOut, **SERIES_RESPONSES})
def cancel_series_remaining(request: HttpRequest, series_id: int, payload: CancelIn) -> Any:
    user = require_staff(request)
    series = get_series_for(user, series_id)
    return shown(request, series_out(services.cancel_series_remaining(series=series, by=user, reason=payload.reason)))


@router.post("series/{series_id}/complete", auth=AUTH, response={200: SeriesOut, **SERIES_RESPONSES})
def complete_series(request: HttpRequest, series_id: int) -> Any:
    user = require_staff(request)
    series = get_series_for(user, series_id)
    return shown(request, series_out(services.complete_series(series=series, by=user)))


@router.post("series/{series_id}/extend", auth=AUTH, response={200: SeriesOut | SeriesPlanOut, **SERIES_RESPONSES})
def extend_series(request: HttpRequest, series_id: int, payload: ExtendIn, dry_run: bool = False) -> Any:
    """Add sessions after the last one; ?dry_run=1 returns the preview of the new sessions."""
    user = require_staff(request)
    series = get_series_for(user, series_id)
    choices = _choices(payload.choices)
    if dry_run:
        plan = services.plan_series_extension(
            series=series, sessions=payload.sessions, choices=choices, policy=STAFF_POLICY
        )
        return _plan_out(plan, series.location)
    extended = services.extend_series(
        series=series, sessions=payload.sessions, choices=choices, by=user, policy=STAFF_POLICY
    )
    return shown(request, series_out(extended))


@router.post(
    "series/{series_id}/sessions/{session_number}/move",
    auth=AUTH,
    response={200: SeriesOut | SeriesPlanOut, **SERIES_RESPONSES},
)
def move_series_session(
    request: HttpRequest, series_id: int, session_number: int, payload: SeriesMoveIn, dry_run: bool = False
) -> Any:
    """Move one session (optionally re-planning the later ones); ?dry_run=1 previews the result."""
    user = require_staff(request)
    series = get_series_for(user, series_id)
    provider = get_object_or_404(Provider, pk=payload.provider) if payload.provider else None
    move: dict[str, Any] = {
        "series": series,
        "session_number": session_number,
        "start": payload.start,
        "provider": provider,
        "replan_later": payload.replan_later,
        "policy": STAFF_POLICY,
    }
    if dry_run:
        return _plan_out(services.preview_series_move(**move), series.location)
    return shown(request, series_out(services.move_series_session(by=user, reason=payload.reason, **move)))
