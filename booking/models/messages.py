"""Messages: the outbox (one Reminder row per message), the clinic's texts and the patient's manage links."""

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from booking.models.appointments import Appointment
from clinic.models import Location
from patients.models import Language, Patient


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

    Bodies are Django template text rendered with plain values only (see booking.messaging.texts.CONTEXT_HELP).
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
