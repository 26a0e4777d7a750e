"""The desk cancels a visit; two waitlisted patients get the offer by e-mail, open the link on a
phone, and the first to accept gets the time while the second is told kindly."""

import re
from datetime import time, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from booking import services
from booking.messaging import delivery
from booking.models import Appointment, OfferStatus, Status, WaitlistOffer
from booking.scheduling.availability import STAFF_POLICY
from clinic import roles
from clinic.api import hash_token
from clinic.models import ApiToken
from tests.conftest import build_clinic
from tests.e2e.conftest import PHONE, SCREENSHOTS, log_in, page_width, serious_violations
from tests.factories import make_patient, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LINK = re.compile(r"https?://\S+(/waitlist/offer/[A-Za-z0-9_-]+)")


def first_monday(clinic):
    today = timezone.now().astimezone(clinic.location.tz).date() + timedelta(days=7)
    return today + timedelta(days=-today.weekday() % 7)


def fits_the_phone(page) -> bool:
    return page_width(page) <= PHONE["width"]


def snap(page, name: str) -> None:
    """A full-page screenshot of another patient's window, next to the `shot` ones."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def send_due_messages() -> None:
    """What beat and the worker do: sweep due rows and send each (here, in this process)."""
    delivery.sweep_due(enqueue=lambda ids: [delivery.deliver(pk) for pk in ids])


def test_a_cancelled_visit_is_offered_and_the_first_patient_to_accept_gets_it(
    live_server, page, browser, shot, settings
):
    settings.REMINDER_QUIET_HOURS = None  # the test must not depend on the hour it runs at
    clinic = build_clinic()
    desk = make_user("desk", role=roles.FRONT_DESK)
    api_token = "desk-e2e-token-0123456789abcdefghijklmnopqrstuv"  # noqa: S105 - a test token
    ApiToken.objects.create(user=desk, token_hash=hash_token(api_token))
    carol = make_patient(first_name="Carol", last_name="Diaz", email="carol@example.com")
    monday = first_monday(clinic)
    appointment = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(monday, 9),
        by=desk,
        policy=STAFF_POLICY,
    )
    for patient, hours_ago in ((clinic.bob, 5), (carol, 1)):
        services.add_to_waitlist(
            patient=patient,
            visit_type=clinic.tpi,
            location=clinic.location,
            parts_of_day=["morning"],
            by=None,
            now=timezone.now() - timedelta(hours=hours_ago),
        )

    # The desk cancels Alice's visit (through the JSON API: the calendar's cancel button calls
    # the same booking service), then looks at the waitlist.
    cancelled = page.request.post(
        f"{live_server.url}/api/v1/appointments/{appointment.pk}/cancel",
        headers={"Authorization": f"Bearer {api_token}"},
        data={"reason": "Alice is moving away"},
    )
    assert cancelled.status == 200, cancelled.text()
    assert WaitlistOffer.objects.filter(status=OfferStatus.OPEN, freed_by=appointment).count() == 2

    log_in(page, live_server, "desk")
    page.goto(f"{live_server.url}/desk/waitlist/")
    expect(page.locator(".offer-row")).to_have_count(2)
    assert fits_the_phone(page)
    shot("waitlist-desk-phone")
    assert serious_violations(page) == []

    # The messages go out through the outbox; each patient reads the link in their e-mail.
    send_due_messages()
    offers = [m for m in mail.outbox if LINK.search(m.body)]
    links = {message.to[0]: LINK.search(message.body).group(1) for message in offers}
    assert set(links) == {"bob@example.com", "carol@example.com"} and len(offers) == 2
    assert all(clinic.tpi.name not in m.body and "injection" not in m.body.lower() for m in offers)

    bob = browser.new_context(viewport=PHONE, locale="en-US").new_page()
    carol_page = browser.new_context(viewport=PHONE, locale="en-US").new_page()
    carol_page.goto(live_server.url + links["carol@example.com"])  # Carol opens hers first...
    expect(carol_page.get_by_role("button", name="Accept this time")).to_be_visible()

    bob.goto(live_server.url + links["bob@example.com"])
    expect(bob.get_by_role("heading", name="A time has become free")).to_be_visible()
    assert bob.url.endswith("/waitlist/offer/")  # the token left the address bar
    expect(bob.get_by_text("09:00 E")).to_be_visible()
    assert fits_the_phone(bob)
    snap(bob, "waitlist-offer-bob-phone")
    assert serious_violations(bob) == []

    bob.get_by_role("button", name="Accept this time").click()  # ...but Bob accepts first

    expect(bob.get_by_role("heading", name="The time is yours")).to_be_visible()
    snap(bob, "waitlist-accepted-phone")
    assert serious_violations(bob) == []
    booked = Appointment.objects.get(patient=clinic.bob)
    assert booked.status == Status.BOOKED and booked.local_start().time() == time(9)
    assert booked.local_start().date() == monday and booked.provider == clinic.dr_alvarez

    carol_page.get_by_role("button", name="Accept this time").click()

    expect(carol_page.get_by_role("heading", name="This time is no longer available")).to_be_visible()
    expect(carol_page.get_by_role("alert")).to_contain_text("someone else took this time")
    expect(carol_page.get_by_role("heading", name="Other free times")).to_be_visible()
    assert fits_the_phone(carol_page)
    snap(carol_page, "waitlist-lost-phone")
    assert serious_violations(carol_page) == []
    assert not Appointment.objects.filter(patient=carol).exists()
    assert Appointment.objects.filter(start=booked.start, status=Status.BOOKED).count() == 1


def test_a_patient_joins_the_waitlist_from_their_phone(live_server, page, shot):
    clinic = build_clinic()
    user = make_user("alice", role=roles.PATIENT)
    clinic.alice.user = user
    clinic.alice.save(update_fields=["user"])
    log_in(page, live_server, "alice")

    page.goto(f"{live_server.url}/my/waitlist/")
    page.get_by_label("Visit type").select_option(label=clinic.tpi.name)
    page.get_by_label("Location").select_option(label=clinic.location.name)
    page.get_by_label("Morning (before 12:00)").check()
    page.get_by_role("button", name="Join the waitlist").click()

    expect(page.get_by_text("You are on the waitlist.")).to_be_visible()
    expect(page.get_by_role("button", name="Leave the waitlist")).to_be_visible()
    assert fits_the_phone(page)
    shot("waitlist-mine-phone")
    assert serious_violations(page) == []
    assert clinic.alice.waitlist_entries.get().parts_of_day == ["morning"]


def test_the_desk_adds_a_caller_to_the_waitlist_and_offers_a_time_by_hand(live_server, page, shot, settings):
    settings.REMINDER_QUIET_HOURS = None
    clinic = build_clinic()
    make_user("desk", role=roles.FRONT_DESK)
    log_in(page, live_server, "desk")

    page.goto(f"{live_server.url}/desk/waitlist/")
    page.get_by_label("Find a patient").fill("Okafor")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name="Add to waitlist").click()
    page.get_by_label("Visit type").select_option(label=clinic.tpi.name)
    page.get_by_label("Location").select_option(label=clinic.location.name)
    page.get_by_label("Provider").select_option(label="David Chen, MD")
    page.get_by_label("Afternoon (12:00 to 17:00)").check()
    assert fits_the_phone(page)
    shot("waitlist-desk-add-phone")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Add to waitlist").click()
    expect(page.get_by_text("Bob Okafor is on the waitlist.")).to_be_visible()

    page.get_by_role("link", name="Offer a time").click()
    expect(page.get_by_role("group", name="Free times that suit this entry (next two weeks)")).to_be_visible()
    first_time = page.locator("input[name=slot]").first
    first_time.check()
    assert fits_the_phone(page)
    shot("waitlist-desk-offer-phone")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Send the offer").click()

    expect(page.get_by_text("The time is offered to Bob Okafor.")).to_be_visible()
    expect(page.locator(".offer-row")).to_contain_text("Open")
    offer = WaitlistOffer.objects.get()
    assert offer.provider == clinic.dr_chen and offer.local_start().hour >= 12
