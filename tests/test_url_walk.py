"""Every URL pattern of the project, requested as each role, answers what ONE table says.

Roles: anonymous, the patient who owns the records (Alice), a second patient (Bob, asking for
Alice's records: 404), front desk, provider and clinic admin. Path parameters are filled with
Alice's real objects. On top of the status, every answer is checked for what a page must never
do (inline script, inline styles or handlers, a missing Content-Security-Policy; a stored copy of
a logged-in page), and every staff answer marked `phi` must write an access-log row.

A new URL pattern fails `test_every_url_pattern_has_an_access_rule` until it has a line in
RULES (or, under /admin/, is covered by the admin prefix rule). ASVS 8.2.1 / 8.2.2 / 8.3.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from audit.models import AccessLog
from booking import services
from booking.models import Reminder, ReminderStatus
from booking.scheduling.availability import STAFF_POLICY
from booking.scheduling.waitlist import offer_token
from clinic import roles
from patients.services import SCREENING_ANSWERS, record_screening
from tests.conftest import MONDAY, NOW, book_alices_series
from tests.factories import make_provider_login, make_user, sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ROLES = ("anon", "patient", "other_patient", "desk", "provider", "admin")


@dataclass(frozen=True)
class Rule:
    """The expected status per role, in ROLES order; `phi`: staff 2xx answers show patient data."""

    method: str
    anon: int
    patient: int
    other_patient: int
    desk: int
    provider: int
    admin: int
    phi: bool = False
    query: str = ""  # a query string, its {names} filled from world()'s values
    after: str = ""  # a URL name the same client GETs first (a link that leaves its token in the session)

    def expected(self, role: str) -> int:
        return getattr(self, role)


def everyone(status: int, method: str = "GET", **extra: Any) -> Rule:
    return Rule(method, status, status, status, status, status, status, **extra)


def staff(status: int, method: str = "GET", *, phi: bool = False, anon: int = 302, **extra: Any) -> Rule:
    """Front desk, providers and clinic admins only; patients get 404 as if it did not exist."""
    return Rule(method, anon, 404, 404, status, status, status, phi=phi, **extra)


def own(status: int, method: str = "GET", *, other: int = 404, **extra: Any) -> Rule:
    """A patient's own pages: Alice gets `status`, Bob asking for Alice's record `other`, staff
    (who have no patient record) 404, anonymous callers the login."""
    return Rule(method, 302, status, other, 404, 404, 404, **extra)


# --- THE TABLE: one line per URL name. Add yours here. -------------------------------------------
# Rule(method, anon, patient, other_patient, desk, provider, admin, phi=...) or the helpers above.
# POSTs are sent with an empty body (form pages answer 422, the JSON API 400). Admin URLs are
# covered by ADMIN_PREFIX_RULE below.
RULES: dict[str, Rule] = {
    "home": everyone(200),
    "healthz": everyone(200),
    "login": everyone(200),
    "logout": everyone(302, "POST"),
    "password_change": Rule("GET", 302, 200, 200, 200, 200, 200),
    "password_change_done": Rule("GET", 302, 200, 200, 200, 200, 200),
    "password_reset": everyone(200),
    "password_reset_done": everyone(200),
    "password_reset_confirm": everyone(200),
    "password_reset_complete": everyone(200),
    "set_language": everyone(302, "POST"),
    "accounts:two_factor_setup": staff(302),  # staff here have a device: on to the verify step
    "accounts:two_factor_verify": staff(200),
    # JSON API (clinic/api.py, booking/api.py, patients/api.py)
    "api:openapi-json": everyone(200),
    "api:openapi-view": everyone(200),
    "api:api-root": everyone(404),
    "api:list_locations": everyone(200),
    "api:list_visit_types": everyone(200),
    "api:list_providers": everyone(200),
    "api:availability": everyone(400),  # no query parameters
    "api:create_patient": Rule("POST", 401, 400, 400, 400, 400, 400),
    "api:search_patients": staff(200, phi=True, anon=401),
    "api:create_appointment": Rule("POST", 401, 400, 400, 400, 400, 400),
    "api:list_appointments": Rule("GET", 401, 200, 200, 200, 200, 200, phi=True),
    "api:get_appointment": Rule("GET", 401, 200, 404, 200, 200, 200, phi=True),
    "api:move_appointment": Rule("POST", 401, 400, 400, 400, 400, 400),
    "api:cancel_appointment": Rule("POST", 401, 400, 400, 400, 400, 400),
    "api:confirm_appointment": Rule("POST", 401, 200, 404, 200, 200, 200, phi=True),  # booked already: a no-op
    "api:check_in": staff(422, "POST", anon=401),  # not on the day of the visit
    "api:no_show": staff(422, "POST", anon=401),  # not before the visit
    "api:create_series": Rule("POST", 401, 400, 400, 400, 400, 400),
    "api:get_series": Rule("GET", 401, 200, 404, 200, 200, 200, phi=True),
    "api:cancel_series_remaining": Rule("POST", 401, 400, 400, 400, 400, 400),
    "api:complete_series": staff(200, "POST", phi=True, anon=401),
    "api:extend_series": Rule("POST", 401, 400, 400, 400, 400, 400),
    "api:move_series_session": Rule("POST", 401, 400, 400, 400, 400, 400),
    # Front desk pages (booking/views/desk.py, booking/messages_views.py)
    "booking:desk_home": staff(200),
    "booking:desk_patient": staff(200, phi=True),
    "booking:series_new": staff(200, phi=True),
    "booking:series_new_from_appointment": staff(200, phi=True),
    "booking:desk_series": staff(200, phi=True),
    "booking:desk_series_book": staff(409, "POST", phi=True),  # booked already, not a prescription
    "booking:desk_series_cancel": staff(422, "POST", phi=True),
    "booking:desk_series_extend": staff(422, "POST", phi=True),
    "booking:desk_series_complete": staff(302, "POST"),
    "booking:desk_series_move": staff(422, "POST", phi=True),
    "booking:message_list": staff(200, phi=True, query="show=all"),  # a visit's messages and a waitlist offer's
    "booking:message_resend": staff(302, "POST"),
    # A patient's own pages (booking/views/patients.py): staff have no patient record here.
    "booking:my_series_list": Rule("GET", 302, 200, 200, 404, 404, 404),
    "booking:my_series": Rule("GET", 302, 200, 404, 404, 404, 404),
    # The desk calendar (booking/views/calendar.py): staff only; Alice's first session is on MONDAY.
    "booking:calendar_home": staff(302),  # on to today's day view
    "booking:calendar_day": staff(200, phi=True),
    "booking:calendar_rooms": staff(200, phi=True),
    "booking:calendar_week": staff(200, phi=True),
    "booking:calendar_book": staff(200, query="start={start}"),  # the empty form: no patient picked yet
    "booking:calendar_patients": staff(200, phi=True, query="q=Moreno"),
    "booking:calendar_appointment": staff(200, phi=True),
    "booking:calendar_move": staff(422, "POST", phi=True),
    "booking:calendar_cancel": staff(422, "POST", phi=True),  # a reason is required
    "booking:calendar_check_in": staff(422, "POST", phi=True),  # not on the day of the visit
    "booking:calendar_no_show": staff(422, "POST", phi=True),  # not before the visit
    # Reports (booking/views/reports.py): figures per provider and location, clinic admins only.
    "booking:reports": Rule("GET", 302, 404, 404, 404, 404, 200),
    # A patient's own appointments (booking/views/patients_manage.py).
    "booking:my_appointments": own(200, other=200),
    "booking:my_cancel": own(200),
    "booking:my_move": own(200),
    "booking:my_aftercare": own(200),
    # Managing an appointment from the link in a message: the token is the credential, no login.
    "booking:manage_done": everyone(200),
    "booking:manage": everyone(200),
    "booking:manage_move": everyone(200),
    # The booking wizard (booking/views/book.py, book_held.py): patients only, staff 404.
    "booking:book_start": own(200, other=200),
    "booking:book_visit": own(200, other=200, query="location={location_id}"),
    # A TPI visit: Alice has a series, Bob no evaluation yet, so procedure visits are closed to him (422).
    "booking:book_provider": own(200, other=422, query="location={location_id}&visit={visit_id}"),
    "booking:book_calendar": own(200, other=422, query="location={location_id}&visit={visit_id}&provider=any"),
    "booking:book_hold": own(400, "POST", other=400),  # no time chosen
    "booking:book_review": own(200),  # Alice's held procedure visit, screening answered
    "booking:book_screening": own(200),
    "booking:book_confirm": own(302, "POST"),  # on to the confirmation
    "booking:book_release": own(302, "POST"),  # back to the calendar
    "booking:book_done": own(200),  # Alice's booked first session
    # The waitlist (booking/views/waitlist.py): the offer link needs no login (its token is the
    # credential) and moves the token into the session; the offer page reads it from there.
    "booking:waitlist_offer_link": everyone(302),
    "booking:waitlist_offer": everyone(200, after="booking:waitlist_offer_link"),
    "booking:my_waitlist": own(200, other=200),
    "booking:my_waitlist_withdraw": own(302, "POST"),
    "booking:desk_waitlist": staff(200, phi=True),
    "booking:desk_waitlist_add": staff(200, phi=True),
    "booking:desk_waitlist_withdraw": staff(302, "POST", phi=True),
    "booking:desk_waitlist_offer": staff(200, phi=True),
    # A patient's account (patients/views.py); the desk's screening reviews.
    "patients:register": Rule("GET", 200, 302, 302, 302, 302, 302),  # logged in already: to the profile
    "patients:profile": own(200, other=200),
    "patients:review_list": staff(200, phi=True),
    "patients:review_decide": staff(302, "POST", phi=True),  # no decision: back to the list
    # The provider's pages (booking/provider/views.py): providers (their own visits) and clinic
    # admins (any provider's, ?provider=); the front desk and patients 404.
    "booking:provider_today": Rule("GET", 302, 404, 404, 404, 200, 200, phi=True, query="provider={provider_id}"),
    "booking:provider_day": Rule("GET", 302, 404, 404, 404, 200, 200, phi=True, query="provider={provider_id}"),
    "booking:record_procedure": Rule("GET", 302, 404, 404, 404, 200, 200, phi=True),
}

# Everything under /admin/: only the clinic admin (is_staff) gets in; everyone else is sent to the
# admin's login. What the admin may do inside is Django's model permissions (tested elsewhere).
ADMIN_PREFIX = "admin/"
ADMIN_OK_FOR_CLINIC_ADMIN = {200, 302, 403, 404}


@dataclass(frozen=True)
class Pattern:
    name: str
    route: str  # e.g. "desk/patients/<int:patient_id>"


def all_patterns(patterns: Any = None, prefix: str = "", namespace: str = "") -> Iterator[Pattern]:
    """Every URL pattern of the project, with its full route and namespaced name."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace or "") if part)
            yield from all_patterns(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield Pattern(name or f"<unnamed {prefix}{entry.pattern}>", prefix + str(entry.pattern))


def test_every_url_pattern_has_an_access_rule():
    missing = [
        f"{p.name} ({p.route})" for p in all_patterns() if not p.route.startswith(ADMIN_PREFIX) and p.name not in RULES
    ]
    assert not missing, (
        "These URL patterns have no access rule. Add one line per pattern to RULES in "
        "tests/test_url_walk.py, e.g. "
        '"booking:desk_calendar": staff(200, phi=True) or Rule("GET", 302, 200, 404, 404, 404, 404), '
        f"and a value for any new path parameter to path_values(): {missing}"
    )
    names = {p.name for p in all_patterns()}
    assert not set(RULES) - names, f"RULES names patterns that no longer exist: {set(RULES) - names}"


# --- the walk --------------------------------------------------------------------------------------


@pytest.fixture
def world(clinic, frozen):
    """Alice with a booked 3-session series (its reminders too), a held visit, a waitlist entry with
    an open offer, a manage link, a screening for review; and the six callers."""
    desk = make_user("desk", role=roles.FRONT_DESK)
    provider = make_provider_login(clinic.dr_alvarez, "provider")  # Alice's series is with Dr Alvarez
    clinic_admin = make_user("clinicadmin", role=roles.CLINIC_ADMIN)
    alice = make_user("alice", role=roles.PATIENT)
    bob = make_user("bob", role=roles.PATIENT)
    clinic.alice.user, clinic.bob.user = alice, bob
    clinic.alice.save(update_fields=["user"])
    clinic.bob.save(update_fields=["user"])
    series = book_alices_series(clinic, by=desk)
    first = series.appointments.order_by("session_number").first()
    reminder = Reminder.objects.filter(appointment=first).first()
    Reminder.objects.filter(pk=reminder.pk).update(status=ReminderStatus.FAILED)  # the Messages page's first tab
    # A screening waiting for the desk's review (a blocking answer), then Alice's held procedure
    # visit in the booking wizard with its (newer, harmless) screening answered.
    no = dict.fromkeys(SCREENING_ANSWERS, False)
    pending = record_screening(patient=clinic.alice, by=alice, answers={**no, "infection_near_site": True})
    held = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_chen,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 14),
        by=alice,
        hold=True,
    )
    record_screening(patient=clinic.alice, by=alice, answers=no, appointment=held)
    # Alice's evaluation this afternoon (the frozen clock's Friday) on the provider's list of today.
    services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.evaluation,
        location=clinic.location,
        start=clinic.at(NOW.astimezone(clinic.location.tz).date(), 15),
        by=desk,
        policy=STAFF_POLICY,
    )
    # Alice on the waitlist with an open offer, and a manage link for her first session.
    entry = services.add_to_waitlist(patient=clinic.alice, visit_type=clinic.tpi, location=clinic.location, by=desk)
    offer = services.offer_slot_to_entry(
        entry=entry, provider=clinic.dr_chen, start=clinic.at(MONDAY + timedelta(days=1), 10), by=desk
    )
    manage_token = services.issue_manage_link(appointment=first)
    return {
        "users": {"anon": None, "patient": alice, "other_patient": bob, "desk": desk, "provider": provider},
        "admin": clinic_admin,
        "values": {
            "patient_id": clinic.alice.pk,
            "series_id": series.pk,
            "appointment_id": first.pk,
            "session_number": 2,
            "reminder_id": reminder.pk,
            "uidb64": "MQ",
            "token": "set-password",
            "location_id": clinic.location.pk,
            "provider_id": clinic.dr_alvarez.pk,
            "visit_id": clinic.tpi.pk,
            "day": MONDAY.isoformat(),
            "start": quote(clinic.at(MONDAY, 15).isoformat()),
            "entry_id": entry.pk,
            "screening_id": pending.pk,
        },
        # Values for one URL name only: each token page gets its own real token, the held-time
        # pages Alice's held visit.
        "values_for": {
            "booking:manage": {"token": manage_token},
            "booking:manage_move": {"token": manage_token},
            "booking:waitlist_offer_link": {"token": offer_token(offer.token_nonce)},
            **{
                f"booking:{name}": {"appointment_id": held.pk}
                for name in ("book_review", "book_screening", "book_confirm", "book_release")
            },
        },
    }


