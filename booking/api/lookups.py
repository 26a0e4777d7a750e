"""The records an API call names, and which of them the caller may see (404 for the rest)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from booking.models import Appointment, Series
from booking.scheduling.availability import PATIENT_POLICY, STAFF_POLICY, Policy
from clinic.access import is_staff_member, patients_viewed
from clinic.lookups import fetch_together
from clinic.models import VisitType
from patients.access import patient_for


def visit_type_or_404(ref: str | int) -> VisitType:
    return get_object_or_404(VisitType, **visit_type_filter(ref))


def fetch_or_404(*wanted: tuple[type, dict[str, Any]]) -> list[Any]:
    """The row each (model, filters) names, in one round trip (clinic.lookups); else a 404 for the
    first one missing."""
    found = fetch_together(*wanted)
    if found is None:
        return [get_object_or_404(model, **filters) for model, filters in wanted]
    return found


def visit_type_filter(ref: str | int) -> dict[str, Any]:
    return {"pk": int(ref)} if str(ref).isdigit() else {"slug": ref}


def policy_for(user: Any) -> Policy:
    return STAFF_POLICY if is_staff_member(user) else PATIENT_POLICY


def visible_appointments(user: Any) -> QuerySet[Appointment]:
    qs = Appointment.objects.select_related("patient", "location", "visit_type", "series")
    if is_staff_member(user):
        return qs
    patient = patient_for(user)
    if patient is None:
        return qs.none()
    return qs.filter(patient=patient)


def get_appointment_for(user: Any, pk: int) -> Appointment:
    """The appointment if this user may see it; 404 otherwise, whether it exists or not."""
    return get_object_or_404(visible_appointments(user), pk=pk)


def shown(request: HttpRequest, out: dict[str, Any]) -> dict[str, Any]:
    """Note the patient of an appointment or series answered (the access log keeps staff's)."""
    patients_viewed(request, [out["patient"]])
    return out


def caller(request: HttpRequest) -> Any:
    """Who called: django-ninja sets `request.auth` to what the route's authentication returned."""
    return getattr(request, "auth", None)


def get_series_for(user: Any, pk: int) -> Series:
    """The series if this user may see it (staff, or the patient it belongs to); 404 otherwise."""
    qs = Series.objects.select_related("visit_type", "location", "provider", "patient")
    if not is_staff_member(user):
        patient = patient_for(user)
        qs = qs.filter(patient=patient) if patient is not None else qs.none()
    return get_object_or_404(qs, pk=pk)
