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
from patients.models import Language, Patient


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


class MessageKind(models.TextChoices):
    CONFIRMATION = "confirmation", _("Booking confirmation")
    REMINDER_LONG = "reminder_long", _("Early reminder")
    REMINDER_SHORT = "reminder_short", _("Last reminder")
    CHANGE = "change", _("Appointment changed")
    CANCELLATION = "cancellation", _("Appointment cancelled")
    AFTERCARE = "aftercare", _("Aftercare advice")
    WAITLIST_OFFER = "waitlist_offer", _("Waitlist offer")
    SERIES_SUMMARY = "series_summary", _("Series summary")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")


class ReminderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped")


class ReminderQuerySet(models.QuerySet["Reminder"]):
    def due(self, now: datetime) -> "ReminderQuerySet":
        """Rows a sweep should hand to a worker: pending and due (not already handed out
        recently), or claimed by a worker whose lease ran out."""
        not_handed_out = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
        pending = Q(status=ReminderStatus.PENDING, send_at__lte=now) & not_handed_out
        abandoned = Q(status=ReminderStatus.SENDING, lease_until__lte=now)
        return self.filter(pending | abandoned)


class Reminder(models.Model):
    """One message to one patient about one appointment on one channel: a transactional outbox row.

    Written in the same transaction as the booking change that calls for it; a sweep hands due
    rows to Celery by id, and the task claims the row (pending -> sending, with a lease) before
    it sends. `send_at` is when the next attempt may start; `generation` grows each time a used
    row is armed again (a second move, a resend), so each message has its own idempotency key.
    """

    # What the message is about: a patient's appointment, or (waitlist offers) an offered time.
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    offer = models.ForeignKey("WaitlistOffer", null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=20, choices=MessageKind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    send_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    # sending: the claim's lease; pending: handed to the broker, not to be handed out again before.
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    generation = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReminderQuerySet.as_manager()

    class Meta:
        ordering = ["send_at", "id"]
        indexes = [models.Index(fields=["status", "send_at"], name="booking_reminder_due_idx")]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "kind", "channel"], name="booking_reminder_unique_key"),
            # An offer's messages: once per (offer, kind, channel); appointment is null there.
            models.UniqueConstraint(
                fields=["offer", "kind", "channel"],
                condition=Q(offer__isnull=False),
                name="booking_reminder_unique_offer_key",
            ),
            models.CheckConstraint(
                condition=Q(appointment__isnull=False, offer__isnull=True)
                | Q(appointment__isnull=True, offer__isnull=False, kind="waitlist_offer"),
                name="booking_reminder_about_one_thing",
            ),
            models.CheckConstraint(
                condition=~Q(status=ReminderStatus.SENT) | Q(sent_at__isnull=False),
                name="booking_reminder_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.get_channel_display()} ({self.status})"

    @property
    def patient(self) -> Patient:
        """Who the message goes to."""
        return self.offer.entry.patient if self.offer is not None else self._appointment.patient

    @property
    def location(self) -> Location:
        """Whose clinic the message speaks for (its time zone, address and reply-to)."""
        return self.offer.location if self.offer is not None else self._appointment.location

    @property
    def _appointment(self) -> Appointment:
        # booking_reminder_about_one_thing: a message that is not about an offer is about an appointment.
        assert self.appointment is not None, "a reminder about neither an appointment nor an offer"
        return self.appointment

    @property
    def idempotency_key(self) -> str:
        """What the gateway dedups by: `reminder-<id>`, with `-<generation>` once re-armed."""
        return f"reminder-{self.pk}" if not self.generation else f"reminder-{self.pk}-{self.generation}"


class MessageTemplate(models.Model):
    """The text of one kind of message on one channel in one language; location null = clinic default.

    Bodies are Django template text rendered with plain values only (see booking.reminders.CONTEXT_HELP).
    """

    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="message_templates"
    )
    kind = models.CharField(max_length=20, choices=MessageKind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    language = models.CharField(max_length=5, choices=Language.choices)
    subject = models.CharField(max_length=200, blank=True, help_text=_("E-mail only."))
    body = models.TextField()
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["location_id", "kind", "channel", "language"]
        constraints = [
            # Two partial constraints: a plain unique constraint lets NULL locations repeat.
            models.UniqueConstraint(
                fields=["location", "kind", "channel", "language"],
                condition=Q(location__isnull=False),
                name="booking_messagetemplate_unique",
            ),
            models.UniqueConstraint(
                fields=["kind", "channel", "language"],
                condition=Q(location__isnull=True),
                name="booking_messagetemplate_unique_default",
            ),
        ]

    def __str__(self) -> str:
        where = self.location.name if self.location is not None else _("clinic default")
        return f"{self.get_kind_display()} · {self.get_channel_display()} · {self.language} ({where})"


# --- managing one appointment from a link in a message ----------------------------------------


class ManageLinkQuerySet(models.QuerySet["ManageLink"]):
    def usable(self, now: datetime) -> "ManageLinkQuerySet":
        return self.filter(used_at__isnull=True, expires_at__gt=now)


class ManageLink(models.Model):
    """A single-use link to manage one appointment without logging in.

    Only the token's SHA-256 is stored (like clinic.ApiToken); the token itself exists only in
    the message that carried it. It expires at the appointment's start and is used up by the
    first change made with it (every other link of the same appointment with it).
    """

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="manage_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_for = models.CharField(max_length=20, blank=True)

    objects = ManageLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["appointment", "used_at"], name="booking_managelink_appt_idx")]

    def __str__(self) -> str:
        state = (
            f"used {self.used_at:%Y-%m-%d %H:%M} UTC" if self.used_at else f"until {self.expires_at:%Y-%m-%d %H:%M} UTC"
        )
        return f"manage link for appointment {self.appointment_id} ({state})"


# --- the waitlist ---------------------------------------------------------------------------


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