def values_of(world: dict[str, Any], name: str) -> dict[str, Any]:
    return {**world["values"], **world["values_for"].get(name, {})}


def url_of(world: dict[str, Any], name: str, pattern_route: str, query: str = "") -> str:
    values = values_of(world, name)
    path = path_values(pattern_route, values)
    return f"{path}?{query.format(**values)}" if query else path


def path_values(route: str, values: dict[str, Any]) -> str:
    """The route with each <converter:name> replaced by a real object's id."""

    def fill(match: re.Match) -> str:
        name = match.group(1).split(":")[-1]
        if name not in values:
            raise AssertionError(f"No value for path parameter {name!r} in {route!r}: add it to world()['values'].")
        return str(values[name])

    return "/" + re.sub(r"<([^>]+)>", fill, route)


# Pages reached by a token link from a message: no-store and the origin only as Referer, for anyone.
LINK_PAGES = ("/manage/", "/waitlist/offer/")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<[a-z][^>]*\sstyle\s*=|<style[\s>]", re.I)
JS_URL = re.compile(r"(?:href|src|action)\s*=\s*[\"']\s*javascript:", re.I)


def page_problems(response: Any, role: str, path: str = "") -> list[str]:
    problems = []
    if response.get("Content-Type", "").startswith("text/html"):
        html = response.content.decode(errors="replace")
        if "Content-Security-Policy" not in response:
            problems.append("no Content-Security-Policy header")
        for label, pattern in (
            ("inline <script>", INLINE_SCRIPT),
            ("inline event handler", INLINE_HANDLER),
            ("inline style", INLINE_STYLE),
            ("javascript: URL", JS_URL),
        ):
            if found := pattern.search(html):
                problems.append(f"{label}: {found.group(0)[:80]}")
    if role != "anon" and response.status_code == 200 and "no-store" not in response.get("Cache-Control", ""):
        problems.append("a logged-in answer without Cache-Control: no-store")
    if path.startswith(LINK_PAGES):  # reached by a token link, logged in or not
        if "no-store" not in response.get("Cache-Control", ""):
            problems.append("a link page without Cache-Control: no-store")
        if response.get("Referrer-Policy") != "strict-origin":
            problems.append(f"a link page with Referrer-Policy {response.get('Referrer-Policy')!r}")
    return problems


