"""A patient's own changes: cancel or move a visit within the location's cutoff.

The desk is not bound by the cutoff; patients (web pages, the JSON API, a link in a message)
go through these functions, which check the cutoff and then call the ordinary verbs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.errors import ChangeTooLate, InvalidTransition
from booking.models import Appointment, Status
from booking.scheduling.availability import PATIENT_POLICY
from booking.services.appointments import cancel_appointment, move_appointment
from clinic.models import Provider

CHANGEABLE = (Status.BOOKED, Status.HELD)


def change_deadline(appointment: Appointment) -> datetime:
    """The last instant a patient may cancel or move this visit online."""
    return appointment.start - timedelta(hours=appointment.location.patient_change_cutoff_hours)


def patient_can_change(appointment: Appointment, *, now: datetime | None = None) -> bool:
    """Whether the patient may still cancel or move this visit online (status and cutoff)."""
    now = now or timezone.now()
    return appointment.status in CHANGEABLE and now < change_deadline(appointment)


def check_patient_change(appointment: Appointment, *, now: datetime | None = None) -> None:
    """Raise ChangeTooLate (422, with the clinic's phone) past the cutoff, InvalidTransition (409)
    for a visit that is no longer booked."""
    now = now or timezone.now()
    current = Appointment.objects.select_related("location").get(pk=appointment.pk)  # as it is now
    if current.status not in CHANGEABLE:
        raise InvalidTransition(
            _("This appointment is %(status)s; it cannot be changed.")
            % {"status": current.get_status_display().lower()}
        )
    if now >= change_deadline(current):
        location = current.location
        hours = location.patient_change_cutoff_hours
        if location.phone:
            detail = _(
                "Appointments can be changed online until %(hours)s hours before the visit. "
                "Please phone the clinic at %(phone)s."
            ) % {"hours": hours, "phone": location.phone}
        else:
            detail = _(
                "Appointments can be changed online until %(hours)s hours before the visit. Please phone the clinic."
            ) % {"hours": hours}
        raise ChangeTooLate(detail, phone=location.phone)


def patient_cancel_appointment(
    *, appointment: Appointment, by: User | None, reason: str, now: datetime | None = None
) -> Appointment:
    """Cancel the patient's own visit, if the cutoff allows."""
    now = now or timezone.now()
    check_patient_change(appointment, now=now)
    return cancel_appointment(appointment=appointment, by=by, reason=reason, now=now)


def patient_move_appointment(
    *,
    appointment: Appointment,
    start: datetime,
    by: User | None,
    provider: Provider | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Move the patient's own visit to a free slot (patient rules), if the cutoff allows."""
    now = now or timezone.now()
    check_patient_change(appointment, now=now)
    return move_appointment(
        appointment=appointment,
        start=start,
        provider=provider,
        by=by,
        policy=PATIENT_POLICY,
        reason=reason or "moved by the patient",
        now=now,
    )
