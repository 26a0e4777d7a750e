"""A person opens the site on a phone and a clinic admin uses the admin pages."""

import pytest
from playwright.sync_api import expect

from clinic import roles
from tests.conftest import build_clinic
from tests.e2e.conftest import log_in, page_width, serious_violations
from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_home_page_reads_well_on_a_phone(live_server, page, shot):
    build_clinic()
    page.goto(live_server.url + "/")

    assert page.get_by_role("heading", name="Riverside Pain Clinic").is_visible()
    assert page_width(page) <= 375  # no sideways scrolling
    shot("home-phone")
    assert serious_violations(page) == []


def test_a_clinic_admin_finds_providers_and_their_hours_in_the_admin(live_server, page, shot):
    build_clinic()
    make_user("clinicadmin", role=roles.CLINIC_ADMIN)
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server, "clinicadmin")  # password, then the two-factor code
    page.goto(live_server.url + "/admin/")
    page.get_by_role("link", name="Providers").first.click()
    shot("admin-providers")
    page.get_by_role("link", name="Maria Alvarez").first.click()

    # Two working-hour ranges a day, five days, each editable in the inline.
    expect(page.locator("input[name$='-DELETE']")).to_have_count(10)
    shot("admin-provider")
