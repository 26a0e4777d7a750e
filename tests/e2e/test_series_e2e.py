"""The desk books a treatment series in a browser, and a patient books the series prescribed for them."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking import services
from booking.models import Series, SeriesStatus
from booking.scheduling.availability import STAFF_POLICY
from booking.services.series import prescribe_series
from clinic import roles
from clinic.models import TimeOff
from tests.conftest import build_clinic
from tests.e2e.conftest import log_in, page_width, serious_violations
from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


def first_monday(clinic):
    """The first Monday at least a week from today, at the clinic."""
    today = timezone.now().astimezone(clinic.location.tz).date() + timedelta(days=7)
    return today + timedelta(days=-today.weekday() % 7)


def test_the_desk_previews_and_books_a_six_session_series_picking_an_alternative(live_server, page, shot):
    clinic = build_clinic()
    make_user("desk", role=roles.FRONT_DESK)
    first = first_monday(clinic)
    third = first + timedelta(days=28)
    tz = clinic.location.tz
    TimeOff.objects.create(  # Dr Alvarez is away for all of session 3's tolerance: the desk must choose
        provider=clinic.dr_alvarez,
        start=datetime.combine(third - timedelta(days=2), time(0), tzinfo=tz),
        end=datetime.combine(third + timedelta(days=3), time(0), tzinfo=tz),
        reason="conference",
    )
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, "desk")

    page.goto(f"{live_server.url}/desk/patients/{clinic.alice.pk}/series/new")
    page.get_by_label("Provider").select_option(label="Maria Alvarez, MD")
    page.get_by_label("Visit type").select_option(label="Trigger point injection session")
    page.get_by_label("Location").select_option(label="Riverside Pain Clinic")
    page.get_by_label("First date").fill(first.isoformat())
    page.get_by_role("button", name="Preview").click()

    sessions = page.locator(".series-session")
    expect(sessions).to_have_count(6)
    expect(page.locator("#session-3 .series-badge")).to_have_text("Needs a choice")
    expect(page.locator(".series-badge-fits")).to_have_count(5)
    expect(page.locator("#session-1")).to_contain_text("Session 1 of 6")
    expect(page.locator("#session-1")).to_contain_text("09:00 E")  # EST or EDT, with the zone
    shot("series-preview-desktop")
    page.set_viewport_size(PHONE)
    assert page_width(page) <= 375
    shot("series-preview-phone")

    page.locator("#session-3 label", has_text="David Chen").click()
    expect(page.locator("#session-3 input[type=radio]:checked")).to_have_count(1)
    page.get_by_role("button", name="Book series").click()

    expect(page.get_by_role("heading", name="Sessions", exact=True)).to_be_visible()
    expect(page.get_by_text("6 sessions booked.")).to_be_visible()
    expect(page.locator(".session-item")).to_have_count(6)
    shot("series-booked-phone")
    page.set_viewport_size(DESKTOP)
    shot("series-booked-desktop")
    series = Series.objects.get()
    sessions = {a.session_number: a for a in series.appointments.select_related("provider")}
    assert series.status == SeriesStatus.ACTIVE and len(sessions) == 6
    assert sessions[3].provider == clinic.dr_chen and sessions[3].local_start().date() == third
    assert {sessions[k].provider for k in (1, 2, 4, 5, 6)} == {clinic.dr_alvarez}


def test_a_patient_books_the_series_prescribed_for_them_with_the_keyboard(live_server, page, shot):
    clinic = build_clinic()
    desk = make_user("desk", role=roles.FRONT_DESK)
    alice = make_user("alice", role=roles.PATIENT)
    clinic.alice.user = alice
    clinic.alice.save(update_fields=["user"])
    series = prescribe_series(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        sessions=6,
        gap_days=14,
        tolerance_days=2,
        taper_days=[],
        preferred_time=time(9),
        by=desk,
        policy=STAFF_POLICY,
    )
    first = first_monday(clinic)
    log_in(page, live_server, "alice")  # the phone-sized window of tests/e2e/conftest.py

    page.get_by_role("link", name="My series").click()
    page.get_by_role("link", name="Choose your dates").click()
    date_field = page.get_by_label("Date of your first session")
    expect(date_field).to_be_visible()  # the new page, before it is measured
    assert page_width(page) <= 375
    date_field.fill(first.isoformat())
    page.get_by_role("button", name="Preview").focus()
    page.keyboard.press("Enter")

    expect(page.locator(".series-session")).to_have_count(6)
    expect(page.locator("#session-6")).to_contain_text("Session 6 of 6")
    assert page_width(page) <= 375
    shot("my-series-preview-phone")
    assert serious_violations(page) == []

    page.get_by_role("button", name="Book these sessions").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    expect(page.locator(".session-item").first).to_contain_text("Session 1 of 6")
    shot("my-series-booked-phone")
    assert serious_violations(page) == []
    series.refresh_from_db()
    assert series.status == SeriesStatus.ACTIVE and series.appointments.count() == 6


def test_a_time_taken_while_the_desk_looks_at_the_preview_comes_back_marked(live_server, page, shot):
    clinic = build_clinic()
    make_user("desk", role=roles.FRONT_DESK)
    first = first_monday(clinic)
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, "desk")
    page.goto(f"{live_server.url}/desk/patients/{clinic.alice.pk}/series/new")
    page.get_by_label("Provider").select_option(label="Maria Alvarez, MD")
    page.get_by_label("Visit type").select_option(label="Trigger point injection session")
    page.get_by_label("Location").select_option(label="Riverside Pain Clinic")
    page.get_by_label("First date").fill(first.isoformat())
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".series-session")).to_have_count(6)
    fifth = datetime.fromisoformat(page.locator("#session-5 time").first.get_attribute("datetime"))
    services.book_appointment(  # another caller takes session 5's time meanwhile
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=fifth,
        by=None,
    )

    page.get_by_role("button", name="Book series").click()

    expect(page.get_by_role("alert")).to_contain_text("nothing was booked")
    expect(page.locator("#session-5 .series-badge")).to_have_text("Taken just now: choose again")
    expect(page.locator("#session-5 input[type=radio]").first).to_be_attached()
    shot("series-clash-desktop")
    assert not Series.objects.exists()
