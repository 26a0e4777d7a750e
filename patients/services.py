"""Writes to patient records: accounts, profiles, safety screenings and their review.

What a provider did at a visit is written with the visit (booking.services.record_procedure).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic import roles
from patients.errors import ReviewRefused
from patients.models import Patient, ReviewStatus, Screening

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "phone",
    "email",
    "preferred_language",
    "reminder_channel",
)
SCREENING_ANSWERS = (
    "infection_near_site",
    "systemic_infection",
    "anaesthetic_allergy",
    "latex_allergy",
    "bleeding_disorder",
    "blood_thinner",
    "blood_thinner_names",
    "needle_fear",
    "notes",
)


def create_patient(*, by: Any, **fields: Any) -> Patient:
    """Create a patient after full validation (phone numbers through the phonenumbers library)."""
    patient = Patient(**fields)
    patient.full_clean()
    with transaction.atomic():
        patient.save()
    return patient


def register_patient(*, email: str, password: str, **fields: Any) -> Patient:
    """A new patient account: the login (username = e-mail, in the Patient group) and the Patient
    record, in one transaction. Raises ValidationError when the e-mail is already registered."""
    email = get_user_model().objects.normalize_email(email).strip().lower()
    patient = Patient(email=email, **fields)
    patient.full_clean(exclude=["user"])
    user_model = get_user_model()
    try:
        with transaction.atomic():
            if user_model.objects.filter(username__iexact=email).exists():
                raise ValidationError({"email": _("An account with this e-mail already exists. Please log in.")})
            user = user_model.objects.create_user(
                username=email,
                email=email,
                password=password,
                first_name=patient.first_name,
                last_name=patient.last_name,
            )
            user.groups.add(Group.objects.get_or_create(name=roles.PATIENT)[0])
            patient.user = user
            patient.save()
    except IntegrityError as exc:  # two sign-ups with one address at once
        raise ValidationError({"email": _("An account with this e-mail already exists. Please log in.")}) from exc
    return patient


def update_profile(*, patient: Patient, by: Any, **fields: Any) -> Patient:
    """Change a patient's own details; the login's e-mail follows the record's."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(patient, name, value)
    patient.full_clean(exclude=["user"])
    user = patient.user
    user_model = get_user_model()
    renames_login = user is not None and patient.email and user.username == user.email
    if (
        user is not None
        and renames_login
        and user_model.objects.filter(username__iexact=patient.email).exclude(pk=user.pk).exists()
    ):
        raise ValidationError({"email": _("An account with this e-mail already exists. Please log in.")})
    with transaction.atomic():
        patient.save()
        if user is not None:
            user.first_name, user.last_name = patient.first_name, patient.last_name
            if patient.email and user.username == user.email:
                user.username = patient.email
            if patient.email:
                user.email = patient.email
            user.save(update_fields=["first_name", "last_name", "email", "username"])
    return patient


# --- safety screening -------------------------------------------------------------------------


def blocking_answers(screening: Screening) -> set[str]:
    return {field for field in Screening.BLOCKING if getattr(screening, field)}


def record_screening(
    *, patient: Patient, by: Any, answers: dict[str, Any], appointment: Any = None, now: datetime | None = None
) -> Screening:
    """Save a patient's answers before a procedure visit.

    A blocking "yes" asks staff to review (PENDING), unless staff already approved the same
    blocking answers on the patient's previous screening: then the approval carries over.
    """
    now = now or timezone.now()
    screening = Screening(patient=patient, appointment=appointment, answered_by=by)
    for name in SCREENING_ANSWERS:
        if name in answers:
            setattr(screening, name, answers[name])
    if not screening.blood_thinner:
        screening.blood_thinner_names = ""
    with transaction.atomic():
        blocking = blocking_answers(screening)
        if blocking:
            previous = Screening.objects.filter(patient=patient).order_by("-created_at", "-id").first()
            if (
                previous is not None
                and previous.review_status == ReviewStatus.APPROVED
                and blocking <= blocking_answers(previous)
            ):
                screening.review_status = ReviewStatus.APPROVED
                screening.reviewed_by = previous.reviewed_by
                screening.reviewed_at = previous.reviewed_at
                screening.review_note = _("Approval carried over from the screening of %(date)s.") % {
                    "date": timezone.localdate(previous.created_at).isoformat()
                }
            else:
                screening.review_status = ReviewStatus.PENDING
        screening.full_clean(exclude=["appointment", "answered_by", "reviewed_by"])
        screening.save()
    return screening


def _review(*, screening: Screening, to: str, by: Any, note: str, now: datetime | None) -> Screening:
    now = now or timezone.now()
    with transaction.atomic():
        changed = Screening.objects.filter(pk=screening.pk, review_status=ReviewStatus.PENDING).update(
            review_status=to, reviewed_by=by, reviewed_at=now, review_note=note.strip()[:2000]
        )
        screening.refresh_from_db()
        if not changed:
            raise ReviewRefused("not_pending", _("This screening has already been reviewed."))
    return screening


def approve_screening(*, screening: Screening, by: Any, note: str = "", now: datetime | None = None) -> Screening:
    """Staff: the patient may book the procedure online (or the desk books it for them)."""
    return _review(screening=screening, to=ReviewStatus.APPROVED, by=by, note=note, now=now)


def decline_screening(*, screening: Screening, by: Any, note: str, now: datetime | None = None) -> Screening:
    """Staff: online booking of procedures stays closed for this patient; the note says why."""
    if not note.strip():
        raise ReviewRefused("note_required", _("Please write a note saying why."))
    return _review(screening=screening, to=ReviewStatus.DECLINED, by=by, note=note, now=now)
