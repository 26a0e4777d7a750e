"""The patient record behind a login."""

from __future__ import annotations

from typing import Any

from patients.models import Patient


def patient_for(user: Any) -> Patient | None:
    """The Patient linked to this login, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Patient.objects.filter(user=user).first()
