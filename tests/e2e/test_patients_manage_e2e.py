"""A patient manages their own appointments in a phone-sized browser: reschedule, cancel, the
single-use link from an e-mail, and the list in Spanish."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db.models import F
from django.utils import timezone
from playwright.sync_api import expect

from booking import services
from booking.messaging import delivery
from booking.models import Appointment, AppointmentEvent, EventAction, MessageKind, Reminder, Status
from clinic import roles
from patients.models import Language
from tests.conftest import build_clinic
from tests.e2e.conftest import log_in, page_width, serious_violations
from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def next_monday(clinic, weeks=1):
    """A Monday at least `weeks` weeks from today, at the clinic: outside every cutoff."""
    today = timezone.now().astimezone(clinic.location.tz).date() + timedelta(days=7 * weeks)
    return today + timedelta(days=-today.weekday() % 7)


def alice_with_a_visit(clinic, *, language=Language.ENGLISH):
    user = make_user("alice", role=roles.PATIENT)
    clinic.alice.user = user
    clinic.alice.preferred_language = language
    clinic.alice.save(update_fields=["user", "preferred_language"])
    monday = next_monday(clinic)
    appointment = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(monday, 9),
        by=None,
    )
    return appointment, monday


def fits_the_phone(page):
    assert page_width(page) <= 375  # no sideways scrolling


def test_a_patient_reschedules_an_appointment(live_server, page, shot):
    clinic = build_clinic()
    appointment, monday = alice_with_a_visit(clinic)
    tuesday = monday + timedelta(days=1)
    log_in(page, live_server, "alice")

    page.get_by_role("link", name="My appointments").click()
    expect(page.get_by_role("heading", name="My appointments")).to_be_visible()
    expect(page.locator(f"#appointment-{appointment.pk}")).to_contain_text("09:00 E")
    fits_the_phone(page)
    shot("my-appointments-phone")
    assert serious_violations(page) == []

    page.locator(f"#appointment-{appointment.pk}").get_by_role("link", name=re.compile("^Reschedule")).click()
    expect(page.get_by_role("heading", name="Choose a new time")).to_be_visible()
    page.get_by_role("link", name=re.compile(tuesday.strftime("%a %-d %b"))).click()
    page.get_by_text("10:30 E", exact=False).first.click()
    fits_the_phone(page)
    shot("reschedule-phone")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Move my appointment").click()

    expect(page.get_by_role("status")).to_contain_text("Your appointment is now on")
    expect(page.locator(f"#appointment-{appointment.pk}")).to_contain_text("10:30 E")
    shot("rescheduled-phone")
    appointment.refresh_from_db()
    assert appointment.start == clinic.at(tuesday, 10, 30) and appointment.status == Status.BOOKED
    assert AppointmentEvent.objects.filter(appointment=appointment, action=EventAction.MOVED).count() == 1


def test_a_patient_cancels_an_appointment(live_server, page, shot):
    clinic = build_clinic()
    appointment, _monday = alice_with_a_visit(clinic)
    log_in(page, live_server, "alice")
    page.goto(live_server.url + "/my/appointments/")

    page.locator(f"#appointment-{appointment.pk}").get_by_role("link", name=re.compile("^Cancel")).click()
    expect(page.get_by_role("heading", name="Cancel your appointment")).to_be_visible()
    page.get_by_label("I feel better").check()
    page.get_by_label("Anything the clinic should know (optional)").fill("The pain is gone")
    fits_the_phone(page)
    shot("cancel-phone")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Cancel this appointment").click()

    expect(page.get_by_role("status")).to_contain_text("is cancelled")
    expect(page.locator(f"#appointment-{appointment.pk}")).to_contain_text("Cancelled")
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.cancel_reason == "patient: feels better (The pain is gone)"


def test_the_emailed_link_cancels_once_and_fails_the_second_time(live_server, page, shot, settings):
    settings.SITE_URL = live_server.url
    settings.REMINDER_QUIET_HOURS = ""
    clinic = build_clinic()
    appointment, _monday = alice_with_a_visit(clinic)
    confirmation = Reminder.objects.get(appointment=appointment, kind=MessageKind.CONFIRMATION, channel="email")
    mail.outbox.clear()
    assert delivery.deliver(confirmation.pk) == "sent"  # what the Celery worker does
    link = re.search(re.escape(live_server.url) + r"/manage/[A-Za-z0-9_-]+", mail.outbox[-1].body).group(0)

    page.goto(link)  # not logged in
    expect(page.get_by_role("heading", name="Your appointment")).to_be_visible()
    fits_the_phone(page)
    shot("manage-link-phone")
    assert serious_violations(page) == []
    assert Appointment.objects.get(pk=appointment.pk).status == Status.BOOKED  # the GET changed nothing
    page.get_by_label("I cannot come at that time").check()
    page.get_by_role("button", name="Cancel this appointment").click()

    expect(page.get_by_role("status")).to_contain_text("is cancelled")
    assert page.url == live_server.url + "/manage/done"  # no token in the address
    shot("manage-link-done-phone")
    assert Appointment.objects.get(pk=appointment.pk).status == Status.CANCELLED

    response = page.goto(link)
    assert response.status == 410
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    shot("manage-link-used-phone")
    assert serious_violations(page) == []
    assert AppointmentEvent.objects.filter(appointment=appointment, action=EventAction.CANCELLED).count() == 1


def test_my_appointments_in_spanish(live_server, page, shot):
    clinic = build_clinic()
    appointment, _monday = alice_with_a_visit(clinic, language=Language.SPANISH)
    past = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_chen,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(next_monday(clinic, weeks=2), 11),
        by=None,
    )
    # Make it a visit that took place five weeks earlier (the service books only the future).
    weeks = timedelta(days=35)
    Appointment.objects.filter(pk=past.pk).update(
        status=Status.COMPLETED,
        start=F("start") - weeks,
        end=F("end") - weeks,
        block_start=F("block_start") - weeks,
        block_end=F("block_end") - weeks,
    )
    log_in(page, live_server, "alice")
    # Spanish chosen, as the language switch does it (its cookie); the switch itself and using the
    # profile's language at login are the registration pages' work.
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "es", "url": live_server.url}])
    page.goto(live_server.url + "/my/appointments/")

    expect(page.get_by_role("heading", name="Mis citas")).to_be_visible()
    expect(page.get_by_role("heading", name="Próximas")).to_be_visible()
    row = page.locator(f"#appointment-{appointment.pk}")
    expect(row).to_contain_text("Reservada")
    expect(row).to_contain_text("lun")
    expect(row.get_by_role("link", name=re.compile("^Cambiar la hora"))).to_be_visible()
    expect(page.locator(f"#appointment-{past.pk}")).to_contain_text("Cuidados posteriores")
    fits_the_phone(page)
    shot("my-appointments-es-phone")
    assert serious_violations(page) == []

    page.locator(f"#appointment-{past.pk}").get_by_role("link", name=re.compile("^Cuidados")).click()
    expect(page.get_by_role("heading", name="Después de su visita")).to_be_visible()
    expect(page.get_by_text("Descanse la zona tratada", exact=False)).to_be_visible()
    shot("aftercare-es-phone")
    assert serious_violations(page) == []
