"""Who may book which visit online: a rule on plain data (`check`) and the thin loader of the
facts it needs (`load_history`). `eligibility` joins them for the pages.

Evaluations are open to all. Procedure and follow-up visits need an evaluation on record
(completed, checked in, or booked at a time that has passed), or staff approval: a series the
clinic planned or prescribed, or an approved screening review. A screening waiting for review or
declined keeps procedure visits closed online.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.models import Appointment, Series, Status
from clinic.models import VisitKind, VisitType
from patients.models import Patient, ReviewStatus, Screening

NEEDS_EVALUATION = (VisitKind.PROCEDURE, VisitKind.FOLLOW_UP)


@dataclass(frozen=True)
class Eligibility:
    allowed: bool
    why: str = ""


@dataclass(frozen=True)
class PatientHistory:
    """What the rule needs to know about a patient."""

    screening_blocks_online: bool  # the latest safety answers wait for review, or were declined
    evaluated: bool  # an evaluation completed, checked in, or booked at a time that has passed
    has_series: bool  # a series the clinic planned or prescribed
    screening_approved: bool  # staff approved a screening review


NO_HISTORY = PatientHistory(screening_blocks_online=False, evaluated=False, has_series=False, screening_approved=False)


def needs_history(kind: str) -> bool:
    """Whether the rule for this kind of visit looks at the patient's history at all."""
    return kind in NEEDS_EVALUATION


def check(kind: str, history: PatientHistory) -> Eligibility:
    """May a patient with this history book this kind of visit online? Pure; the reason if not."""
    if not needs_history(kind):
        return Eligibility(True)
    if kind == VisitKind.PROCEDURE and history.screening_blocks_online:
        return Eligibility(False, _("The clinic is reviewing your safety answers and will call you."))
    if history.evaluated or history.has_series or history.screening_approved:
        return Eligibility(True)
    return Eligibility(False, _("Please book an evaluation first; treatment visits follow it."))


def load_history(patient: Patient, *, now: datetime) -> PatientHistory:
    """The facts `check` needs, in two queries."""
    latest = Screening.objects.filter(patient=patient).order_by("-created_at", "-id").first()
    evaluations = Appointment.objects.filter(patient=patient, visit_type__kind=VisitKind.EVALUATION)
    seen = Q(status__in=[Status.COMPLETED, Status.CHECKED_IN]) | Q(status=Status.BOOKED, start__lte=now)
    facts = (
        Patient.objects.filter(pk=patient.pk)
        .values(
            evaluated=Exists(evaluations.filter(seen)),
            has_series=Exists(Series.objects.filter(patient=patient)),
            screening_approved=Exists(Screening.objects.filter(patient=patient, review_status=ReviewStatus.APPROVED)),
        )
        .get()
    )
    return PatientHistory(
        screening_blocks_online=latest is not None and latest.blocks_online_booking,
        evaluated=bool(facts["evaluated"]),
        has_series=bool(facts["has_series"]),
        screening_approved=bool(facts["screening_approved"]),
    )


def eligibility(patient: Patient, visit_type: VisitType, *, now: datetime | None = None) -> Eligibility:
    """May this patient book this visit online? Reads the patient's history only when the rule needs it."""
    kind = visit_type.kind
    history = load_history(patient, now=now or timezone.now()) if needs_history(kind) else NO_HISTORY
    return check(kind, history)
