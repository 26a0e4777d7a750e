"""Which records keep a history of every create, change and delete (django-auditlog).

Appointments keep their own domain history in booking.AppointmentEvent, written by the booking
services in the same transaction (and covering bulk status changes, which model signals miss).
To audit another model, add one line to AUDITED: "app_label.ModelName".
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings

AUDITED: list[str] = [
    "patients.Patient",
    "patients.Screening",
    "booking.Series",
    "booking.WaitlistEntry",
    "patients.ProcedureRecord",
    "patients.ProcedureSite",
    "patients.Injectate",
]

# The audit tables: append-only; on PostgreSQL a trigger refuses UPDATE and DELETE
# (audit/migrations/0002_append_only_triggers.py).
AUDIT_TABLES = ("auditlog_logentry", "audit_accesslog", "booking_appointmentevent")


def register_all() -> None:
    from auditlog.registry import auditlog

    for label in AUDITED:
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=["updated_at"])


def is_audited(label: str) -> bool:
    return label in AUDITED or settings.AUDITLOG_INCLUDE_ALL_MODELS


def log_queryset_update(instance: Any, *, by: Any, changes: dict[str, tuple[Any, Any]]) -> None:
    """Record a change made with a queryset UPDATE (a compare-and-swap), which model signals do
    not see, like django-auditlog records a save: who, when, field: [before, after]."""
    from auditlog.models import LogEntry

    actor = by if getattr(by, "is_authenticated", False) else None
    LogEntry.objects.log_create(
        instance,
        action=LogEntry.Action.UPDATE,
        changes={field: [str(before), str(after)] for field, (before, after) in changes.items()},
        actor=actor,
    )
