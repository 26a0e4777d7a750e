"""Patients and what is known about them."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
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


# --- the procedure record (../DOMAIN: "Where", "The visit", "Pain scores") -------------------


class BodyRegion(models.TextChoices):
    """The regions patients name, used to group the muscle list."""

    JAW = "jaw", _("Jaw")
    HEAD = "head", _("Head")
    NECK = "neck", _("Neck")
    SHOULDERS = "shoulders", _("Shoulders")
    UPPER_BACK = "upper_back", _("Upper back")
    LOWER_BACK = "lower_back", _("Lower back")
    HIP = "hip", _("Hip")
    BUTTOCKS = "buttocks", _("Buttocks")
    ARMS = "arms", _("Arms")
    LEGS = "legs", _("Legs")
    OTHER = "other", _("Other")


class Muscle(models.Model):
    """A muscle a provider may record as a site; the clinic admin adds any skeletal muscle."""

    name = models.CharField(_("muscle"), max_length=80, unique=True)
    region = models.CharField(_("body region"), max_length=20, choices=BodyRegion.choices)
    near_chest_wall = models.BooleanField(
        _("near the chest wall"), default=False, help_text=_("Injections here carry a risk of lung puncture.")
    )
    is_active = models.BooleanField(_("offered"), default=True)

    class Meta:
        ordering = ["region", "name"]

    def __str__(self) -> str:
        return self.name


class Side(models.TextChoices):
    LEFT = "left", _("Left")
    RIGHT = "right", _("Right")
    BOTH = "both", _("Both sides")


class Substance(models.TextChoices):
    """What was injected; recording none of these means dry needling."""

    LOCAL_ANAESTHETIC = "local_anaesthetic", _("Local anaesthetic")
    CORTICOSTEROID = "corticosteroid", _("Corticosteroid")
    BOTULINUM_TOXIN = "botulinum_toxin", _("Botulinum toxin")
    SALINE = "saline", _("Saline")
    NSAID = "nsaid", _("Injectable NSAID")


PAIN_SCALE = (MinValueValidator(0), MaxValueValidator(10))


class ProcedureRecordQuerySet(models.QuerySet["ProcedureRecord"]):
    def for_patients(self, patient_ids: "list[int] | set[int]") -> "ProcedureRecordQuerySet":
        """Records of these patients, oldest first, with their sites and injectates in two more queries."""
        return (
            self.filter(appointment__patient_id__in=list(patient_ids))
            .select_related("appointment")
            .prefetch_related("sites__muscle", "injectates")
            .order_by("appointment__start", "id")
        )


class ProcedureRecord(models.Model):
    """What a provider did at one visit: sites, injectates, pain before and after.

    The CPT code is derived from the sites and injectates (patients.cpt) and stored when the
    record is saved, so a bill and a report read the same value.
    """

    appointment = models.OneToOneField("booking.Appointment", on_delete=models.PROTECT, related_name="procedure_record")
    pain_before = models.PositiveSmallIntegerField(_("pain before (0–10)"), validators=PAIN_SCALE)
    pain_after = models.PositiveSmallIntegerField(_("pain after (0–10)"), validators=PAIN_SCALE)
    notes = models.TextField(_("notes"), blank=True)
    complications = models.TextField(_("complications"), blank=True)
    cpt_code = models.CharField(_("CPT code"), max_length=5)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProcedureRecordQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(pain_before__gte=0) & Q(pain_before__lte=10), name="patients_record_pain_before_0_10"
            ),
            models.CheckConstraint(
                condition=Q(pain_after__gte=0) & Q(pain_after__lte=10), name="patients_record_pain_after_0_10"
            ),
            models.CheckConstraint(
                condition=Q(cpt_code__in=["20552", "20553", "20560", "20561"]), name="patients_record_known_cpt"
            ),
        ]

    def __str__(self) -> str:
        return f"Procedure record {self.pk} (CPT {self.cpt_code})"

    @property
    def is_dry_needling(self) -> bool:
        return self.cpt_code in ("20560", "20561")


class ProcedureSite(models.Model):
    record = models.ForeignKey(ProcedureRecord, on_delete=models.CASCADE, related_name="sites")
    muscle = models.ForeignKey(Muscle, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(_("side"), max_length=5, choices=Side.choices)
    injections = models.PositiveSmallIntegerField(
        _("injections"), default=1, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(injections__gte=1) & Q(injections__lte=20), name="patients_site_injections_1_20"
            ),
            models.UniqueConstraint(fields=["record", "muscle", "side"], name="patients_site_unique_muscle_side"),
        ]

    def __str__(self) -> str:
        return f"{self.muscle} ({self.get_side_display()}) × {self.injections}"


class Injectate(models.Model):
    """One substance given at the visit, with its amount; several per visit."""

    record = models.ForeignKey(ProcedureRecord, on_delete=models.CASCADE, related_name="injectates")
    substance = models.CharField(_("substance"), max_length=20, choices=Substance.choices)
    name = models.CharField(_("name"), max_length=80, blank=True, help_text=_("e.g. lidocaine, triamcinolone"))
    strength_percent = models.DecimalField(
        _("strength (%)"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    volume_ml = models.DecimalField(
        _("volume (mL)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    dose = models.CharField(_("dose"), max_length=40, blank=True, help_text=_("e.g. 40 mg, 50 units"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(volume_ml__isnull=True) | Q(volume_ml__gt=0), name="patients_injectate_volume_positive"
            ),
        ]

    def __str__(self) -> str:
        parts = [self.name or self.get_substance_display()]
        if self.strength_percent is not None:
            parts.append(f"{self.strength_percent.normalize()} %")
        if self.volume_ml is not None:
            parts.append(f"{self.volume_ml.normalize()} mL")
        if self.dose:
            parts.append(self.dose)
        return " ".join(str(p) for p in parts)
