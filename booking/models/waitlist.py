"""The waitlist: who wants an earlier time, and the offers made to them when one opens up."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.models.appointments import Appointment
from clinic.models import Location, Provider, VisitType
from patients.models import Patient


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Offered a time")
    BOOKED = "booked", _("Booked")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")


ACTIVE_WAITLIST = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class PartOfDay(models.TextChoices):
    """Parts of the day a patient can come, by the visit's local start time."""

    MORNING = "morning", _("Morning (before 12:00)")
    AFTERNOON = "afternoon", _("Afternoon (12:00 to 17:00)")
    EVENING = "evening", _("Evening (from 17:00)")


class WaitlistEntryQuerySet(models.QuerySet["WaitlistEntry"]):
    def active(self) -> "WaitlistEntryQuerySet":
        return self.filter(status__in=[s.value for s in ACTIVE_WAITLIST])

    def fairness_order(self) -> "WaitlistEntryQuerySet":
        """Oldest entry first: who waited longest is offered first."""
        return self.order_by("created_at", "id")


class WaitlistEntry(models.Model):
    """A patient waiting for a visit type at a location, optionally with one provider, within a
    date range and at certain times of day (the location's local wall time)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist_entries")
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    earliest_date = models.DateField(null=True, blank=True)
    latest_date = models.DateField(null=True, blank=True)
    # Empty = any part of the day; otherwise the visit must start in one of these.
    parts_of_day = models.JSONField(default=list, blank=True)
    # An optional local window the whole visit must fit in.
    time_from = models.TimeField(null=True, blank=True)
    time_to = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=200, blank=True)
    # Who withdrew it (null: the system, e.g. booked from an offer or past its last date).
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = WaitlistEntryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [
            models.Index(fields=["location", "visit_type", "status", "created_at"], name="booking_waitlist_match_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(earliest_date__isnull=True)
                | Q(latest_date__isnull=True)
                | Q(latest_date__gte=F("earliest_date")),
                name="booking_waitlistentry_dates_in_order",
            ),
            models.CheckConstraint(
                condition=Q(time_from__isnull=True) | Q(time_to__isnull=True) | Q(time_to__gt=F("time_from")),
                name="booking_waitlistentry_window_in_order",
            ),
            # One active entry per patient, visit type and location: joining twice changes nothing.
            models.UniqueConstraint(
                fields=["patient", "visit_type", "location"],
                condition=Q(status__in=["waiting", "offered"]),
                name="booking_waitlistentry_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} waits for {self.visit_type} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_WAITLIST


class OfferStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    LOST = "lost", _("Taken by someone else")
    EXPIRED = "expired", _("Expired")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class WaitlistOfferQuerySet(models.QuerySet["WaitlistOffer"]):
    def open(self) -> "WaitlistOfferQuerySet":
        return self.filter(status=OfferStatus.OPEN)

    def for_slot(self, provider_id: int, start: datetime) -> "WaitlistOfferQuerySet":
        return self.filter(provider_id=provider_id, start=start)


class WaitlistOffer(models.Model):
    """A freed (or hand-picked) time offered to one waitlist entry, taken with a single-use link.

    Only the SHA-256 of the link's token is stored; the token itself is derived from
    `token_nonce` with the server's secret key, so the message sender can put it in the link and
    a copy of the database alone cannot open an offer.
    """

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="+")
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    # The cancelled visit that freed the time; null when the desk offered a time by hand.
    freed_by = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="waitlist_offers"
    )
    expires_at = models.DateTimeField()
    token_hash = models.CharField(max_length=64, unique=True)
    token_nonce = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    # The booking made when the offer was accepted.
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="accepted_offers"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = WaitlistOfferQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="booking_offer_status_idx"),
            models.Index(fields=["provider", "start"], name="booking_offer_slot_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="booking_waitlistoffer_end_after_start"),
            # An entry is offered one time once at a time.
            models.UniqueConstraint(
                fields=["entry", "provider", "start"],
                condition=Q(status="open"),
                name="booking_waitlistoffer_one_open_per_slot",
            ),
            models.CheckConstraint(
                condition=~Q(status="accepted") | Q(appointment__isnull=False),
                name="booking_waitlistoffer_accepted_has_appointment",
            ),
        ]

    def __str__(self) -> str:
        return f"offer of {self.start:%Y-%m-%d %H:%M} UTC to {self.entry.patient} ({self.status})"

    def local_start(self) -> datetime:
        return timezone.localtime(self.start, self.location.tz)
