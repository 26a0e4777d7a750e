"""A provider opens today's list, records a 3-muscle procedure with lidocaine, sees 20553 and the trend."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking import services
from booking.models import Appointment, Status
from booking.scheduling.availability import STAFF_POLICY
from booking.services import SiteInput, record_procedure
from clinic import roles
from patients.models import ProcedureRecord, Screening
from tests.conftest import build_clinic
from tests.e2e.conftest import log_in, page_width, serious_violations
from tests.factories import make_hours, make_muscle, make_patient, make_provider, make_provider_login, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


def todays_clinic():
    """A provider who works around the clock (so the test runs at any hour), with Alice's series:
    sessions 1 and 2 recorded four and two weeks ago, session 3 started 40 minutes ago and checked in."""
    clinic = build_clinic()
    tz = clinic.location.tz
    provider = make_provider(display_name="Rosa Park", locations=[clinic.location], visit_types=[clinic.tpi])
    for weekday in range(7):
        make_hours(provider, clinic.location, weekday=weekday, start=time(0), end=time(23, 59))
    user = make_provider_login(provider, "rpark")
    for name in ("Trapezius", "Rhomboids", "Levator scapulae", "Piriformis"):
        make_muscle(name)
    now = timezone.now().astimezone(tz)
    start = (now - timedelta(minutes=40)).replace(second=0, microsecond=0)
    start = start.replace(minute=start.minute - start.minute % 5)
    if start.date() != now.date():
        start = datetime.combine(now.date(), time(0), tzinfo=tz)
    series = services.book_series(
        patient=clinic.alice,
        provider=provider,
        visit_type=clinic.tpi,
        location=clinic.location,
        sessions=3,
        gap_days=14,
        tolerance_days=0,
        taper_days=[],
        preferred_time=start.time(),
        first_date=now.date() - timedelta(days=28),
        by=None,
        policy=STAFF_POLICY,
        now=now - timedelta(days=30),
    )
    first, second, today = series.appointments.select_related("location", "visit_type", "patient").order_by("start")
    for visit, (before, after) in ((first, (8, 5)), (second, (7, 4))):
        sites = [SiteInput(muscle=make_muscle("Trapezius"), side="both", injections=3)]
        record_procedure(
            appointment=visit,
            sites=sites,
            injectates=[],
            pain_before=before,
            pain_after=after,
            by=user,
            now=visit.start + timedelta(minutes=30),
        )
    services.check_in(appointment=today, by=None, now=timezone.now())
    Screening.objects.create(patient=clinic.alice, blood_thinner=True, blood_thinner_names="aspirin")
    # A second patient today, not yet arrived: two hours after Alice, or two hours before her when
    # that would run past the end of the day (late in the evening in New York).
    later = start + timedelta(hours=2)
    if later > datetime.combine(now.date(), time(23, 0), tzinfo=tz):
        later = start - timedelta(hours=2)
    services.book_appointment(
        patient=make_patient(first_name="Carl", last_name="Nguyen"),
        provider=provider,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=later,
        by=None,
        policy=STAFF_POLICY,
        now=now - timedelta(days=1),
    )
    return clinic, today


def test_provider_records_a_three_muscle_procedure_and_sees_20553_and_the_trend(live_server, page, shot):
    clinic, today = todays_clinic()
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, "rpark")

    page.goto(f"{live_server.url}/provider/day/")
    entry = page.locator(f"#appointment-{today.pk}")
    expect(entry).to_contain_text("Alice Moreno")
    expect(entry).to_contain_text("Session 3 of 3")
    expect(entry).to_contain_text("Trapezius (both sides) ×3")
    expect(entry).to_contain_text("7 before → 4 after")
    expect(entry).to_contain_text("Blood thinner")
    expect(entry).to_contain_text("Checked in")
    expect(entry.locator(".pain-trend-before-dot")).to_have_count(2)
    shot("provider-day-desktop")
    assert serious_violations(page) == []
    page.set_viewport_size(PHONE)
    assert page_width(page) <= 375
    shot("provider-day-phone")
    page.emulate_media(media="print")
    page.set_viewport_size(DESKTOP)
    expect(page.locator("nav.navbar")).to_be_hidden()
    expect(page.locator(".day-entry .btn").first).to_be_hidden()
    assert page_width(page) <= DESKTOP["width"]
    shot("provider-day-print")
    page.emulate_media(media="screen")

    entry.get_by_role("link", name="Record the procedure").click()
    expect(page.get_by_role("heading", name="Record the procedure")).to_be_visible()
    expect(page.get_by_text("Blood thinner")).to_be_visible()
    shot("record-form-desktop")
    assert serious_violations(page) == []
    for row, muscle in enumerate(("Trapezius", "Rhomboids", "Levator scapulae")):
        page.locator(f"#id_sites-{row}-muscle").select_option(label=muscle)
        page.locator(f"#id_sites-{row}-side").select_option(label="Left" if row else "Both sides")
        page.locator(f"#id_sites-{row}-injections").fill("2")
    page.locator("#id_injectates-0-substance").select_option(label="Local anaesthetic")
    page.locator("#id_injectates-0-name").fill("lidocaine")
    page.locator("#id_injectates-0-strength_percent").fill("1")
    page.get_by_label("Pain before (0–10)").select_option("6")
    page.get_by_label("Pain after (0–10)").select_option("2")
    page.get_by_role("button", name="Save and complete the visit").click()

    # Forgot the volume: the form comes back with the error next to the field, nothing saved.
    volume = page.locator("#id_injectates-0-volume_ml")
    expect(volume).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_injectates-0-volume_ml-error")).to_have_text("Give the volume in mL.")
    assert not ProcedureRecord.objects.filter(appointment=today).exists()
    page.set_viewport_size(PHONE)
    shot("record-form-error-phone")
    assert serious_violations(page) == []
    volume.fill("5")
    page.get_by_role("button", name="Save and complete the visit").click()

    expect(page.get_by_text("Procedure saved: CPT 20553.")).to_be_visible()
    entry = page.locator(f"#appointment-{today.pk}")
    expect(entry.locator(".cpt-code")).to_have_text("CPT 20553")
    expect(entry).to_contain_text("Completed")
    expect(entry.locator(".pain-trend-before-dot")).to_have_count(3)
    expect(entry.locator(".visually-hidden table tbody tr")).to_have_count(3)
    page.set_viewport_size(DESKTOP)
    shot("provider-day-recorded-desktop")
    record = ProcedureRecord.objects.get(appointment=today)
    assert (record.cpt_code, record.pain_before, record.pain_after) == ("20553", 6, 2)
    assert Appointment.objects.get(pk=today.pk).status == Status.COMPLETED

    page.goto(f"{live_server.url}/desk/patients/{clinic.alice.pk}")
    expect(page.locator(".cpt-code", has_text="CPT 20553")).to_have_count(1)
    expect(page.locator(".pain-trend-before-dot")).to_have_count(3)
    shot("patient-page-desktop")
    assert serious_violations(page) == []


def test_front_desk_has_no_record_link_target(live_server, page):
    clinic, today = todays_clinic()
    make_user("desk", role=roles.FRONT_DESK)
    log_in(page, live_server, "desk")
    response = page.goto(f"{live_server.url}/provider/appointments/{today.pk}/record")
    assert response.status == 404


def test_clinic_admin_reads_the_report_on_a_phone(live_server, page, shot):
    todays_clinic()
    make_user("clinicadmin", role=roles.CLINIC_ADMIN)
    page.set_viewport_size(PHONE)
    log_in(page, live_server, "clinicadmin")
    page.goto(f"{live_server.url}/reports/")
    expect(page.get_by_role("row", name="Rosa Park")).to_be_visible()
    shot("reports-phone")
    assert serious_violations(page) == []
    page.set_viewport_size(DESKTOP)
    shot("reports-desktop")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("report-")
