"""Availability and appointments in the JSON API. Every write goes through booking.services."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from booking import services
from booking.errors import BookingError
from booking.models import Appointment, Series
from booking.scheduling.availability import MAX_RANGE_DAYS, PATIENT_POLICY, STAFF_POLICY, Policy, find_slots, slots_json
from booking.scheduling.series import PlannedSession, SessionChoice, plan_as_dict
from clinic.access import is_staff_member, patients_viewed
from clinic.api import AUTH, DbId, ErrorOut, IsoDate, IsoDateTime, IsoTime, current_user, require_staff
from clinic.lookups import fetch_together
from clinic.models import Location, Provider, VisitType
from patients.access import patient_for
from patients.models import Patient

router = Router(tags=["booking"])


# Dates and times as ISO 8601 text only (clinic.api): a bare number is not read as seconds since 1970.


def _visit_type(ref: str | int) -> VisitType:
    return get_object_or_404(VisitType, **_visit_type_filter(ref))


def _fetch_or_404(*wanted: tuple[type, dict[str, Any]]) -> list[Any]:
    """The row each (model, filters) names, in one round trip (clinic.lookups); else a 404 for the
    first one missing."""
    found = fetch_together(*wanted)
    if found is None:
        return [get_object_or_404(model, **filters) for model, filters in wanted]
    return found


def _visit_type_filter(ref: str | int) -> dict[str, Any]:
    return {"pk": int(ref)} if str(ref).isdigit() else {"slug": ref}


def _policy_for(user: Any) -> Policy:
    return STAFF_POLICY if is_staff_member(user) else PATIENT_POLICY


# --- availability -------------------------------------------------------------------------------


class AvailabilityQuery(Schema):
    visit_type: str = Field(max_length=50, description="Visit type slug")
    location: DbId
    start: IsoDate = Field(description="First local date, YYYY-MM-DD")
    end: IsoDate = Field(description="Last local date, YYYY-MM-DD (inclusive)")
    provider: list[DbId] = Field(default_factory=list, description="Repeat for several providers; none = all")


class SlotOut(Schema):
    start: datetime
    end: datetime
    provider: int
    room: int | None


class AvailabilityOut(Schema):
    location: int
    timezone: str
    visit_type: str
    slots: list[SlotOut]


@router.get("availability", response={200: AvailabilityOut, 400: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def availability(request: HttpRequest, query: Query[AvailabilityQuery]) -> Any:
    if query.end < query.start:
        raise HttpError(400, "end must be on or after start.")
    if (query.end - query.start).days >= MAX_RANGE_DAYS:
        raise HttpError(400, f"A range covers at most {MAX_RANGE_DAYS} days.")
    user = current_user(request)
    visit_type, location = _fetch_or_404(
        (VisitType, {"slug": query.visit_type, "is_active": True}),
        (Location, {"pk": query.location, "is_active": True}),
    )
    policy = _policy_for(user)
    if policy.online_only and not visit_type.bookable_online:
        # Listing times a patient could not book would break "a slot shown is a slot you can get".
        raise BookingError("not_bookable_online", "This visit cannot be booked online; please call the clinic.")
    slots = find_slots(
        visit_type=visit_type,
        location=location,
        first_day=query.start,
        last_day=query.end,
        provider_ids=query.provider or None,
        policy=policy,
    )
    head = json.dumps({"location": location.pk, "timezone": location.timezone, "visit_type": visit_type.slug})
    # Thousands of slots: written straight to JSON rather than validated and encoded one by one.
    return HttpResponse(f'{head[:-1]}, "slots": {slots_json(slots, location.tz)}}}', content_type="application/json")


# --- appointments -----------------------------------------------------------------------------


class AppointmentIn(Schema):
    patient: DbId | None = Field(None, description="Required for staff; patients book for themselves")
    provider: DbId
    visit_type: str | int
    location: DbId
    start: IsoDateTime = Field(description="ISO 8601 with offset, e.g. 2026-12-01T09:00:00-05:00")
    hold: bool = Field(False, description="Hold the slot for a few minutes instead of booking it")
    notes: str = Field("", max_length=2000)


class MoveIn(Schema):
    start: IsoDateTime
    provider: DbId | None = None
    reason: str = Field("", max_length=200)


class CancelIn(Schema):
    reason: str = Field(min_length=1, max_length=200)


class AppointmentOut(Schema):
    id: int
    patient: int
    patient_name: str
    provider: int
    location: int
    visit_type: str
    room: int | None
    start: datetime
    end: datetime
    status: str
    hold_expires_at: datetime | None
    series: int | None
    session_number: int | None
    sessions_planned: int | None
    session_label: str | None = Field(None, description='"session k of n" for a session of a series')


class SlotTakenOut(ErrorOut):
    alternatives: list[dict[str, Any]]


class AppointmentFilter(Schema):
    provider: DbId | None = None
    location: DbId | None = None
    date: IsoDate | None = Field(None, description="Local date at the location")


WRITE_RESPONSES = {400: ErrorOut, 404: ErrorOut, 409: SlotTakenOut, 422: ErrorOut, 503: ErrorOut}


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


def _visible_appointments(user: Any) -> QuerySet[Appointment]:
    qs = Appointment.objects.select_related("patient", "location", "visit_type", "series")
    if is_staff_member(user):
        return qs
    patient = patient_for(user)
    if patient is None:
        return qs.none()
    return qs.filter(patient=patient)


def get_appointment_for(user: Any, pk: int) -> Appointment:
    """The appointment if this user may see it; 404 otherwise, whether it exists or not."""
    return get_object_or_404(_visible_appointments(user), pk=pk)


def shown(request: HttpRequest, out: dict[str, Any]) -> dict[str, Any]:
    """Note the patient of an appointment or series answered (the access log keeps staff's)."""
    patients_viewed(request, [out["patient"]])
    return out


def _caller(request: HttpRequest) -> Any:
    return request.auth


@router.post("appointments", auth=AUTH, response={201: AppointmentOut, **WRITE_RESPONSES})
def create_appointment(request: HttpRequest, payload: AppointmentIn) -> Any:
    user = _caller(request)
    staff = is_staff_member(user)
    if staff and payload.patient is None:
        raise HttpError(400, "patient is required.")
    # Staff book for the patient they name; a patient books for themselves only.
    patient_filter = {"pk": payload.patient} if staff else {"user": user.pk}
    found = fetch_together(  # one round trip for all four
        (Patient, patient_filter),
        (Provider, {"pk": payload.provider}),
        (VisitType, _visit_type_filter(payload.visit_type)),
        (Location, {"pk": payload.location}),
    )
    if found is None:  # say what is missing
        patient = get_object_or_404(Patient, pk=payload.patient) if staff else patient_for(user)
        if patient is None:
            raise Http404("Patient not found.")
        found = [
            patient,
            get_object_or_404(Provider, pk=payload.provider),
            _visit_type(payload.visit_type),
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
        policy=_policy_for(user),
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
    user = _caller(request)
    qs = _visible_appointments(user).select_related(None)
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
    return shown(request, appointment_out(get_appointment_for(_caller(request), appointment_id)))


@router.post("appointments/{appointment_id}/move", auth=AUTH, response={200: AppointmentOut, **WRITE_RESPONSES})
def move_appointment(request: HttpRequest, appointment_id: int, payload: MoveIn) -> Any:
    user = _caller(request)
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
        policy=_policy_for(user),
        reason=payload.reason,
    )
    return shown(request, appointment_out(moved))


@router.post("appointments/{appointment_id}/cancel", auth=AUTH, response={200: AppointmentOut, **WRITE_RESPONSES})
def cancel_appointment(request: HttpRequest, appointment_id: int, payload: CancelIn) -> Any:
    user = _caller(request)
    appointment = get_appointment_for(user, appointment_id)
    cancel = services.cancel_appointment if is_staff_member(user) else services.patient_cancel_appointment
    return shown(request, appointment_out(cancel(appointment=appointment, by=user, reason=payload.reason)))


@router.post("appointments/{appointment_id}/confirm", auth=AUTH, response={200: AppointmentOut, **WRITE_RESPONSES})
def confirm_appointment(request: HttpRequest, appointment_id: int) -> Any:
    user = _caller(request)
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


# --- treatment series -------------------------------------------------------------------------


class SessionChoiceIn(Schema):
    start: IsoDateTime
    provider: DbId | None = Field(None, description="Another provider for this session; default: the series'")


Choice = IsoDateTime | SessionChoiceIn


class SeriesIn(Schema):
    patient: DbId
    provider: DbId
    visit_type: str | int
    location: DbId
    sessions: int = Field(ge=1, le=services.MAX_SERIES_SESSIONS)
    gap_days: int = Field(14, ge=1, le=services.MAX_GAP_DAYS)
    tolerance_days: int = Field(2, ge=0, le=services.MAX_TOLERANCE_DAYS)
    taper_days: list[int] = Field(default_factory=list, max_length=services.MAX_SERIES_SESSIONS)
    preferred_time: IsoTime = Field(description='Local time of day at the location, "HH:MM"')
    first_date: IsoDate = Field(description="Target date of session 1, YYYY-MM-DD")
    choices: dict[int, Choice] = Field(
        default_factory=dict, description="Session number -> chosen start (ISO 8601 with offset), or {start, provider}"
    )


class ExtendIn(Schema):
    sessions: int = Field(ge=1, le=services.MAX_SERIES_SESSIONS)
    choices: dict[int, Choice] = Field(default_factory=dict)


class SeriesMoveIn(Schema):
    start: IsoDateTime
    provider: DbId | None = None
    replan_later: bool = Field(False, description="Re-plan every later future session from the new date")
    reason: str = Field("", max_length=200)


class AlternativeOut(Schema):
    kind: str
    start: datetime
    end: datetime
    provider: int
    room: int | None
    day_offset: int


class PlannedSessionOut(Schema):
    session_number: int
    target_date: date
    status: str = Field(description="fits | moved | chosen | needs_choice")
    day_offset: int
    start: datetime | None
    end: datetime | None
    provider: int
    room: int | None
    time_note: str
    pinned: bool
    problem: str
    clash: bool
    alternatives: list[AlternativeOut]


class SeriesPlanOut(Schema):
    timezone: str
    bookable: bool
    sessions: list[PlannedSessionOut]


class SeriesOut(Schema):
    id: int
    patient: int
    provider: int
    visit_type: str
    location: int
    timezone: str
    sessions_planned: int
    gap_days: int
    tolerance_days: int
    taper_days: list[int]
    preferred_time: str
    status: str
    appointments: list[AppointmentOut]


class SeriesErrorOut(ErrorOut):
    alternatives: list[dict[str, Any]] = Field(default_factory=list)
    session_number: int | None = None
    plan: SeriesPlanOut | None = None


SERIES_RESPONSES = {400: ErrorOut, 404: ErrorOut, 409: SeriesErrorOut, 422: SeriesErrorOut, 503: ErrorOut}


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


def get_series_for(user: Any, pk: int) -> Series:
    """The series if this user may see it (staff, or the patient it belongs to); 404 otherwise."""
    qs = Series.objects.select_related("visit_type", "location", "provider", "patient")
    if not is_staff_member(user):
        patient = patient_for(user)
        qs = qs.filter(patient=patient) if patient is not None else qs.none()
    return get_object_or_404(qs, pk=pk)


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
        "visit_type": _visit_type(payload.visit_type),
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
    return shown(request, series_out(get_series_for(_caller(request), series_id)))


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
