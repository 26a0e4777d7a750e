"""What was done at past visits, read for many patients at once (one query).

The daily list, the staff patient page and the record form all need, per patient, the sessions
recorded so far: their date, sites, pain scores and CPT code. Every record has at least one site
(patients.services refuses a record without), so reading the sites with their record and
appointment joined returns every record in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import timezone

from patients.charts import PainPoint, TrendChart, trend_chart
from patients.models import ProcedureSite


@dataclass
class RecordSummary:
    record_id: int
    appointment_id: int
    patient_id: int
    series_id: int | None
    start: datetime
    day: date  # local to the visit's location
    pain_before: int
    pain_after: int
    cpt_code: str
    complications: str
    sites: list[str] = field(default_factory=list)


def load_history(patient_ids: Iterable[int], *, before: datetime | None = None) -> dict[int, list[RecordSummary]]:
    """Each patient's recorded visits, oldest first; only visits starting before `before` if given."""
    rows = ProcedureSite.objects.filter(record__appointment__patient_id__in=list(patient_ids))
    if before is not None:
        rows = rows.filter(record__appointment__start__lt=before)
    rows = rows.select_related("muscle", "record__appointment__location").order_by(
        "record__appointment__start", "record_id", "id"
    )
    history: dict[int, list[RecordSummary]] = {}
    by_record: dict[int, RecordSummary] = {}
    for site in rows:
        record = site.record
        summary = by_record.get(record.pk)
        if summary is None:
            appointment = record.appointment
            summary = RecordSummary(
                record_id=record.pk,
                appointment_id=appointment.pk,
                patient_id=appointment.patient_id,
                series_id=appointment.series_id,
                start=appointment.start,
                day=timezone.localtime(appointment.start, appointment.location.tz).date(),
                pain_before=record.pain_before,
                pain_after=record.pain_after,
                cpt_code=record.cpt_code,
                complications=record.complications,
            )
            by_record[record.pk] = summary
            history.setdefault(summary.patient_id, []).append(summary)
        summary.sites.append(site_label(site))
    return history


def site_label(site: ProcedureSite) -> str:
    return f"{site.muscle.name} ({site.get_side_display().lower()}) ×{site.injections}"


def last_before(records: list[RecordSummary], start: datetime) -> RecordSummary | None:
    """The latest recorded visit that started before `start`."""
    earlier = [r for r in records if r.start < start]
    return earlier[-1] if earlier else None


def trend_for(records: list[RecordSummary], *, series_id: int | None = None) -> TrendChart:
    """The pain trend of one series (or of every recorded visit when series_id is None)."""
    chosen = [r for r in records if series_id is None or r.series_id == series_id]
    return trend_chart([PainPoint(r.day, r.pain_before, r.pain_after) for r in chosen])
