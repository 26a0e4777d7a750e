"""In a real browser: a staff member's first login sets up the authenticator from the QR code,
and the pages run under the Content-Security-Policy without a single violation (scripts, styles,
htmx, the admin, the API docs)."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from clinic import roles
from tests.conftest import build_clinic
from tests.e2e.conftest import log_in, serious_violations
from tests.factories import DEFAULT_PASSWORD, current_code, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def csp_violations(page) -> list[str]:
    """Console messages the browser writes when the policy blocks something."""
    found: list[str] = []
    page.on("console", lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None)
    return found


def test_a_first_staff_login_sets_up_the_authenticator_from_the_qr_code(live_server, page, shot):
    build_clinic()
    make_user("desk", role=roles.FRONT_DESK)
    blocked = csp_violations(page)
    page.goto(live_server.url + "/desk/")
    page.get_by_label("Username").fill("desk")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.locator(".qr-code svg")).to_be_visible()
    shot("two-factor-setup-phone")
    assert serious_violations(page) == []
    device = TOTPDevice.objects.get(user__username="desk", confirmed=False)
    page.get_by_label("6-digit code").fill(current_code(device))
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(live_server.url + "/desk/")
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert blocked == []


def test_pages_run_without_csp_violations(live_server, page, shot):
    clinic = build_clinic()
    make_user("clinicadmin", role=roles.CLINIC_ADMIN)
    page.set_viewport_size({"width": 1280, "height": 900})
    blocked = csp_violations(page)
    page.goto(live_server.url + "/")
    log_in(page, live_server, "clinicadmin")
    for path in ("/desk/?q=Moreno", f"/desk/patients/{clinic.alice.pk}/series/new", "/desk/messages/"):
        page.goto(live_server.url + path)
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto(live_server.url + "/admin/patients/patient/")
    expect(page.get_by_role("link", name="Moreno")).to_be_visible()
    page.goto(live_server.url + "/api/docs")
    expect(page.get_by_text("TPI clinic scheduling API").first).to_be_visible()
    shot("api-docs-under-csp")
    assert blocked == []
