"""What a provider did at a visit: the procedure record, written with the visit's completion.

The record (sites, injectates, pain, CPT code) is the patient's; saving it completes the
appointment, so the write is booking's, in one transaction with the appointment's audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from booking.models import Appointment, EventAction
from booking.services.appointments import complete_appointment
from booking.services.write_path import record as audit
from clinic.models import VisitKind
from patients.cpt import cpt_code
from patients.errors import RecordRefused
from patients.models import Injectate, Muscle, ProcedureRecord, ProcedureSite, Side, Substance


@dataclass(frozen=True)
class SiteInput:
    muscle: Muscle
    side: str
    injections: int = 1


@dataclass(frozen=True)
class InjectateInput:
    substance: str
    name: str = ""
    strength_percent: Decimal | None = None
    volume_ml: Decimal | None = None
    dose: str = ""


def _check_record(sites: Sequence[SiteInput], injectates: Sequence[InjectateInput], pain: dict[str, int]) -> None:
    """The rules the database cannot say in one row: at least one site, no repeats, amounts given."""
    for field, score in pain.items():
        if not 0 <= score <= 10:
            raise RecordRefused("pain_out_of_range", "Pain scores are 0 (none) to 10 (worst imaginable).", field)
    if not sites:
        raise RecordRefused("no_site", "Record at least one site (muscle and side).", "sites")
    seen: set[tuple[int, str]] = set()
    for site in sites:
        if site.side not in Side.values:
            raise RecordRefused("bad_side", "Choose left, right or both sides.", "sites")
        if not 1 <= site.injections <= 20:
            raise RecordRefused("bad_injections", "Injections per site are 1 to 20.", "sites")
        key = (site.muscle.pk, site.side)
        if key in seen:
            raise RecordRefused("repeated_site", f"{site.muscle} ({site.side}) is listed twice.", "sites")
        seen.add(key)
    for given in injectates:
        if given.substance not in Substance.values:
            raise RecordRefused("bad_substance", "Choose what was injected from the list.", "injectates")
        if given.substance == Substance.LOCAL_ANAESTHETIC and (
            given.strength_percent is None or given.volume_ml is None
        ):
            raise RecordRefused(
                "anaesthetic_amount", "Give the local anaesthetic's strength (%) and volume (mL).", "injectates"
            )
        if given.volume_ml is None and not given.dose.strip():
            raise RecordRefused("amount_missing", "Give a volume (mL) or a dose for each substance.", "injectates")


def record_procedure(
    *,
    appointment: Appointment,
    sites: Sequence[SiteInput],
    injectates: Sequence[InjectateInput],
    pain_before: int,
    pain_after: int,
    notes: str = "",
    complications: str = "",
    by: Any,
    now: datetime | None = None,
) -> ProcedureRecord:
    """Save what was done at a visit and complete the appointment, in one transaction.

    A second save for the same appointment edits its record (sites and injectates replaced, CPT
    derived again); the appointment is completed once. No injectate means dry needling.
    """
    now = now or timezone.now()
    _check_record(sites, injectates, {"pain_before": pain_before, "pain_after": pain_after})
    code = cpt_code(muscles=[site.muscle.pk for site in sites], injected=bool(injectates))
    with transaction.atomic():
        locked = Appointment.objects.filter(pk=appointment.pk)
        if connection.vendor == "postgresql":
            locked = locked.select_for_update(of=("self",))  # two saves of one visit queue here
        current = locked.select_related("location", "visit_type", "patient").get()
        if current.visit_type.kind != VisitKind.PROCEDURE:
            raise RecordRefused("not_a_procedure", "Only procedure visits have a procedure record.")
        record = ProcedureRecord.objects.filter(appointment=current).first()
        if record is None:
            complete_appointment(appointment=current, by=by, now=now)
            record = ProcedureRecord(appointment=current)
        record.pain_before, record.pain_after = pain_before, pain_after
        record.notes, record.complications = notes.strip(), complications.strip()
        record.cpt_code, record.recorded_by = code, by
        record.save()
        record.sites.all().delete()
        record.injectates.all().delete()
        ProcedureSite.objects.bulk_create(
            ProcedureSite(record=record, muscle=s.muscle, side=s.side, injections=s.injections) for s in sites
        )
        Injectate.objects.bulk_create(
            Injectate(
                record=record,
                substance=i.substance,
                name=i.name.strip(),
                strength_percent=i.strength_percent,
                volume_ml=i.volume_ml,
                dose=i.dose.strip(),
            )
            for i in injectates
        )
        audit(current, EventAction.RECORDED, by=by, now=now, from_status=current.status, reason=f"CPT {code}")
    appointment.refresh_from_db()
    return record
