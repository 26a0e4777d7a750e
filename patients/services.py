"""Writes to patient records."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from patients.models import Patient


def create_patient(*, by: Any, **fields: Any) -> Patient:
    """Create a patient after full validation (phone numbers through the phonenumbers library)."""
    patient = Patient(**fields)
    patient.full_clean()
    with transaction.atomic():
        patient.save()
    return patient
