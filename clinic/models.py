"""The clinic's set-up: where, who, when and what can be booked.

Wall-clock rules (working hours, closures) are local to a Location's IANA time zone;
instants (time off) are stored in UTC.
"""

import hashlib
import zoneinfo
from datetime import date, timedelta
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

_ZONES = frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _ZONES:
        raise ValidationError(
            _("%(value)s is not a known IANA time zone (for example America/New_York)."),
            params={"value": value},
            code="unknown_timezone",
        )


class HeatAdvice(models.TextChoices):
    """Clinics disagree on heat after the visit (shared/DOMAIN.md); each location picks its own."""

    ASK_PROVIDER = "ask_provider", _("Follow the provider's advice")
    AVOID = "avoid", _("Avoid heat for 1–2 days")
    HELPS = "helps", _("Heat and gentle stretching help")


class Location(models.Model):
    name = models.CharField(max_length=120, unique=True)
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    timezone = models.CharField(
        max_length=64, validators=[validate_timezone], help_text=_("IANA name, e.g. America/New_York")
    )
    is_active = models.BooleanField(default=True)
    patient_change_cutoff_hours = models.PositiveSmallIntegerField(
        _("patient change cutoff (hours)"),
        default=24,
        validators=[MaxValueValidator(336)],
        help_text=_(
            "Patients may cancel or reschedule online until this many hours before the visit; "
            "after that they are asked to phone the clinic."
        ),
    )
    heat_advice = models.CharField(
        _("heat advice"), max_length=20, choices=HeatAdvice.choices, default=HeatAdvice.ASK_PROVIDER
    )
    aftercare_en = models.TextField(
        _("aftercare (English)"),
        blank=True,
        help_text=_("Shown to patients after a visit and sent as the aftercare message. Empty: the default text."),
    )
    aftercare_es = models.TextField(
        _("aftercare (Spanish)"),
        blank=True,
        help_text=_("Shown to patients after a visit and sent as the aftercare message. Empty: the default text."),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Room(models.Model):
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=80)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location", "name"]
        constraints = [models.UniqueConstraint(fields=["location", "name"], name="clinic_room_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.location})"


class VisitKind(models.TextChoices):
    EVALUATION = "evaluation", _("Evaluation")
    PROCEDURE = "procedure", _("Procedure")
    FOLLOW_UP = "follow_up", _("Follow-up")


class VisitType(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=VisitKind.choices)
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(5), MaxValueValidator(480)])
    buffer_before_minutes = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(120)])
    buffer_after_minutes = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(120)])
    needs_room = models.BooleanField(default=True)
    bookable_online = models.BooleanField(default=True)
    min_notice_minutes = models.PositiveIntegerField(
        default=120, help_text=_("How long before the start a booking must be made.")
    )
    horizon_days = models.PositiveSmallIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(366)],
        help_text=_("How far ahead one can book."),
    )
    slot_step_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="clinic_visittype_duration_positive"),
            models.CheckConstraint(condition=Q(slot_step_minutes__gt=0), name="clinic_visittype_step_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)


class Provider(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="provider"
    )
    display_name = models.CharField(max_length=120)
    credentials = models.CharField(max_length=60, blank=True, help_text=_("e.g. MD, DO, NP"))
    locations = models.ManyToManyField(Location, related_name="providers")
    visit_types = models.ManyToManyField(VisitType, related_name="providers")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return f"{self.display_name}, {self.credentials}" if self.credentials else self.display_name


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WorkingHours(models.Model):
    """One range of a provider's week at one location; a lunch break is two ranges."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="working_hours")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["provider", "weekday", "start"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="clinic_workinghours_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValidationError({"end": _("The end of working hours must be after the start.")})
        if self.provider_id is None or self.weekday is None or self.start is None or self.end is None:
            return
        clash = (
            WorkingHours.objects.filter(
                provider_id=self.provider_id, weekday=self.weekday, start__lt=self.end, end__gt=self.start
            )
            .exclude(pk=self.pk)
            .select_related("location")
            .first()
        )
        if clash is not None:
            raise ValidationError(
                _("These hours overlap %(other)s at %(location)s for the same provider."),
                params={"other": clash, "location": clash.location},
                code="overlapping_hours",
            )


class TimeOff(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name_plural = "time off"
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="clinic_timeoff_end_after_start")]

    def __str__(self) -> str:
        return f"{self.provider}: {self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": _("Time off must end after it starts.")})


class Closure(models.Model):
    """Days a location is closed (public holidays, training days); both dates inclusive."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="closures")
    start_date = models.DateField()
    end_date = models.DateField()
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="clinic_closure_end_not_before_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.location}: {self.reason} ({self.start_date} – {self.end_date})"

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("A closure cannot end before it starts.")})

    def days(self) -> list[date]:
        return [self.start_date + timedelta(days=i) for i in range((self.end_date - self.start_date).days + 1)]


def hash_token(token: str) -> str:
    """How an API token or a link's token is stored: its SHA-256 only, so a copy of the database
    opens nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored, the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token {self.name or self.pk} for {self.user}"
