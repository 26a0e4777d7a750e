"""Single-use links that let a patient manage one appointment from a message, without logging in.

The token is made when a message is rendered for sending and lives only in that message; the
database keeps its SHA-256. A link expires at the appointment's start, is used up by the first
change made with it (with every other link of that appointment), and a GET never changes
anything: only the POSTs below do.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from booking.errors import LinkUnusable
from booking.models import Appointment, ManageLink, Status
from booking.services import patient_changes
from clinic.models import hash_token

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100  # a token is 43 characters; anything far longer is not worth hashing


def issue_manage_link(*, appointment: Appointment, now: datetime | None = None) -> str:
    """Create a link for this appointment and return its token (shown once, never stored)."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    ManageLink.objects.create(
        appointment_id=appointment.pk, token_hash=hash_token(token), created_at=now, expires_at=appointment.start
    )
    return token


def find_manage_link(token: str, *, now: datetime | None = None, for_update: bool = False) -> ManageLink:
    """The link behind a token, if it can still be used; LinkUnusable (unknown, used, expired) if not."""
    now = now or timezone.now()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkUnusable("unknown")
    links = ManageLink.objects.select_related("appointment__location", "appointment__patient")
    if for_update:
        links = links.select_for_update(of=("self",))
    link = links.filter(token_hash=hash_token(token)).first()
    if link is None:
        raise LinkUnusable("unknown")
    appointment = link.appointment
    language = appointment.patient.preferred_language
    if link.used_at is not None:
        raise LinkUnusable("used", language)
    if now >= link.expires_at or now >= appointment.start:
        raise LinkUnusable("expired", language)
    if appointment.status != Status.BOOKED:
        raise LinkUnusable("used", language)  # changed another way (the desk, another link, the patient's page)
    return link


def _use_up(link: ManageLink, action: str, now: datetime) -> None:
    """Mark this link, and every other unused link of the appointment, as used; one winner only."""
    if not ManageLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now, used_for=action):
        raise LinkUnusable("used")
    ManageLink.objects.filter(appointment_id=link.appointment_id, used_at__isnull=True).update(
        used_at=now, used_for="superseded"
    )


def _acting_user(appointment: Appointment) -> User | None:
    return appointment.patient.user  # None for a patient without a login: the audit row says so


def cancel_by_link(*, token: str, reason: str, now: datetime | None = None) -> Appointment:
    """Cancel the link's appointment within the clinic's cutoff, and use the link up; all or nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        link = find_manage_link(token, now=now, for_update=True)
        appointment = link.appointment
        patient_changes.check_patient_change(appointment, now=now)
        _use_up(link, "cancel", now)
        return patient_changes.patient_cancel_appointment(
            appointment=appointment, by=_acting_user(appointment), reason=reason, now=now
        )


def move_by_link(*, token: str, start: datetime, now: datetime | None = None) -> Appointment:
    """Move the link's appointment to a free slot with the same provider, and use the link up."""
    now = now or timezone.now()
    with transaction.atomic():
        link = find_manage_link(token, now=now, for_update=True)
        appointment = link.appointment
        patient_changes.check_patient_change(appointment, now=now)
        _use_up(link, "move", now)
        return patient_changes.patient_move_appointment(
            appointment=appointment, start=start, by=_acting_user(appointment), reason="moved from a link", now=now
        )
