"""Safety screenings: what blocks online booking, and the desk's review queue."""

from datetime import datetime, time

import pytest
from django.urls import reverse

from booking import services as booking_services
from booking.models import Status
from patients import services
from patients.errors import ReviewRefused as BookingError  # the review refusals, as the assertions name them
from patients.models import ReviewStatus, Screening
from tests.conftest import MONDAY
from tests.factories import make_patient, sign_in

pytestmark = pytest.mark.django_db


def screen(patient, **answers):
    return services.record_screening(patient=patient, by=None, answers=answers)


@pytest.mark.parametrize("answer", Screening.BLOCKING)
def test_each_blocking_answer_asks_for_a_review(clinic, answer):
    screening = screen(clinic.alice, **{answer: True})
    assert screening.review_status == ReviewStatus.PENDING and screening.blocks_online_booking


@pytest.mark.parametrize("answer", ["needle_fear", "latex_allergy"])
def test_other_answers_only_inform_staff(clinic, answer):
    screening = screen(clinic.alice, **{answer: True})
    assert screening.review_status == ReviewStatus.NOT_NEEDED and not screening.blocks_online_booking
    assert len(screening.flags) == 1


def test_an_approval_carries_over_to_the_same_answers_but_not_to_new_ones(clinic, desk_user):
    first = screen(clinic.alice, blood_thinner=True, blood_thinner_names="aspirin")
    services.approve_screening(screening=first, by=desk_user)
    again = screen(clinic.alice, blood_thinner=True, blood_thinner_names="aspirin")
    assert again.review_status == ReviewStatus.APPROVED and not again.blocks_online_booking
    assert again.reviewed_by == desk_user
    worse = screen(clinic.alice, blood_thinner=True, systemic_infection=True)
    assert worse.review_status == ReviewStatus.PENDING


def test_declining_needs_a_note_and_a_review_happens_once(clinic, desk_user):
    screening = screen(clinic.alice, bleeding_disorder=True)
    with pytest.raises(BookingError):
        services.decline_screening(screening=screening, by=desk_user, note="  ")
    services.decline_screening(screening=screening, by=desk_user, note="Needs a haematology letter first.")
    with pytest.raises(BookingError):
        services.approve_screening(screening=screening, by=desk_user)
    screening.refresh_from_db()
    assert screening.review_status == ReviewStatus.DECLINED and screening.blocks_online_booking


def test_the_desk_sees_pending_reviews_and_approves_one(client, clinic, desk_user, frozen):
    pending = screen(clinic.alice, blood_thinner=True, blood_thinner_names="warfarin")
    screen(clinic.bob, needle_fear=True)  # no review needed: not listed
    sign_in(client, desk_user)
    home = client.get(reverse("booking:desk_home")).content.decode()
    assert reverse("patients:review_list") in home
    page = client.get(reverse("patients:review_list"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Alice Moreno" in body and "warfarin" in body and "Bob Okafor" not in body
    assert page.wsgi_request.viewed_patient_ids == {clinic.alice.pk}

    response = client.post(reverse("patients:review_decide", args=[pending.pk]), {"decision": "approve", "note": "ok"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.review_status == ReviewStatus.APPROVED and pending.reviewed_by == desk_user
    assert pending.reviewed_at is not None and pending.review_note == "ok"
    assert not pending.blocks_online_booking
    assert f'id="review-{pending.pk}"' not in client.get(reverse("patients:review_list")).content.decode()


def test_a_decline_without_a_note_is_refused_on_the_page(client, clinic, desk_user):
    pending = screen(clinic.alice, anaesthetic_allergy=True)
    sign_in(client, desk_user)
    response = client.post(reverse("patients:review_decide", args=[pending.pk]), {"decision": "decline"}, follow=True)
    assert "Please write a note" in response.content.decode()
    pending.refresh_from_db()
    assert pending.review_status == ReviewStatus.PENDING


def test_patients_cannot_see_or_decide_reviews(client, clinic, alice_user):
    pending = screen(clinic.bob, blood_thinner=True)
    sign_in(client, alice_user)
    assert client.get(reverse("patients:review_list")).status_code == 404
    assert client.post(reverse("patients:review_decide", args=[pending.pk]), {"decision": "approve"}).status_code == 404
    pending.refresh_from_db()
    assert pending.review_status == ReviewStatus.PENDING


def test_after_approval_the_patient_books_the_procedure_online(client, clinic, alice_user, desk_user, frozen):
    """An approved review also counts as the staff approval a procedure needs without an evaluation."""
    services.approve_screening(screening=screen(clinic.alice, blood_thinner=True), by=desk_user)
    sign_in(client, alice_user)
    start = datetime.combine(MONDAY, time(10), tzinfo=clinic.location.tz)
    data = {
        "location": clinic.location.pk,
        "visit": clinic.tpi.pk,
        "provider": "any",
        "slot": f"{start.isoformat()}|{clinic.dr_chen.pk}",
    }
    held_url = client.post(reverse("booking:book_hold"), data).url
    held = clinic.alice.appointments.get()
    answers = dict.fromkeys(("infection_near_site", "systemic_infection", "anaesthetic_allergy"), "False")
    answers |= {"latex_allergy": "False", "bleeding_disorder": "False", "blood_thinner": "True", "needle_fear": "False"}
    assert client.post(reverse("booking:book_screening", args=[held.pk]), answers).url == held_url
    client.post(reverse("booking:book_confirm", args=[held.pk]))
    held.refresh_from_db()
    assert held.status == Status.BOOKED
    assert held.screenings.get().review_status == ReviewStatus.APPROVED


def test_the_review_list_costs_the_same_queries_for_one_or_many(
    client, clinic, desk_user, django_assert_num_queries, django_assert_max_num_queries
):
    sign_in(client, desk_user)

    def want(patient, hour):
        held = booking_services.book_appointment(
            patient=patient,
            provider=clinic.dr_alvarez,
            visit_type=clinic.tpi,
            location=clinic.location,
            start=datetime.combine(MONDAY, time(hour), tzinfo=clinic.location.tz),
            by=None,
            hold=True,
        )
        services.record_screening(patient=patient, by=None, answers={"blood_thinner": True}, appointment=held)

    want(clinic.alice, 8)
    client.get(reverse("patients:review_list"))  # warm the session
    with django_assert_max_num_queries(6) as one:
        body = client.get(reverse("patients:review_list")).content.decode()
    assert "8:00 AM EST" in body or "08:00 EST" in body
    for number, hour in enumerate((9, 10, 11, 13), start=1):
        want(make_patient(first_name=f"P{number}", email=f"p{number}@example.com"), hour)
    with django_assert_num_queries(len(one.captured_queries)):
        assert client.get(reverse("patients:review_list")).content.decode().count("<article") == 5