def call(client: Client, method: str, path: str) -> Any:
    """GET, or POST with an empty body: JSON for the API, a form elsewhere."""
    if method != "POST":
        return client.get(path)
    if path.startswith("/api/"):
        return client.post(path, {}, content_type="application/json")
    return client.post(path, {})


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        sign_in(client, user)
    return client


def test_every_pattern_answers_each_role_as_the_table_says(world):
    users = {**world["users"], "admin": world["admin"]}
    routes = {p.name: p.route for p in all_patterns()}
    failures = []
    for pattern in all_patterns():
        if pattern.route.startswith(ADMIN_PREFIX) or pattern.name not in RULES:
            continue
        rule = RULES[pattern.name]
        path = url_of(world, pattern.name, pattern.route, rule.query)
        for role in ROLES:
            with transaction.atomic():  # each request sees the same world; writes are undone
                client = client_for(users[role])
                if rule.after:
                    client.get(url_of(world, rule.after, routes[rule.after]))
                seen_before = AccessLog.objects.count()
                response = call(client, rule.method, path)
                got, want = response.status_code, rule.expected(role)
                if got != want:
                    failures.append(f"{pattern.name} {rule.method} {path} as {role}: {got}, table says {want}")
                failures += [f"{pattern.name} as {role}: {p}" for p in page_problems(response, role, path)]
                logged = AccessLog.objects.count() > seen_before
                if rule.phi and role in ("desk", "provider", "admin") and got < 400 and not logged:
                    failures.append(f"{pattern.name} as {role}: showed patient data but wrote no access-log row")
                if role in ("anon", "patient", "other_patient") and logged:
                    failures.append(f"{pattern.name} as {role}: wrote an access-log row for a non-staff caller")
                transaction.set_rollback(True)
    assert not failures, "\n".join(failures)


