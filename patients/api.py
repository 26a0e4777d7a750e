"""Patients in the JSON API: staff create and find them."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from clinic.access import patients_viewed
from clinic.api import AUTH, ErrorOut, IsoDate, require_staff
from patients import services
from patients.models import Language, Patient, ReminderChannel

router = Router(tags=["patients"], auth=AUTH)


class PatientIn(Schema):
    first_name: str = Field(min_length=1, max_length=80)
    last_name: str = Field(min_length=1, max_length=80)
    date_of_birth: IsoDate
    phone: str = Field("", max_length=40)
    email: str = Field("", max_length=254)
    preferred_language: Language = Language.ENGLISH
    reminder_channel: ReminderChannel = ReminderChannel.EMAIL
    emergency_contact_name: str = Field("", max_length=120)
    emergency_contact_phone: str = Field("", max_length=40)


class PatientOut(Schema):
    id: int
    first_name: str
    last_name: str
    date_of_birth: date
    phone: str
    email: str
    preferred_language: str
    reminder_channel: str

    @staticmethod
    def resolve_phone(obj: Patient) -> str:
        return str(obj.phone) if obj.phone else ""


class PatientSearch(Schema):
    q: str = Field("", max_length=100)


class InvalidPatientOut(ErrorOut):
    fields: dict[str, list[str]]


@router.post("patients", response={201: PatientOut, 422: InvalidPatientOut})
def create_patient(request: HttpRequest, payload: PatientIn) -> Any:
    by = require_staff(request)
    try:
        patient = services.create_patient(by=by, **payload.dict())
    except ValidationError as exc:
        fields = exc.message_dict
        detail = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        return Status(422, {"error": "invalid_patient", "detail": detail, "fields": fields})
    patients_viewed(request, [patient.pk])
    return Status(201, patient)


@router.get("patients", response=list[PatientOut])
def search_patients(request: HttpRequest, filters: Query[PatientSearch]) -> Any:
    require_staff(request)
    found = list(Patient.objects.search(filters.q)[:50])
    patients_viewed(request, [patient.pk for patient in found])
    return found
