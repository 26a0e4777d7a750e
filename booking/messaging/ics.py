"""The calendar file (.ics, RFC 5545) attached to a confirmation e-mail.

Times are written in the location's own zone (DTSTART;TZID=America/New_York:20261207T090000) with
a VTIMEZONE block, so a calendar shows the visit at the clinic's wall time wherever the patient's
phone is. The UID is fixed per appointment: a re-sent or moved confirmation updates the same
calendar entry instead of adding a second one. Like the e-mail itself, it names no clinical details.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress

from booking.models import Appointment

PRODID = "-//Pain clinic//Appointments//EN"


def appointment_uid(appointment: Appointment) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or "clinic.invalid"
    return f"appointment-{appointment.pk}@{domain}"


def appointment_ics(appointment: Appointment, *, language: str = "en", now: datetime | None = None) -> bytes:
    """One VEVENT for the visit, with the location's VTIMEZONE."""
    now = now or timezone.now()
    location = appointment.location
    tz = location.tz
    start = timezone.localtime(appointment.start, tz)
    end = timezone.localtime(appointment.end, tz)
    with translation.override(language):
        summary = _("Appointment at %(clinic)s") % {"clinic": location.name}
        lines = [_("Your appointment at %(clinic)s.") % {"clinic": location.name}]
        if location.phone:
            lines.append(_("To change or cancel, call %(phone)s.") % {"phone": location.phone})
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", appointment_uid(appointment))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("description", "\n".join(lines))
    event.add("location", ", ".join(part for part in [location.name, *location.address.split("\n")] if part.strip()))
    event.add("status", "CONFIRMED")
    event.add("sequence", int(appointment.updated_at.timestamp()) if appointment.updated_at else 0)
    if location.email:
        event.add("organizer", vCalAddress(f"mailto:{location.email}"), parameters={"cn": location.name})
    calendar.add_component(event)
    day = start.date()
    calendar.add_missing_timezones(first_date=date(day.year - 1, 1, 1), last_date=day + timedelta(days=400))
    return calendar.to_ical()
