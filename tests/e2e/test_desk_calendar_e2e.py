"""The front desk runs the day in a browser: book a caller into an empty time (creating the
patient), move a visit onto a taken time and take an alternative, check a patient in, mark a
no-show. All without reloading the page.

The live server runs on the real clock, so the clinic is placed in a time zone where it is
about noon now, and its providers work 06:00–20:00 every day: the tests pass at any hour.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking import services
from booking.models import Appointment, Status
from booking.scheduling.availability import STAFF_POLICY
from clinic import roles
from clinic.models import WorkingHours
from patients.models import Patient, ReviewStatus, Screening
from tests.conftest import build_clinic
from tests.e2e.conftest import htmx_settled, log_in, page_width, serious_violations
from tests.factories import make_patient, make_provider, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


def noon_somewhere() -> str:
    """A fixed-offset zone where the local time is now between 12:00 and 12:59."""
    shift = 12 - timezone.now().astimezone(UTC).hour
    return "Etc/GMT" if shift == 0 else f"Etc/GMT{'-' if shift > 0 else '+'}{abs(shift)}"


def desk_clinic():
    clinic = build_clinic()
    clinic.location.timezone = noon_somewhere()
    clinic.location.save(update_fields=["timezone"])
    clinic.location.__dict__.pop("tz", None)
    WorkingHours.objects.all().delete()
    for provider in (clinic.dr_alvarez, clinic.dr_chen):
        for weekday in range(7):
            WorkingHours.objects.create(
                provider=provider, location=clinic.location, weekday=weekday, start=time(6), end=time(20)
            )
    make_user("desk", role=roles.FRONT_DESK)
    return clinic


def today(clinic) -> date:
    return timezone.localdate(timezone=clinic.location.tz)


def book(clinic, patient, provider, hour, *, now=None, visit_type=None):
    return services.book_appointment(
        patient=patient,
        provider=provider,
        visit_type=visit_type or clinic.tpi,
        location=clinic.location,
        start=datetime.combine(today(clinic), time(hour), tzinfo=clinic.location.tz),
        by=None,
        policy=STAFF_POLICY,
        now=now,
    )


def open_day(page, live_server, clinic):
    page.goto(f"{live_server.url}/desk/calendar/{clinic.location.pk}/{today(clinic).isoformat()}")
    expect(page.locator(".cal-table")).to_be_visible()
    page.evaluate("window.__noReload = true")  # gone if the page reloads


def no_reload(page):
    assert page.evaluate("window.__noReload === true"), "the page reloaded"


def free_cell(page, provider, hh_mm):
    return page.locator(f'td.cal-free[data-provider="{provider.pk}"][data-start*="T{hh_mm}:00"] a.cal-book')


def test_the_desk_books_a_phone_patient_into_an_empty_time(live_server, page, shot):
    clinic = desk_clinic()
    book(clinic, clinic.alice, clinic.dr_alvarez, 15)
    Screening.objects.create(patient=clinic.alice, blood_thinner=True, review_status=ReviewStatus.PENDING)
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, "desk")
    open_day(page, live_server, clinic)
    expect(page.locator(".cal-col-head")).to_have_count(2)
    expect(page.locator(".cal-now-label")).to_be_visible()
    expect(page.locator(".cal-appt", has_text="Alice Moreno")).to_contain_text("Review: Blood thinner")
    shot("desk-calendar-day-desktop")
    assert serious_violations(page) == []

    free_cell(page, clinic.dr_chen, "16").click()
    panel = page.locator("#desk-panel")
    expect(panel.get_by_role("heading")).to_contain_text("16:00")
    htmx_settled(page)
    panel.get_by_label("Visit type").select_option(label="Evaluation")
    panel.get_by_label("Find by name").fill("Ruiz")
    expect(panel).to_contain_text("No patient matches")
    panel.get_by_text("New patient", exact=True).click()
    panel.get_by_label("First name").fill("Carmen")
    panel.get_by_label("Last name").fill("Ruiz")
    panel.get_by_label("Date of birth", exact=True).fill("1969-03-02")
    panel.get_by_label("Mobile phone").fill("(423) 555-0177")
    shot("desk-calendar-book-form-desktop")
    assert serious_violations(page) == []
    panel.get_by_role("button", name="Book", exact=True).click()

    expect(panel.get_by_role("status")).to_contain_text("Booked: Carmen Ruiz")
    expect(page.locator(".cal-appt", has_text="Carmen Ruiz")).to_contain_text("EV")
    no_reload(page)
    carmen = Patient.objects.get(last_name="Ruiz")
    appointment = Appointment.objects.get(patient=carmen)
    assert appointment.provider == clinic.dr_chen and appointment.visit_type == clinic.evaluation
    assert appointment.start.astimezone(clinic.location.tz).time() == time(16)

    page.set_viewport_size(PHONE)
    shot("desk-calendar-booked-phone")
    panel.locator("[data-panel-close]").click()
    expect(panel).to_be_empty()
    shot("desk-calendar-day-phone")
    assert serious_violations(page) == []


def test_moving_onto_a_taken_time_shows_the_conflict_and_an_alternative_takes_one_click(live_server, page, shot):
    clinic = desk_clinic()
    alice_visit = book(clinic, clinic.alice, clinic.dr_alvarez, 15)
    book(clinic, clinic.bob, clinic.dr_chen, 17)
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, "desk")
    open_day(page, live_server, clinic)

    page.locator(".cal-appt", has_text="Alice Moreno").click()
    panel = page.locator("#desk-panel")
    expect(panel.get_by_role("heading")).to_contain_text("Alice Moreno")
    htmx_settled(page)
    panel.locator("summary", has_text="Move").click()
    panel.get_by_label("Provider").select_option(label="David Chen, MD")
    panel.get_by_label("Time").fill("17:00")
    panel.get_by_role("button", name="Move the visit").click()

    expect(panel.get_by_role("alert")).to_contain_text("That time is already taken.")
    alternatives = panel.locator(".cal-alt")
    expect(alternatives.first).to_be_visible()
    shot("desk-calendar-move-conflict-desktop")
    assert serious_violations(page) == []
    alice_visit.refresh_from_db()
    assert alice_visit.provider == clinic.dr_alvarez  # nothing moved

    chosen = alternatives.first.inner_text()
    alternatives.first.click()
    expect(panel.get_by_role("status")).to_contain_text("Moved to")
    no_reload(page)
    alice_visit.refresh_from_db()
    assert alice_visit.start.astimezone(clinic.location.tz).strftime("%H:%M") in chosen
    assert alice_visit.provider.display_name in chosen


def test_dragging_a_visit_onto_a_free_time_moves_it(live_server, page):
    clinic = desk_clinic()
    alice_visit = book(clinic, clinic.alice, clinic.dr_alvarez, 15)
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, "desk")
    open_day(page, live_server, clinic)
    page.locator(".cal-appt", has_text="Alice Moreno").drag_to(
        page.locator(
            f'td.cal-free[data-provider="{clinic.dr_chen.pk}"][data-start*="T16:00:00"]'
        )  # in view: no scrolling mid-drag
    )
    expect(page.locator("#desk-panel").get_by_role("status")).to_contain_text("Moved to")
    alice_visit.refresh_from_db()
    assert alice_visit.provider == clinic.dr_chen
    assert alice_visit.start.astimezone(clinic.location.tz).time() == time(16)


def test_the_desk_checks_a_patient_in_and_marks_a_no_show(live_server, page, shot):
    clinic = desk_clinic()
    arriving = book(clinic, clinic.alice, clinic.dr_alvarez, 15)
    earlier = timezone.now() - timedelta(hours=6)
    missed = book(clinic, clinic.bob, clinic.dr_chen, 9, now=earlier)  # this morning, already started
    log_in(page, live_server, "desk")  # on a phone
    open_day(page, live_server, clinic)

    page.locator(".cal-appt", has_text="Alice Moreno").click()
    panel = page.locator("#desk-panel")
    expect(panel.get_by_role("heading")).to_contain_text("Alice Moreno")
    htmx_settled(page)
    panel.get_by_role("button", name="Check in").click()
    expect(panel.get_by_role("status")).to_contain_text("Alice Moreno is checked in.")
    expect(page.locator(".cal-appt", has_text="Alice Moreno")).to_contain_text("Checked in")
    shot("desk-calendar-checked-in-phone")
    assert serious_violations(page) == []
    panel.get_by_role("button", name="Close").click()  # the bottom sheet covers the calendar

    page.locator(".cal-appt", has_text="Bob Okafor").click()
    panel.get_by_role("button", name="Mark no-show").click()
    expect(panel.get_by_role("status")).to_contain_text("Marked as a no-show.")
    expect(page.locator(".cal-appt", has_text="Bob Okafor")).to_contain_text("No-show")
    no_reload(page)
    arriving.refresh_from_db()
    missed.refresh_from_db()
    assert arriving.status == Status.CHECKED_IN and missed.status == Status.NO_SHOW


def test_the_week_and_rooms_views_render_at_both_widths(live_server, page, shot):
    clinic = desk_clinic()
    book(clinic, clinic.alice, clinic.dr_alvarez, 15)
    book(clinic, clinic.bob, clinic.dr_chen, 16, visit_type=clinic.evaluation)
    log_in(page, live_server, "desk")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/desk/calendar/provider/{clinic.dr_alvarez.pk}/week/{today(clinic).isoformat()}")
    expect(page.locator(".cal-col-head")).to_have_count(7)
    shot("desk-calendar-week-desktop")
    assert serious_violations(page) == []
    page.goto(f"{live_server.url}/desk/calendar/{clinic.location.pk}/{today(clinic).isoformat()}/rooms")
    expect(page.locator(".cal-col-head")).to_have_count(2)
    shot("desk-calendar-rooms-desktop")
    page.set_viewport_size(PHONE)
    shot("desk-calendar-rooms-phone")
    assert serious_violations(page) == []


def test_a_day_of_ten_providers_at_1280_and_375_pixels(live_server, page, shot):
    clinic = desk_clinic()
    for i in range(8):
        provider = make_provider(
            display_name=f"Provider {i + 1:02d}", locations=[clinic.location], visit_types=[clinic.tpi]
        )
        WorkingHours.objects.create(
            provider=provider, location=clinic.location, weekday=today(clinic).weekday(), start=time(6), end=time(20)
        )
        book(
            clinic, make_patient(first_name=f"Pat{i}", email=f"pat{i}@example.com"), provider, 15 + i // 2
        )  # two rooms
    book(clinic, clinic.alice, clinic.dr_alvarez, 19)
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, "desk")
    open_day(page, live_server, clinic)
    expect(page.locator(".cal-col-head")).to_have_count(10)
    assert page_width(page) <= DESKTOP["width"]  # the grid scrolls, not the page
    shot("desk-calendar-ten-providers-desktop")
    assert serious_violations(page) == []
    page.set_viewport_size(PHONE)
    assert page_width(page) <= PHONE["width"]
    shot("desk-calendar-ten-providers-phone")
