"""The confirmation e-mail carries the visit as an .ics file in the location's time zone."""

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from booking import services
from booking.messaging import delivery
from booking.messaging.ics import appointment_ics
from booking.models import MessageKind, Reminder
from booking.scheduling.availability import STAFF_POLICY
from patients.models import Language
from tests.conftest import MONDAY, NOW

pytestmark = pytest.mark.django_db


def book(clinic, hour=9, day=MONDAY, **extra):
    return services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.evaluation,
        location=clinic.location,
        start=clinic.at(day, hour),
        by=None,
        now=NOW,
        **extra,
    )


def send_confirmation(appointment) -> None:
    row = Reminder.objects.get(appointment=appointment, kind=MessageKind.CONFIRMATION, channel="email")
    assert delivery.deliver(row.pk, now=NOW) == "sent"


def the_event(ics: bytes):
    calendar = Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_the_confirmation_email_has_an_ics_in_the_locations_zone(clinic, mailoutbox):
    appointment = book(clinic)
    send_confirmation(appointment)
    (message,) = mailoutbox
    ((name, content, mimetype),) = message.attachments
    assert name == "appointment.ics" and mimetype == "text/calendar"
    text = content.decode() if isinstance(content, bytes) else content
    assert "DTSTART;TZID=America/New_York:20261207T090000" in text  # local wall time, not UTC
    assert "DTEND;TZID=America/New_York:20261207T094500" in text
    assert "BEGIN:VTIMEZONE" in text and "TZID:America/New_York" in text
    calendar, event = the_event(text.encode())
    assert event.decoded("dtstart") == clinic.at(MONDAY, 9)
    assert event.decoded("dtstart").astimezone(UTC) == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    assert str(event["uid"]) == f"appointment-{appointment.pk}@clinic.invalid"
    assert "Riverside Pain Clinic" in str(event["location"])
    assert "injection" not in text.lower() and "evaluation" not in text.lower()  # no clinical details


def test_the_uid_stays_the_same_when_the_visit_moves(clinic):
    appointment = book(clinic)
    _, before = the_event(appointment_ics(appointment, now=NOW))
    moved = services.move_appointment(appointment=appointment, start=clinic.at(MONDAY, 11), by=None, now=NOW)
    _, after = the_event(appointment_ics(moved, now=NOW))
    assert before["uid"] == after["uid"]
    assert after.decoded("dtstart") == clinic.at(MONDAY, 11)


def test_daylight_saving_time_is_the_local_wall_time(clinic):
    summer = book(clinic, day=datetime(2027, 3, 15).date(), policy=STAFF_POLICY)  # after the clocks went forward
    text = appointment_ics(summer, now=NOW).decode()
    assert "DTSTART;TZID=America/New_York:20270315T090000" in text
    assert "TZNAME:EDT" in text


def test_the_ics_speaks_the_patients_language(clinic, mailoutbox):
    clinic.alice.preferred_language = Language.SPANISH
    clinic.alice.save()
    send_confirmation(book(clinic))
    (message,) = mailoutbox
    text = message.attachments[0][1]
    text = text.decode() if isinstance(text, bytes) else text
    assert "SUMMARY:Cita en Riverside Pain Clinic" in text


def test_reminders_carry_no_ics(clinic, mailoutbox):
    appointment = book(clinic)
    row = Reminder.objects.get(appointment=appointment, kind=MessageKind.REMINDER_LONG, channel="email")
    assert delivery.deliver(row.pk, now=row.send_at) == "sent"
    assert all(not message.attachments for message in mailoutbox)
