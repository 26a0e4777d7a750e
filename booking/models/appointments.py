"""Appointments, treatment series and the audit trail of every change to them.

Only booking/services/ writes these rows. The no-overlap rule lives in the database:
PostgreSQL exclusion constraints on the buffered span [block_start, block_end) per provider
and per room, for every occupying status.
"""

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.constraints import PortableExclusionConstraint
from clinic.models import Location, Provider, Room, VisitType
from patients.models import Patient


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Status(models.TextChoices):
    HELD = "held", _("Held")
    BOOKED = "booked", _("Booked")
    CHECKED_IN = "checked_in", _("Checked in")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")
    EXPIRED = "expired", _("Hold expired")


# Every status that keeps the provider's (and room's) time taken.
OCCUPYING = (Status.HELD, Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED)
OCCUPYING_Q = Q(status__in=[s.value for s in OCCUPYING])


class AppointmentQuerySet(models.QuerySet["Appointment"]):
    def occupying(self, now: datetime | None = None) -> "AppointmentQuerySet":
        """Rows that take time now: occupying statuses, minus holds that have run out."""
        now = now or timezone.now()
        return self.filter(OCCUPYING_Q).exclude(status=Status.HELD, hold_expires_at__lte=now)

    def for_provider(self, provider: Provider | int) -> "AppointmentQuerySet":
        return self.filter(provider=provider)

    def for_room(self, room: Room | int) -> "AppointmentQuerySet":
        return self.filter(room=room)

    def overlapping(self, start: datetime, end: datetime) -> "AppointmentQuerySet":
        """Rows whose buffered span meets [start, end); back-to-back does not count."""
        return self.filter(block_start__lt=end, block_end__gt=start)

    def expired_holds(self, now: datetime) -> "AppointmentQuerySet":
        return self.filter(status=Status.HELD, hold_expires_at__lte=now)


class SeriesStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    STOPPED = "stopped", _("Stopped")


class Series(models.Model):
    """A course of procedure sessions planned in the location's local wall time."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="series")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="series")
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    sessions_planned = models.PositiveSmallIntegerField()
    gap_days = models.PositiveSmallIntegerField(default=14)
    tolerance_days = models.PositiveSmallIntegerField(default=2)
    taper_days = models.JSONField(default=list, blank=True, help_text=_("Growing gaps, e.g. [14, 21, 28]"))
    preferred_time = models.TimeField(help_text=_("Local time of day the patient prefers"))
    status = models.CharField(max_length=12, choices=SeriesStatus.choices, default=SeriesStatus.PLANNED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "series"
        constraints = [
            models.CheckConstraint(
                condition=Q(sessions_planned__gte=1) & Q(sessions_planned__lte=52),
                name="booking_series_sessions_in_range",
            ),
            models.CheckConstraint(condition=Q(gap_days__gte=1), name="booking_series_gap_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.patient}: {self.sessions_planned} × {self.visit_type}"


class Appointment(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="appointments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="appointments")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments")
    # What the patient sees, as UTC instants.
    start = models.DateTimeField()
    end = models.DateTimeField()
    # start/end widened by the visit type's buffers: the time no other visit may use.
    block_start = models.DateTimeField()
    block_end = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    series = models.ForeignKey(Series, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments")
    session_number = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start", "provider_id"]
        indexes = [
            models.Index(fields=["provider", "block_start"], name="booking_appt_provider_idx"),
            models.Index(fields=["room", "block_start"], name="booking_appt_room_idx"),
            models.Index(fields=["location", "start"], name="booking_appt_location_idx"),
            models.Index(fields=["patient", "start"], name="booking_appt_patient_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="booking_appointment_end_after_start"),
            models.CheckConstraint(
                condition=Q(block_start__lte=F("start")) & Q(block_end__gte=F("end")),
                name="booking_appointment_block_covers_visit",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.HELD) | Q(hold_expires_at__isnull=False),
                name="booking_appointment_hold_has_expiry",
            ),
            models.UniqueConstraint(
                fields=["series", "session_number"],
                condition=OCCUPYING_Q & Q(series__isnull=False),
                name="booking_appointment_unique_series_session",
            ),
            PortableExclusionConstraint(
                name="booking_appointment_no_provider_overlap",
                expressions=[
                    (TsTzRange("block_start", "block_end", RangeBoundary()), RangeOperators.OVERLAPS),
                    ("provider", RangeOperators.EQUAL),
                ],
                condition=OCCUPYING_Q,
            ),
            PortableExclusionConstraint(
                name="booking_appointment_no_room_overlap",
                expressions=[
                    (TsTzRange("block_start", "block_end", RangeBoundary()), RangeOperators.OVERLAPS),
                    ("room", RangeOperators.EQUAL),
                ],
                condition=OCCUPYING_Q & Q(room__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} with {self.provider} at {self.start:%Y-%m-%d %H:%M} UTC ({self.status})"

    @property
    def is_occupying(self) -> bool:
        return self.status in OCCUPYING

    def local_start(self) -> datetime:
        return timezone.localtime(self.start, self.location.tz)

    def local_end(self) -> datetime:
        return timezone.localtime(self.end, self.location.tz)


class EventAction(models.TextChoices):
    HELD = "held", _("Held")
    BOOKED = "booked", _("Booked")
    CONFIRMED = "confirmed", _("Hold confirmed")
    MOVED = "moved", _("Moved")
    CANCELLED = "cancelled", _("Cancelled")
    CHECKED_IN = "checked_in", _("Checked in")
    NO_SHOW = "no_show", _("Marked no-show")
    COMPLETED = "completed", _("Completed")
    EXPIRED = "expired", _("Hold expired")
    RECORDED = "recorded", _("Procedure recorded")


class AppointmentEvent(models.Model):
    """Append-only history: who changed an appointment, when, from what to what, and why."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=12, choices=EventAction.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    from_start = models.DateTimeField(null=True)
    to_start = models.DateTimeField(null=True)
    from_provider_id = models.BigIntegerField(null=True)
    to_provider_id = models.BigIntegerField(null=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["appointment", "at"], name="booking_event_appt_idx")]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M} UTC"


# --- patient messages: the outbox and its texts ---------------------------------------------