def test_every_admin_url_is_closed_to_all_but_the_clinic_admin(world):
    values = {
        **world["values"],
        "object_id": world["values"]["patient_id"],
        "app_label": "patients",
        "content_type_id": 1,
        "id": world["admin"].pk,
        "url": "x",
        "pk": 1,
    }
    admin = client_for(world["admin"])
    others = {role: client_for(user) for role, user in world["users"].items()}
    failures = []
    for pattern in all_patterns():
        if not pattern.route.startswith(ADMIN_PREFIX):
            continue
        path = path_values(pattern.route.replace("(?P<", "<").replace(">.+)$", ">"), values)
        if pattern.name in {"admin:logout", "admin:login"}:
            continue  # the login form is the way in; logging out is tested with the sessions
        for role, client in others.items():
            response = client.get(path)
            if response.status_code != 302 or "/admin/login/" not in response["Location"]:
                failures.append(f"{pattern.name} {path} as {role}: {response.status_code}, expected the admin login")
        with transaction.atomic():
            response = admin.get(path)
            if response.status_code not in ADMIN_OK_FOR_CLINIC_ADMIN:
                failures.append(f"{pattern.name} {path} as clinic admin: {response.status_code}")
            failures += [f"{pattern.name} as admin: {p}" for p in page_problems(response, "admin")]
            transaction.set_rollback(True)
    assert not failures, "\n".join(failures)


def test_a_staff_only_post_is_hidden_whatever_the_method(world):
    """A GET to a staff page that takes only POSTs answers patients 404 too (not 405, which would
    tell them the page exists) and anonymous callers the login."""
    failures = []
    for pattern in all_patterns():
        rule = RULES.get(pattern.name)
        if rule is None or rule.method != "POST" or pattern.route.startswith(("api/", ADMIN_PREFIX)):
            continue
        if (rule.patient, rule.other_patient) != (404, 404):
            continue
        path = url_of(world, pattern.name, pattern.route, rule.query)
        for role in ("anon", "patient", "other_patient"):
            got = client_for(world["users"][role]).get(path).status_code
            want = rule.anon if role == "anon" else 404
            if got != want:
                failures.append(f"{pattern.name} GET {path} as {role}: {got}, expected {want}")
    assert not failures, "\n".join(failures)
