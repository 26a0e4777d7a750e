"""The code's shape: small modules, and every page's view where its audience's package says.

A newcomer finds a page's view from its URL: `/desk/...` is in `booking/desk/`, a patient's
`/my/...`, `/book/...`, `/manage/...` and `/waitlist/...` pages are in `booking/portal/`.
"""

from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parent.parent
APPS = ("booking", "patients", "clinic", "accounts", "audit")
MAX_LINES = 500

# The first segment of a page's path, and the package its view lives in.
AUDIENCE = {
    "desk": ("booking.desk", "patients.views"),  # the desk's screening reviews are the patients app's
    "my": ("booking.portal",),
    "book": ("booking.portal",),
    "manage": ("booking.portal",),
    "waitlist": ("booking.portal",),
    "reports": ("booking.reports",),
}


def _modules() -> list[Path]:
    return sorted(
        path for app in APPS for path in (ROOT / app).rglob("*.py") if "migrations" not in path.relative_to(ROOT).parts
    )


def test_no_module_in_the_apps_is_over_500_lines() -> None:
    too_long = {}
    for path in _modules():
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            too_long[str(path.relative_to(ROOT))] = lines
    assert too_long == {}


def _pages(patterns: list[URLPattern | URLResolver], prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _pages(pattern.url_patterns, route)
        else:
            found.append((route, pattern.callback.__module__))
    return found


@pytest.mark.parametrize("segment", sorted(AUDIENCE))
def test_every_page_view_lives_in_its_audiences_package(segment: str) -> None:
    every_page = _pages(get_resolver().url_patterns)
    pages = [(route, module) for route, module in every_page if route.startswith(segment + "/")]
    assert pages, f"no page under /{segment}/"
    misplaced = [(route, module) for route, module in pages if not module.startswith(AUDIENCE[segment])]
    assert misplaced == []
