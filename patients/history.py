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

from django.db.models import Field, Prefetch
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from patients.charts import PainPoint, TrendChart, trend_chart
from patients.models import ProcedureRecord, ProcedureSite, Screening


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


@dataclass
class SeriesTrend:
    label: str
    chart: TrendChart
    chart_id: str


def records_of(patient_id: int) -> list[ProcedureRecord]:
    """A patient's procedure records, oldest first, with sites and injectates (three queries)."""
    return list(
        ProcedureRecord.objects.filter(appointment__patient_id=patient_id)
        .select_related("appointment__location", "appointment__provider", "appointment__visit_type")
        .prefetch_related(Prefetch("sites", ProcedureSite.objects.select_related("muscle")), "injectates")
        .order_by("appointment__start", "id")
    )


def trends_by_series(records: list[ProcedureRecord], series_names: dict[int, str]) -> list[SeriesTrend]:
    """One pain trend per series (newest series first), then the visits outside any series."""
    groups: dict[int | None, list[PainPoint]] = {}
    for record in records:
        appointment = record.appointment
        day = timezone.localtime(appointment.start, appointment.location.tz).date()
        groups.setdefault(appointment.series_id, []).append(PainPoint(day, record.pain_before, record.pain_after))
    trends = []
    for series_id in sorted((k for k in groups if k is not None), reverse=True):
        label = series_names.get(series_id, str(series_id))
        trends.append(SeriesTrend(label, trend_chart(groups[series_id]), f"series-{series_id}"))
    if None in groups:
        trends.append(SeriesTrend(str(_("Visits outside a series")), trend_chart(groups[None]), "no-series"))
    return trends


@dataclass
class RecordRow:
    record: ProcedureRecord
    when: str
    provider: str
    sites: list[str]
    injectates: list[str]


def record_row(record: ProcedureRecord) -> RecordRow:
    appointment = record.appointment
    local = timezone.localtime(appointment.start, appointment.location.tz)
    given = [str(i) for i in record.injectates.all()]
    return RecordRow(
        record=record,
        when=dateformat.format(local, "D j M Y, H:i T"),
        provider=str(appointment.provider),
        sites=[site_label(s) for s in record.sites.all()],
        injectates=given or [str(_("None (dry needling)"))],
    )


SCREENING_QUESTIONS = (
    "infection_near_site",
    "systemic_infection",
    "anaesthetic_allergy",
    "latex_allergy",
    "bleeding_disorder",
    "blood_thinner",
    "needle_fear",
)


def screening_answers(screening: Screening) -> list[tuple[str, bool]]:
    """Each safety question (its label) with the patient's yes/no, in the screening's order."""
    return [(_question(name), getattr(screening, name)) for name in SCREENING_QUESTIONS]


def _question(name: str) -> str:
    field = Screening._meta.get_field(name)
    return str(field.verbose_name) if isinstance(field, Field) else name
