"""Browser tests: Playwright driving Debian's headless Chromium against the live server."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts.sessions import staff_rules_apply
from tests.factories import DEFAULT_PASSWORD, current_code, staff_device

# Playwright runs an event loop in the test thread; the ORM calls in these tests are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = {"width": 375, "height": 740}


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists() or os.environ.get("CI"):
        return  # in CI a missing browser must fail, not skip
    skip = pytest.mark.skip(reason="Debian's chromium is not installed (apt-get install chromium)")
    for item in items:
        if "e2e" in item.nodeid:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # Reduced motion: Bootstrap then skips its colour transitions, so axe never measures a colour
    # half-way through one.
    return {**browser_context_args, "viewport": PHONE, "locale": "en-US", "reduced_motion": "reduce"}


@pytest.fixture
def shot(page):
    """Save a full-page screenshot under var/screenshots/ for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def serious_violations(page) -> list[str]:
    """axe-core rules broken at 'serious' or 'critical' impact on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} at {[node['target'] for node in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in {"serious", "critical"}
    ]


def log_in(page, live_server, username, password=DEFAULT_PASSWORD):
    """Log in through the login form like a person, with whatever second factor the role needs:
    staff type the code of their authenticator device (made here if they have none)."""
    user = get_user_model().objects.get(username=username)
    device = staff_device(user) if staff_rules_apply(user) else None
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    if device is not None:
        expect(page.get_by_label("6-digit code")).to_be_visible()
        page.get_by_label("6-digit code").fill(current_code(device))
        page.get_by_role("button", name="Verify").click()
    # The log-out button, whatever language the page came back in (a patient's own, after login).
    expect(page.locator("form[action$='/accounts/logout/'] button")).to_be_visible()


def htmx_settled(page) -> None:
    """Wait until htmx has swapped, settled and wired up what it last brought in: a person needs
    longer than that before typing, a test does not (a keystroke before it would send nothing)."""
    page.wait_for_function(
        "() => window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def page_width(page) -> int:
    """The document's scroll width once the current page has loaded: measured mid-navigation
    there is no document element to measure."""
    page.wait_for_function("() => document.documentElement && document.readyState === 'complete'")
    return page.evaluate("document.documentElement.scrollWidth")
