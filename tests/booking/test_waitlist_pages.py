"""Waitlist pages through HTTP: the patient's offer link (no login), the patient's own waitlist,
and the desk's waitlist (staff only)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from booking import services
from booking.models import Appointment, OfferStatus, Status, WaitlistEntry, WaitlistOffer, WaitlistStatus
from booking.scheduling import waitlist as rules
from clinic import roles
from tests.conftest import MONDAY, NOW
from tests.factories import make_patient, make_user, sign_in

pytestmark = pytest.mark.django_db


def offer_to(clinic, *waiting):
    appointment = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
        now=NOW,
    )
    for age, patient in enumerate(waiting):
        services.add_to_waitlist(
            patient=patient,
            visit_type=clinic.tpi,
            location=clinic.location,
            by=None,
            now=NOW - timedelta(hours=9 - age),
        )
    services.cancel_appointment(appointment=appointment, by=None, reason="ill", now=NOW)
    return list(WaitlistOffer.objects.order_by("entry__created_at"))


def link(offer):
    return reverse("booking:waitlist_offer_link", args=[rules.offer_token(offer.token_nonce)])


# --- the offer link -----------------------------------------------------------------------------


def test_the_link_moves_the_token_into_the_session_and_the_page_shows_the_time(client, clinic, frozen):
    (offer,) = offer_to(clinic, clinic.bob)

    response = client.get(link(offer))

    assert response.status_code == 302 and response["Location"] == reverse("booking:waitlist_offer")
    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "Mon 7 Dec 2026, 09:00 EST" in text and "Maria Alvarez" in text and "Accept this time" in text
    assert clinic.tpi.name not in text  # the page carries no more clinical detail than the message
    assert rules.offer_token(offer.token_nonce) not in text
    # The session keeps the token's hash, not the token: no copy of it is stored anywhere.
    assert offer.token_hash in client.session.values()
    assert rules.offer_token(offer.token_nonce) not in str(dict(client.session))


def test_accepting_books_the_time_and_a_second_accept_is_refused_kindly(client, clinic, frozen):
    (offer,) = offer_to(clinic, clinic.bob)
    client.get(link(offer))

    accepted = client.post(reverse("booking:waitlist_offer"))

    assert accepted.status_code == 200
    assert "The time is yours" in accepted.content.decode()
    booked = Appointment.objects.get(patient=clinic.bob)
    assert (booked.status, booked.start, booked.created_by) == (Status.BOOKED, clinic.at(MONDAY, 9), None)
    again = client.post(reverse("booking:waitlist_offer"))
    assert again.status_code == 409
    assert "You have already taken this time" in again.content.decode()
    assert Appointment.objects.filter(patient=clinic.bob).count() == 1


def test_the_loser_is_told_someone_else_was_first_with_other_times(client, clinic, frozen):
    first, second = offer_to(clinic, clinic.bob, make_patient())
    services.accept_offer(token=rules.offer_token(first.token_nonce))
    client.get(link(second))

    refused = client.post(reverse("booking:waitlist_offer"))

    assert refused.status_code == 409
    text = refused.content.decode()
    assert "someone else took this time" in text and "Other free times" in text
    assert "Accept this time" not in text


def test_an_expired_offer_answers_410(client, clinic, frozen):
    (offer,) = offer_to(clinic, clinic.bob)
    client.get(link(offer))
    frozen.move_to(offer.expires_at + timedelta(minutes=1))

    page = client.get(reverse("booking:waitlist_offer"))
    refused = client.post(reverse("booking:waitlist_offer"))

    assert "this offer has run out" in page.content.decode() and "Accept this time" not in page.content.decode()
    assert refused.status_code == 410
    offer.refresh_from_db()
    assert offer.status == OfferStatus.EXPIRED


def test_a_wrong_link_or_no_link_answers_404(client, clinic, frozen):
    offer_to(clinic, clinic.bob)
    assert client.get(reverse("booking:waitlist_offer_link", args=["x" * 43])).status_code == 404
    assert client.get(reverse("booking:waitlist_offer")).status_code == 404
    assert client.post(reverse("booking:waitlist_offer")).status_code == 404


# --- the patient's own waitlist --------------------------------------------------------------------


def test_a_patient_joins_and_leaves_the_waitlist(client, clinic, frozen, alice_user):
    sign_in(client, alice_user)
    form = {"visit_type": clinic.tpi.pk, "location": clinic.location.pk, "parts_of_day": ["morning"]}

    joined = client.post(reverse("booking:my_waitlist"), form)

    assert joined.status_code == 302
    entry = WaitlistEntry.objects.get(patient=clinic.alice)
    assert (entry.parts_of_day, entry.created_by, entry.provider) == (["morning"], alice_user, None)
    twice = client.post(reverse("booking:my_waitlist"), form)
    assert twice.status_code == 422 and "already on the waitlist" in twice.content.decode()
    client.post(reverse("booking:my_waitlist_withdraw", args=[entry.pk]))
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WITHDRAWN


def test_a_patient_sees_their_open_offer_with_its_link(client, clinic, frozen, bob_user):
    (offer,) = offer_to(clinic, clinic.bob)
    sign_in(client, bob_user)

    page = client.get(reverse("booking:my_waitlist"))

    assert page.status_code == 200
    assert "A time is offered to you: Mon 7 Dec 2026, 09:00 EST" in page.content.decode()
    assert link(offer) in page.content.decode()


def test_a_patient_cannot_withdraw_someone_elses_entry(client, clinic, frozen, alice_user):
    entry = services.add_to_waitlist(patient=clinic.bob, visit_type=clinic.tpi, location=clinic.location, by=None)
    sign_in(client, alice_user)
    assert client.post(reverse("booking:my_waitlist_withdraw", args=[entry.pk])).status_code == 404
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING


def test_a_bad_wish_is_refused_on_its_field(client, clinic, frozen, alice_user):
    sign_in(client, alice_user)
    form = {"visit_type": clinic.tpi.pk, "location": clinic.location.pk, "time_from": "15:00", "time_to": "10:00"}
    response = client.post(reverse("booking:my_waitlist"), form)
    assert response.status_code == 422
    assert not WaitlistEntry.objects.exists()
    assert 'id="error_1_id_time_to"' in response.content.decode()


# --- the desk's waitlist ----------------------------------------------------------------------------


DESK_PAGES = [
    ("booking:desk_waitlist", []),
    ("booking:desk_waitlist_add", ["patient"]),
    ("booking:desk_waitlist_offer", ["entry"]),
]


@pytest.mark.parametrize(("name", "args"), DESK_PAGES)
def test_patients_and_strangers_get_404_on_desk_pages(client, clinic, frozen, alice_user, name, args):
    entry = services.add_to_waitlist(patient=clinic.bob, visit_type=clinic.tpi, location=clinic.location, by=None)
    url = reverse(name, args=[{"patient": clinic.bob.pk, "entry": entry.pk}[a] for a in args])
    assert client.get(url).status_code == 302  # not logged in: to the login page
    sign_in(client, alice_user)
    assert client.get(url).status_code == 404
    withdraw = reverse("booking:desk_waitlist_withdraw", args=[entry.pk])
    assert client.post(withdraw).status_code == 404
    assert client.get(withdraw).status_code == 404  # not 405: that would show the desk page exists
    client.logout()
    assert client.get(withdraw).status_code == 302  # to the login page, whatever the method
    assert WaitlistEntry.objects.get(pk=entry.pk).status == WaitlistStatus.WAITING


@pytest.mark.parametrize("role", [roles.FRONT_DESK, roles.PROVIDER, roles.CLINIC_ADMIN])
def test_staff_see_the_waitlist_with_offers_in_a_flat_number_of_queries(
    client, clinic, frozen, role, django_assert_max_num_queries
):
    offer_to(clinic, *[make_patient(first_name=f"P{i}", email=f"p{i}@example.com") for i in range(6)])
    sign_in(client, make_user("staffer", role=role))

    with django_assert_max_num_queries(12):
        response = client.get(reverse("booking:desk_waitlist"))

    assert response.status_code == 200
    text = response.content.decode()
    assert text.count('class="offer-row"') == 3 and "6 entries" in text
    assert response.wsgi_request.viewed_patient_ids == set(WaitlistEntry.objects.values_list("patient_id", flat=True))


def test_the_desk_adds_a_patient_and_withdraws_with_htmx(client, clinic, frozen, desk_user):
    sign_in(client, desk_user)
    added = client.post(
        reverse("booking:desk_waitlist_add", args=[clinic.bob.pk]),
        {"visit_type": clinic.tpi.pk, "location": clinic.location.pk, "provider": clinic.dr_chen.pk, "note": "calls"},
    )
    assert added.status_code == 302
    entry = WaitlistEntry.objects.get()
    assert (entry.patient, entry.provider, entry.created_by) == (clinic.bob, clinic.dr_chen, desk_user)

    withdrawn = client.post(reverse("booking:desk_waitlist_withdraw", args=[entry.pk]), HTTP_HX_REQUEST="true")

    assert withdrawn.status_code == 200 and f'id="entry-{entry.pk}"' in withdrawn.content.decode()
    entry.refresh_from_db()
    assert (entry.status, entry.closed_by, entry.close_reason) == (
        WaitlistStatus.WITHDRAWN,
        desk_user,
        "withdrawn by the desk",
    )
    assert "withdrawn by the desk" in withdrawn.content.decode()


def test_the_desk_offers_a_listed_time_by_hand(client, clinic, frozen, desk_user, mailoutbox):
    entry = services.add_to_waitlist(
        patient=clinic.bob, visit_type=clinic.tpi, location=clinic.location, provider=clinic.dr_chen, by=None
    )
    sign_in(client, desk_user)
    page = client.get(reverse("booking:desk_waitlist_offer", args=[entry.pk]))
    assert page.status_code == 200 and "David Chen" in page.content.decode()
    slot = page.context["slots"][0]["value"]

    response = client.post(reverse("booking:desk_waitlist_offer", args=[entry.pk]), {"slot": slot})

    assert response.status_code == 302
    offer = WaitlistOffer.objects.get()
    assert (offer.entry, offer.provider, offer.created_by) == (entry, clinic.dr_chen, desk_user)
    assert offer.local_start().isoformat() == slot.split("|")[0]


def test_offer_messages_show_on_the_messages_page_and_in_the_admin(client, clinic, frozen, desk_user):
    (offer,) = offer_to(clinic, clinic.bob)
    sign_in(client, desk_user)

    page = client.get(reverse("booking:message_list") + "?show=waiting")

    assert page.status_code == 200 and "Bob Okafor" in page.content.decode()
    admin = make_user("root", is_superuser=True, is_staff=True)
    sign_in(client, admin)
    assert client.get("/admin/booking/reminder/").status_code == 200
    entry_page = client.get(f"/admin/booking/waitlistentry/{offer.entry_id}/change/")
    assert entry_page.status_code == 200 and offer.token_hash not in entry_page.content.decode()


def test_the_desk_waitlist_costs_the_same_queries_for_3_or_30_entries(client, clinic, frozen, desk_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sign_in(client, desk_user)
    counts = []
    for n in (3, 30):
        offer_to(clinic, *[make_patient(first_name=f"N{n}-{i}", email=f"n{n}-{i}@example.com") for i in range(n)])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("booking:desk_waitlist") + "?show=all").status_code == 200
        counts.append(len(queries))
        Appointment.objects.filter(patient=clinic.alice).update(status=Status.CANCELLED)
    assert counts[0] == counts[1], counts


def test_the_desk_sees_safety_flags_on_the_waitlist(client, clinic, frozen, desk_user):
    from patients.models import ReviewStatus, Screening

    services.add_to_waitlist(patient=clinic.bob, visit_type=clinic.tpi, location=clinic.location, by=None)
    Screening.objects.create(patient=clinic.bob, blood_thinner=True, review_status=ReviewStatus.PENDING)
    sign_in(client, desk_user)

    text = client.get(reverse("booking:desk_waitlist")).content.decode()

    assert "Blood thinner" in text and "Safety answers need review" in text
