"""Patients and what is known about them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Español"


class ReminderChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("Text message (SMS)")
    BOTH = "both", _("E-mail and text message")
    NONE = "none", _("No reminders")


class PatientQuerySet(models.QuerySet["Patient"]):
    def search(self, query: str) -> "PatientQuerySet":
        """Match each word against names, phone digits or e-mail; a date (YYYY-MM-DD) matches birth date."""
        result = self
        for word in query.split():
            condition = Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
            digits = "".join(ch for ch in word if ch.isdigit())
            if len(digits) >= 3:
                condition |= Q(phone__contains=digits)
            if len(word) == 10 and word[4] == "-" and word[7] == "-":
                condition |= Q(date_of_birth=word)
            result = result.filter(condition)
        return result


class Patient(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="patient"
    )
    first_name = models.CharField(_("first name"), max_length=80)
    last_name = models.CharField(_("last name"), max_length=80)
    date_of_birth = models.DateField(_("date of birth"))
    phone = PhoneNumberField(_("mobile phone"), blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    reminder_channel = models.CharField(
        _("how to remind you"), max_length=10, choices=ReminderChannel.choices, default=ReminderChannel.EMAIL
    )
    emergency_contact_name = models.CharField(_("emergency contact"), max_length=120, blank=True)
    emergency_contact_phone = PhoneNumberField(_("emergency contact phone"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["last_name", "first_name"], name="patients_name_idx")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


# --- safety screening before a procedure visit (../DOMAIN: "Safety screening") ---------------


class ReviewStatus(models.TextChoices):
    NOT_NEEDED = "not_needed", _("No review needed")
    PENDING = "pending", _("Waiting for staff review")
    APPROVED = "approved", _("Approved by staff")
    DECLINED = "declined", _("Declined by staff")


class ScreeningQuerySet(models.QuerySet["Screening"]):
    def awaiting_review(self) -> "ScreeningQuerySet":
        return self.filter(review_status=ReviewStatus.PENDING)

    def latest_per_patient(self, patient_ids: "list[int] | set[int]") -> "dict[int, Screening]":
        """The newest screening of each patient, in one query."""
        newest: dict[int, Screening] = {}
        for screening in self.filter(patient_id__in=list(patient_ids)).order_by("patient_id", "-created_at", "-id"):
            newest.setdefault(screening.patient_id, screening)
        return newest


class Screening(models.Model):
    """A patient's answers to the safety questions before a procedure visit.

    Any "yes" is a flag for the provider. The answers in BLOCKING stop online booking of a
    procedure until staff have reviewed them (review_status PENDING → APPROVED or DECLINED);
    the others (latex allergy, fear of needles) only inform staff.
    """

    BLOCKING = (
        "infection_near_site",
        "systemic_infection",
        "anaesthetic_allergy",
        "bleeding_disorder",
        "blood_thinner",
    )

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="screenings")
    # The visit it was answered for, when there is one yet (booking/ may link it after the hold).
    appointment = models.ForeignKey(
        "booking.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="screenings"
    )
    infection_near_site = models.BooleanField(_("an infection at or near the place to be injected"), default=False)
    systemic_infection = models.BooleanField(_("an infection in the body, or a fever"), default=False)
    anaesthetic_allergy = models.BooleanField(_("an allergy to local anaesthetic (lidocaine)"), default=False)
    latex_allergy = models.BooleanField(_("an allergy to latex"), default=False)
    bleeding_disorder = models.BooleanField(_("a bleeding or clotting disorder"), default=False)
    blood_thinner = models.BooleanField(_("taking a blood thinner"), default=False)
    blood_thinner_names = models.CharField(_("which blood thinner"), max_length=200, blank=True)
    needle_fear = models.BooleanField(_("a strong fear of needles"), default=False)
    notes = models.TextField(_("anything else the provider should know"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    review_status = models.CharField(max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.NOT_NEEDED)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    objects = ScreeningQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="patients_screening_patient_idx"),
            models.Index(fields=["review_status"], name="patients_screening_review_idx"),
        ]

    def __str__(self) -> str:
        return f"Screening of {self.patient} ({self.get_review_status_display()})"

    @property
    def flags(self) -> list[str]:
        """Short labels of every "yes", for the provider and the desk (blocking ones first)."""
        labels = {
            "infection_near_site": _("Infection near site"),
            "systemic_infection": _("Infection or fever"),
            "anaesthetic_allergy": _("Anaesthetic allergy"),
            "bleeding_disorder": _("Bleeding disorder"),
            "blood_thinner": _("Blood thinner"),
            "latex_allergy": _("Latex allergy"),
            "needle_fear": _("Fear of needles"),
        }
        return [str(label) for field, label in labels.items() if getattr(self, field)]

    @property
    def blocks_online_booking(self) -> bool:
        """True while a blocking answer has not been approved by staff."""
        has_blocking = any(getattr(self, field) for field in self.BLOCKING)
        return has_blocking and self.review_status != ReviewStatus.APPROVED
