"""A patient books on a phone: sign up and book an evaluation; a blood thinner stops a procedure
and the desk approves it; the same booking in Spanish. axe runs on every page of the wizard."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking import services
from booking.models import Appointment, Status
from booking.scheduling.availability import STAFF_POLICY
from booking.scheduling.loading import find_slots
from clinic import roles
from patients.models import Patient, ReviewStatus, Screening
from tests.conftest import build_clinic
from tests.e2e.conftest import log_in, page_width, serious_violations
from tests.factories import DEFAULT_PASSWORD, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def no_sideways_scrolling(page):
    assert page_width(page) <= 375


def accessible(page):
    no_sideways_scrolling(page)
    assert serious_violations(page) == []


def pick_first_free_time(page, next_month="Next month"):
    """On the calendar: the first day with room (this month or the next), then its first time."""
    if page.locator("a.book-day").count() == 0:
        page.get_by_role("link", name=next_month, exact=True).click()
    page.locator("a.book-day").first.click()  # htmx swaps the day's times in
    expect(page.locator("button.book-time").first).to_be_visible()
    page.locator("button.book-time").first.click()


def evaluated(clinic, patient):
    """An evaluation on record: booked by the desk, then completed."""
    today = timezone.localdate(timezone.now(), clinic.location.tz)
    slot = find_slots(
        visit_type=clinic.evaluation,
        location=clinic.location,
        first_day=today + timedelta(days=60),  # far from the times the test picks
        last_day=today + timedelta(days=70),
        provider_ids=[clinic.dr_chen.pk],
    )[0]
    appointment = services.book_appointment(
        patient=patient,
        provider=clinic.dr_chen,
        visit_type=clinic.evaluation,
        location=clinic.location,
        start=slot.start,
        by=None,
        policy=STAFF_POLICY,
    )
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.COMPLETED)


def test_a_new_patient_signs_up_and_books_an_evaluation(live_server, page, shot):
    build_clinic()
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("First name").fill("Nora")
    page.get_by_label("Last name").fill("Quinn")
    page.get_by_label("Date of birth").fill("1985-03-02")
    page.get_by_label("E-mail").fill("nora@example.com")
    page.locator("#id_password1").fill(DEFAULT_PASSWORD)
    page.get_by_label("Password again").fill("not the same")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("The two passwords differ.")).to_be_visible()
    accessible(page)  # the error is tied to its field
    page.locator("#id_password1").fill(DEFAULT_PASSWORD)
    page.get_by_label("Password again").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Book a visit")).to_be_visible()
    accessible(page)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Please book an evaluation first")).to_be_visible()  # procedures wait
    accessible(page)
    page.get_by_label("Evaluation").check()
    page.get_by_role("button", name="Next").click()
    accessible(page)
    page.get_by_role("button", name="Next").click()  # any provider
    expect(page.get_by_role("heading", name="Choose a day and time")).to_be_visible()
    pick_first_free_time(page)

    expect(page.get_by_role("heading", name="Check and confirm")).to_be_visible()
    expect(page.get_by_text("We are keeping this time for you")).to_be_visible()
    accessible(page)
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    accessible(page)
    shot("book-done-phone")
    appointment = Appointment.objects.get(patient=Patient.objects.get(email="nora@example.com"))
    assert appointment.status == Status.BOOKED and appointment.visit_type.slug == "evaluation"


def test_a_blood_thinner_stops_a_procedure_and_the_desk_approves_it(live_server, page, shot):
    clinic = build_clinic()
    make_user("desk", role=roles.FRONT_DESK)
    alice = make_user("alice", role=roles.PATIENT)
    clinic.alice.user = alice
    clinic.alice.save(update_fields=["user"])
    evaluated(clinic, clinic.alice)
    log_in(page, live_server, "alice")

    page.goto(live_server.url + "/book/")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Trigger point injection session").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Maria Alvarez").check()
    page.get_by_role("button", name="Next").click()
    pick_first_free_time(page)

    expect(page.get_by_role("heading", name="Safety questions")).to_be_visible()
    page.get_by_role("button", name="Continue").click()  # nothing answered
    expect(page.get_by_text("Please answer every question.")).to_be_visible()
    accessible(page)
    for question in page.locator("fieldset").all():
        question.get_by_label("No").check()
    page.locator("fieldset", has_text="blood thinner").get_by_label("Yes").check()
    page.get_by_label("If yes, which one?").fill("warfarin")
    shot("book-screening-phone")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Thank you: the clinic will call you")).to_be_visible()
    accessible(page)
    assert not Appointment.objects.filter(patient=clinic.alice, status__in=[Status.HELD, Status.BOOKED]).exclude(
        visit_type=clinic.evaluation
    )
    page.get_by_role("button", name="Log out").click()

    log_in(page, live_server, "desk")
    page.get_by_role("link", name="Front desk").click()
    page.get_by_role("link", name="Screening review requests").click()
    request = page.locator("article", has_text="Alice Moreno")
    expect(request).to_contain_text("Blood thinner")
    expect(request).to_contain_text("warfarin")
    accessible(page)
    shot("desk-reviews-phone")
    request.get_by_label("Note").fill("Spoke with her; INR fine.")
    request.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved: Alice Moreno may book online now.")).to_be_visible()
    screening = Screening.objects.get(patient=clinic.alice)
    assert screening.review_status == ReviewStatus.APPROVED and not screening.blocks_online_booking


def test_the_same_booking_in_spanish(live_server, page, shot):
    clinic = build_clinic()
    alice = make_user("alice", role=roles.PATIENT)
    clinic.alice.user = alice
    clinic.alice.save(update_fields=["user"])
    log_in(page, live_server, "alice")
    page.get_by_role("button", name="Español").click()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()

    page.get_by_role("link", name="Reservar", exact=True).click()
    expect(page.get_by_role("heading", name="Reservar una visita")).to_be_visible()
    expect(page.get_by_text("Paso 1 de 5")).to_be_visible()
    page.get_by_role("button", name="Siguiente").click()
    expect(page.get_by_role("heading", name="Elija la visita")).to_be_visible()
    expect(page.get_by_text("Reserve primero una evaluación")).to_be_visible()
    page.get_by_label("Evaluation").check()
    page.get_by_role("button", name="Siguiente").click()
    expect(page.get_by_text("Cualquier profesional")).to_be_visible()
    page.get_by_role("button", name="Siguiente").click()
    expect(page.get_by_role("heading", name="Elija el día y la hora")).to_be_visible()
    accessible(page)
    if page.locator("a.book-day").count() == 0:
        page.get_by_role("link", name="Mes siguiente", exact=True).click()
    page.locator("a.book-day").first.click()
    expect(page.get_by_role("heading", name="Horas libres el")).to_be_visible()
    page.locator("button.book-time").first.click()
    expect(page.get_by_role("heading", name="Revise y confirme")).to_be_visible()
    expect(page.get_by_text("Le guardamos esta hora hasta las")).to_be_visible()
    page.get_by_role("button", name="Confirmar la reserva").click()
    expect(page.get_by_role("heading", name="Su cita está reservada")).to_be_visible()
    accessible(page)
    shot("book-done-phone-es")
    assert Appointment.objects.get(patient=clinic.alice).status == Status.BOOKED


def test_the_booking_calendar_on_a_375_pixel_phone(live_server, page, shot):
    clinic = build_clinic()
    alice = make_user("alice", role=roles.PATIENT)
    clinic.alice.user = alice
    clinic.alice.save(update_fields=["user"])
    log_in(page, live_server, "alice")
    page.goto(
        f"{live_server.url}/book/calendar?location={clinic.location.pk}&visit={clinic.evaluation.pk}&provider=any"
    )
    if page.locator("a.book-day").count() == 0:
        page.get_by_role("link", name="Next month", exact=True).click()
    page.locator("a.book-day").first.focus()
    page.keyboard.press("Enter")  # htmx fetches the day's times only
    expect(page.locator("button.book-time").first).to_be_visible()
    expect(page.locator("#times-heading")).to_be_focused()  # the keyboard continues from the times
    assert "day=" in page.url  # and the address can be shared or reloaded
    page.keyboard.press("Tab")
    expect(page.locator("button.book-time").first).to_be_focused()
    accessible(page)
    shot("book-calendar-phone")
    page.goto(live_server.url + "/account/profile")
    expect(page.get_by_label("Preferred language")).to_be_visible()
    accessible(page)
    shot("profile-phone")


def test_a_time_taken_while_the_patient_decides_offers_free_alternatives(live_server, page, shot):
    clinic = build_clinic()
    alice = make_user("alice", role=roles.PATIENT)
    clinic.alice.user = alice
    clinic.alice.save(update_fields=["user"])
    log_in(page, live_server, "alice")
    page.goto(
        f"{live_server.url}/book/calendar?location={clinic.location.pk}&visit={clinic.evaluation.pk}"
        f"&provider={clinic.dr_alvarez.pk}"
    )
    if page.locator("a.book-day").count() == 0:
        page.get_by_role("link", name="Next month", exact=True).click()
    page.locator("a.book-day").first.click()
    first_time = page.locator("button.book-time").first
    start_text = first_time.get_attribute("value").partition("|")[0]
    services.book_appointment(  # Bob takes it on the phone meanwhile
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        visit_type=clinic.evaluation,
        location=clinic.location,
        start=datetime.fromisoformat(start_text),
        by=None,
        policy=STAFF_POLICY,
    )
    first_time.click()
    expect(page.get_by_role("alert")).to_contain_text("someone else has just taken that time")
    expect(page.get_by_role("heading", name="These times are free")).to_be_visible()
    accessible(page)
    shot("book-taken-phone")
    page.locator("button.book-time").first.click()
    expect(page.get_by_role("heading", name="Check and confirm")).to_be_visible()
    assert Appointment.objects.get(patient=clinic.alice).status == Status.HELD
