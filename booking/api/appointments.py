"""Appointments in the JSON API: book or hold, list, read, move, cancel, confirm, check in, no-show.

Every write goes through booking.services.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.errors import HttpError

from booking import services
from booking.api.lookups import (
    caller,
    get_appointment_for,
    policy_for,
    shown,
    visible_appointments,
    visit_type_filter,
    visit_type_or_404,
)
from booking.api.schemas import WRITE_RESPONSES, AppointmentFilter, AppointmentIn, AppointmentOut, CancelIn, MoveIn
from booking.models import Appointment
from clinic.access import is_staff_member, patients_viewed
from clinic.api import AUTH, ErrorOut, require_staff
from clinic.lookups import fetch_together
from clinic.models import Location, Provider, VisitType
from patients.access import patient_for
from patients.models import Patient

router = Router()


def appointment_out(appointment: Appointment) -> dict[str, Any]:
    tz = appointment.location.tz
    series = appointment.series
    return {
        "id": appointment.pk,
        "patient": appointment.patient_id,
        "patient_name": appointment.patient.full_name,
        "provider": appointment.provider_id,
        "location": appointment.location_id,
        "visit_type": appointment.visit_type.slug,
        "room": appointment.room_id,
        "start": appointment.start.astimezone(tz),
        "end": appointment.end.astimezone(tz),
        "status": appointment.status,
        "hold_expires_at": appointment.hold_expires_at,
        "series": appointment.series_id,
        "session_number": appointment.session_number,
        "sessions_planned": series.sessions_planned if series else None,
        "session_label": session_label(appointment),
    }


def session_label(appointment: Appointment) -> str | None:
    """ "session k of n" for a session of a series; None for a single visit."""
    if appointment.series is None or appointment.session_number is None:
        return None
    return f"session {appointment.session_number} of {appointment.series.sessions_planned}"


@router.post("appointments", auth=AUTH, response={201: AppointmentOut, **WRITE_RESPONSES})
def create_appointment(request: HttpRequest, payload: AppointmentIn) -> Any:
    user = caller(request)
    staff = is_staff_member(user)
    if staff and payload.patient is None:
        raise HttpError(400, "patient is required.")
    # Staff book for the patient they name; a patient books for themselves only.
    patient_filter = {"pk": payload.patient} if staff else {"user": user.pk}
    found = fetch_together(  # one round trip for all four
        (Patient, patient_filter),
        (Provider, {"pk": payload.provider}),
        (VisitType, visit_type_filter(payload.visit_type)),
        (Location, {"pk": payload.location}),
    )
    if found is None:  # say what is missing
        patient = get_object_or_404(Patient, pk=payload.patient) if staff else patient_for(user)
        if patient is None:
            raise Http404("Patient not found.")
        found = [
            patient,
            get_object_or_404(Provider, pk=payload.provider),
            visit_type_or_404(payload.visit_type),
            get_object_or_404(Location, pk=payload.location),
        ]
    patient, provider, visit_type, location = found
    if not staff and payload.patient not in (None, patient.pk):
        raise Http404("Patient not found.")
    appointment = services.book_appointment(
        patient=patient,
        provider=provider,
        visit_type=visit_type,
        location=location,
        start=payload.start,
        by=user,
        policy=policy_for(user),
        hold=payload.hold,
        notes=payload.notes,
    )
    return Status(201, shown(request, appointment_out(appointment)))


# What the list needs, read as plain values: no patient, location, visit type or series objects
# (a patient row parses its phone number), and no validation of each row on the way out.
_LIST_VALUES = {
    "id": "id",
    "patient": "patient_id",
    "first_name": "patient__first_name",
    "last_name": "patient__last_name",
    "provider": "provider_id",
    "location": "location_id",
    "timezone": "location__timezone",
    "visit_type": "visit_type__slug",
    "room": "room_id",
    "start": "start",
    "end": "end",
    "status": "status",
    "hold_expires_at": "hold_expires_at",
    "series": "series_id",
    "session_number": "session_number",
    "sessions_planned": "series__sessions_planned",
}


def _iso(value: datetime | None, tz: Any = None) -> str | None:
    """An aware date-time as the API writes it: in `tz` with its offset, else UTC as "Z"."""
    if value is None:
        return None
    return (
        value.astimezone(tz).isoformat() if tz is not None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    )


def _listed(row: dict[str, Any], zones: dict[str, Any]) -> dict[str, Any]:
    """One list row in the shape of AppointmentOut (test_api checks they agree)."""
    tz = zones.get(row["timezone"]) or zones.setdefault(row["timezone"], ZoneInfo(row["timezone"]))
    series, number = row["series"], row["session_number"]
    return {
        "id": row["id"],
        "patient": row["patient"],
        "patient_name": f"{row['first_name']} {row['last_name']}",
        "provider": row["provider"],
        "location": row["location"],
        "visit_type": row["visit_type"],
        "room": row["room"],
        "start": _iso(row["start"], tz),
        "end": _iso(row["end"], tz),
        "status": row["status"],
        "hold_expires_at": _iso(row["hold_expires_at"]),
        "series": series,
        "session_number": number,
        "sessions_planned": row["sessions_planned"] if series else None,
        "session_label": f"session {number} of {row['sessions_planned']}" if series and number is not None else None,
    }


@router.get("appointments", auth=AUTH, response=list[AppointmentOut])
def list_appointments(request: HttpRequest, filters: Query[AppointmentFilter]) -> Any:
    """The front desk's day view (and a patient's own appointments): one query, JSON written directly."""
    user = caller(request)
    qs = visible_appointments(user).select_related(None)
    if filters.provider is not None:
        qs = qs.filter(provider_id=filters.provider)
    if filters.location is not None:
        qs = qs.filter(location_id=filters.location)
    if filters.date is not None:
        tz = timezone.get_default_timezone()
        if filters.location is not None:
            tz = get_object_or_404(Location, pk=filters.location).tz
        day_start = datetime.combine(filters.date, time(0), tzinfo=tz)
        qs = qs.filter(start__gte=day_start, start__lt=day_start + timedelta(days=1))
    names, fields = zip(*_LIST_VALUES.items(), strict=True)
    rows = [
        dict(zip(names, values, strict=True))
        for values in qs.order_by("start", "provider_id").values_list(*fields)[:1000]
    ]
    if is_staff_member(user):
        patients_viewed(request, {row["patient"] for row in rows})
    zones: dict[str, Any] = {}
    return HttpResponse(json.dumps([_listed(row, zones) for row in rows]), content_type="application/json")


@router.get("appointments/{appointment_id}", auth=AUTH, response={200: AppointmentOut, 404: ErrorOut})
def get_appointment(request: HttpRequest, appointment_id: int) -> Any:
    return shown(request, appointment_out(get_appointment_for(caller(request), appointment_id)))


@router.post("appointments/{appointment_id}/move", auth=AUTH, response={200: AppointmentOut, **WRITE_RESPONSES})
def move_appointment(request: HttpRequest, appointment_id: int, payload: MoveIn) -> Any:
    user = caller(request)
    appointment = get_appointment_for(user, appointment_id)
    provider = get_object_or_404(Provider, pk=payload.provider) if payload.provider else None
    if not is_staff_member(user):
        if provider is not None:
            raise HttpError(403, "Only the clinic can change your provider.")
        # Patients: within the location's cutoff (422 past_cutoff, with the clinic's phone).
        moved = services.patient_move_appointment(
            appointment=appointment, start=payload.start, by=user, reason=payload.reason
        )
        return appointment_out(moved)
    moved = services.move_appointment(
        appointment=appointment,
        start=payload.start,
        provider=provider,
        by=user,
        policy=policy_for(user),
        reason=payload.reason,
    )
    return shown(request, appointment_out(moved))


@router.post("appointments/{appointment_id}/cancel", auth=AUTH, response={200: AppointmentOut, **WRITE_RESPONSES})
def cancel_appointment(request: HttpRequest, appointment_id: int, payload: CancelIn) -> Any:
    user = caller(request)
    appointment = get_appointment_for(user, appointment_id)
    cancel = services.cancel_appointment if is_staff_member(user) else services.patient_cancel_appointment
    return shown(request, appointment_out(cancel(appointment=appointment, by=user, reason=payload.reason)))


@router.post("appointments/{appointment_id}/confirm", auth=AUTH, response={200: AppointmentOut, **WRITE_RESPONSES})
def confirm_appointment(request: HttpRequest, appointment_id: int) -> Any:
    user = caller(request)
    appointment = get_appointment_for(user, appointment_id)
    return shown(request, appointment_out(services.confirm_hold(appointment=appointment, by=user)))


@router.post("appointments/{appointment_id}/check-in", auth=AUTH, response={200: AppointmentOut, **WRITE_RESPONSES})
def check_in(request: HttpRequest, appointment_id: int) -> Any:
    user = require_staff(request)
    appointment = get_appointment_for(user, appointment_id)
    return shown(request, appointment_out(services.check_in(appointment=appointment, by=user)))


@router.post("appointments/{appointment_id}/no-show", auth=AUTH, response={200: AppointmentOut, **WRITE_RESPONSES})
def no_show(request: HttpRequest, appointment_id: int) -> Any:
    user = require_staff(request)
    appointment = get_appointment_for(user, appointment_id)
    return shown(request, appointment_out(services.mark_no_show(appointment=appointment, by=user)))
