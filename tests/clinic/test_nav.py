"""The main links: each role sees its own pages, and exactly one is marked as the current page."""

import re

import pytest

from clinic import roles
from tests.factories import make_user, sign_in


def links_of(html: str) -> list[str]:
    strip = html.split('class="navbar-nav nav-strip"', 1)
    if len(strip) == 1:
        return []
    return re.findall(r'class="nav-link[^"]*" href="([^"]+)"', strip[1].split("</ul>", 1)[0])


@pytest.mark.parametrize(
    ("role", "present", "absent"),
    [
        (
            roles.FRONT_DESK,
            ["/desk/calendar/", "/desk/waitlist/", "/desk/reviews/"],
            ["/reports/", "/provider/day/", "/book/"],
        ),
        (roles.PROVIDER, ["/desk/calendar/", "/provider/day/"], ["/reports/", "/book/"]),
        (roles.CLINIC_ADMIN, ["/desk/calendar/", "/provider/day/", "/reports/"], ["/book/"]),
        (roles.PATIENT, ["/book/", "/my/appointments/", "/my/series/", "/account/profile"], ["/desk/", "/reports/"]),
    ],
)
def test_each_role_sees_its_own_links(client, clinic, role, present, absent):
    sign_in(client, make_user("someone", role=role))
    links = links_of(client.get("/").content.decode())
    for url in present:
        assert url in links
    for url in absent:
        assert url not in links


def test_nobody_logged_in_sees_no_links(client, clinic):
    assert links_of(client.get("/").content.decode()) == []


def test_only_the_longest_matching_link_is_current(client, clinic, desk_user):
    sign_in(client, desk_user)
    html = client.get(f"/desk/calendar/{clinic.location.pk}/2026-12-07").content.decode()
    current = re.findall(r'class="nav-link active" href="([^"]+)"', html)
    assert current == ["/desk/calendar/"]
