"""The patient's booking wizard through HTTP: steps, hold, screening, confirm, and bad input.

The shared clinic (tests/conftest.py): New York, Dr Alvarez and Dr Chen Monday to Friday 08–12 and
13–17, the clock frozen on Friday 4 December 2026 at 10:00; MONDAY is 7 December.
"""

from datetime import datetime, time

import pytest
from django.urls import reverse

from booking import services
from booking.models import Appointment, Status
from booking.scheduling.availability import STAFF_POLICY
from patients.models import ReviewStatus, Screening
from tests.conftest import MONDAY
from tests.factories import make_location, make_provider, sign_in

pytestmark = pytest.mark.django_db

NO_TO_ALL = {
    "infection_near_site": "False",
    "systemic_infection": "False",
    "anaesthetic_allergy": "False",
    "latex_allergy": "False",
    "bleeding_disorder": "False",
    "blood_thinner": "False",
    "needle_fear": "False",
}


@pytest.fixture
def alice(client, clinic, alice_user, frozen):
    sign_in(client, alice_user)
    return client


def slot(clinic, hour, minute=0, provider=None, day=MONDAY):
    start = datetime.combine(day, time(hour, minute), tzinfo=clinic.location.tz)
    return f"{start.isoformat()}|{(provider or clinic.dr_alvarez).pk}"


def hold_data(clinic, visit=None, hour=9, provider="any", **overrides):
    data = {
        "location": clinic.location.pk,
        "visit": (visit or clinic.evaluation).pk,
        "provider": provider,
        "slot": slot(clinic, hour),
    }
    data.update(overrides)
    return data


def evaluated(clinic):
    """Alice had her evaluation (booked by the desk last week, completed)."""
    past = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.evaluation,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
        policy=STAFF_POLICY,
    )
    Appointment.objects.filter(pk=past.pk).update(status=Status.COMPLETED)
    return past


# --- the steps ------------------------------------------------------------------------------------


def test_each_step_links_to_the_next_with_the_choices_so_far(alice, clinic):
    page = alice.get(reverse("booking:book_start"))
    assert page.status_code == 200 and clinic.location.name in page.content.decode()
    page = alice.get(reverse("booking:book_visit"), {"location": clinic.location.pk})
    assert page.status_code == 200
    assert "Please book an evaluation first" in page.content.decode()  # the TPI session is closed to her
    page = alice.get(reverse("booking:book_provider"), {"location": clinic.location.pk, "visit": clinic.evaluation.pk})
    assert page.status_code == 200 and "Any provider" in page.content.decode()


def test_the_calendar_marks_days_with_room_and_lists_a_days_times(alice, clinic):
    params = {"location": clinic.location.pk, "visit": clinic.evaluation.pk, "provider": "any"}
    page = alice.get(reverse("booking:book_calendar"), {**params, "month": "2026-12"})
    body = page.content.decode()
    assert page.status_code == 200
    assert f"day={MONDAY.isoformat()}" in body  # a weekday with room is a link
    assert "day=2026-12-05" not in body  # Saturday: no hours
    times = alice.get(reverse("booking:book_calendar"), {**params, "day": MONDAY.isoformat()}, HTTP_HX_REQUEST="true")
    assert times.status_code == 200
    assert "<html" not in times.content.decode()  # htmx gets the times only
    assert "9:00 AM EST" in times.content.decode()


def test_the_calendar_costs_the_same_queries_however_busy_the_month(alice, clinic, django_assert_max_num_queries):
    params = {"location": clinic.location.pk, "visit": clinic.evaluation.pk, "provider": "any", "day": "2026-12-08"}
    with django_assert_max_num_queries(9):
        assert alice.get(reverse("booking:book_calendar"), params).status_code == 200
    for day in (7, 8, 9, 10, 11, 14, 15):
        for hour in (8, 10, 13, 15):
            services.book_appointment(
                patient=clinic.bob,
                provider=clinic.dr_chen,
                visit_type=clinic.evaluation,
                location=clinic.location,
                start=clinic.at(MONDAY.replace(day=day), hour),
                by=None,
            )
    with django_assert_max_num_queries(9):
        assert alice.get(reverse("booking:book_calendar"), params).status_code == 200


def test_a_new_patient_holds_then_confirms_an_evaluation(alice, clinic):
    response = alice.post(reverse("booking:book_hold"), hold_data(clinic))
    held = Appointment.objects.get(patient=clinic.alice)
    assert response.status_code == 302 and response.url == reverse("booking:book_review", args=[held.pk])
    assert held.status == Status.HELD and held.hold_expires_at is not None
    review = alice.get(response.url)
    assert review.status_code == 200 and "9:00 AM EST" in review.content.decode()

    done = alice.post(reverse("booking:book_confirm", args=[held.pk]))
    assert done.status_code == 302 and done.url == reverse("booking:book_done", args=[held.pk])
    held.refresh_from_db()
    assert held.status == Status.BOOKED
    assert held.reminders.filter(kind="confirmation").exists()
    assert alice.get(done.url).status_code == 200


def test_a_double_submit_of_the_confirm_step_books_once(alice, clinic):
    alice.post(reverse("booking:book_hold"), hold_data(clinic))
    held = Appointment.objects.get(patient=clinic.alice)
    first = alice.post(reverse("booking:book_confirm", args=[held.pk]))
    second = alice.post(reverse("booking:book_confirm", args=[held.pk]))
    assert first.status_code == second.status_code == 302 and first.url == second.url
    assert Appointment.objects.filter(patient=clinic.alice).count() == 1
    assert held.events.filter(action="confirmed").count() == 1


def test_a_double_submit_of_the_time_keeps_one_hold(alice, clinic):
    first = alice.post(reverse("booking:book_hold"), hold_data(clinic))
    second = alice.post(reverse("booking:book_hold"), hold_data(clinic))
    assert first.status_code == second.status_code == 302 and first.url == second.url
    assert Appointment.objects.filter(patient=clinic.alice).count() == 1


# --- bad input ----------------------------------------------------------------------------------


def test_a_time_taken_meanwhile_answers_409_with_free_alternatives(alice, clinic):
    services.book_appointment(
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        visit_type=clinic.evaluation,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
    )
    response = alice.post(reverse("booking:book_hold"), hold_data(clinic, provider=clinic.dr_alvarez.pk))
    body = response.content.decode()
    assert response.status_code == 409
    assert "someone else has just taken that time" in body
    assert 'name="slot"' in body and "David Chen" in body  # the same time with the other provider
    assert not Appointment.objects.filter(patient=clinic.alice).exists()


@pytest.mark.parametrize(
    "change",
    [
        {"location": "999999"},
        {"location": "north"},
        {"visit": "999999"},
        {"slot": "not-a-time|1"},
        {"slot": "2026-12-07T09:00:00|1"},  # no offset
        {"slot": "0001-01-01T00:00:00+14:00|1"},
        {"slot": "9999-12-31T23:59:00-12:00|1"},
        {"slot": ""},
        {"provider": "999999"},
    ],
)
def test_a_tampered_form_answers_400_and_books_nothing(alice, clinic, change):
    response = alice.post(reverse("booking:book_hold"), {**hold_data(clinic), **change})
    assert response.status_code == 400
    assert "That choice is not available" in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_provider_who_does_not_offer_the_visit_is_refused(alice, clinic):
    other = make_provider(display_name="Sam Ortiz", locations=[clinic.location], visit_types=[clinic.tpi])
    data = hold_data(clinic, provider=other.pk, slot=slot(clinic, 9, provider=other))
    assert alice.post(reverse("booking:book_hold"), data).status_code == 400
    data = hold_data(clinic, slot=slot(clinic, 9, provider=other))  # "any provider", a tampered slot
    assert alice.post(reverse("booking:book_hold"), data).status_code == 400
    assert not Appointment.objects.exists()


def test_a_location_that_is_not_the_providers_is_refused(alice, clinic):
    elsewhere = make_location(name="Lakeside")
    response = alice.get(reverse("booking:book_visit"), {"location": elsewhere.pk})
    assert response.status_code == 200 and "No visits can be booked online here" in response.content.decode()
    assert alice.post(reverse("booking:book_hold"), hold_data(clinic, location=elsewhere.pk)).status_code == 400


def test_a_date_in_the_past_answers_422(alice, clinic):
    data = hold_data(clinic, slot=slot(clinic, 9, day=MONDAY.replace(day=1)))
    response = alice.post(reverse("booking:book_hold"), data)
    assert response.status_code == 422
    assert "in the past" in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_hold_that_ran_out_cannot_be_confirmed(alice, clinic, frozen):
    alice.post(reverse("booking:book_hold"), hold_data(clinic))
    held = Appointment.objects.get(patient=clinic.alice)
    frozen.shift(20 * 60)  # past the 10-minute hold, inside the patient's 30-minute session
    response = alice.post(reverse("booking:book_confirm", args=[held.pk]))
    assert response.status_code == 422 and "few minutes only" in response.content.decode()
    held.refresh_from_db()
    assert held.status == Status.HELD  # the sweep turns it into expired


def test_another_patients_hold_answers_404(client, clinic, alice_user, bob_user, frozen):
    sign_in(client, alice_user)
    client.post(reverse("booking:book_hold"), hold_data(clinic))
    held = Appointment.objects.get(patient=clinic.alice)
    sign_in(client, bob_user)
    assert client.get(reverse("booking:book_review", args=[held.pk])).status_code == 404
    assert client.post(reverse("booking:book_confirm", args=[held.pk])).status_code == 404
    held.refresh_from_db()
    assert held.status == Status.HELD


def test_the_wizard_needs_a_login(client, clinic):
    response = client.get(reverse("booking:book_start"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


# --- procedure visits ---------------------------------------------------------------------------


def test_a_procedure_needs_an_evaluation_on_record(alice, clinic):
    response = alice.post(reverse("booking:book_hold"), hold_data(clinic, visit=clinic.tpi))
    assert response.status_code == 422
    assert "book an evaluation first" in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_procedure_asks_the_safety_questions_before_confirming(alice, clinic):
    evaluated(clinic)
    response = alice.post(reverse("booking:book_hold"), hold_data(clinic, visit=clinic.tpi, hour=10))
    held = Appointment.objects.get(patient=clinic.alice, status=Status.HELD)
    assert alice.get(response.url).url == reverse("booking:book_screening", args=[held.pk])
    # Confirming before answering is sent to the questions.
    skipped = alice.post(reverse("booking:book_confirm", args=[held.pk]))
    assert skipped.url == reverse("booking:book_screening", args=[held.pk])

    unanswered = alice.post(reverse("booking:book_screening", args=[held.pk]), {})
    assert unanswered.status_code == 422
    answered = alice.post(reverse("booking:book_screening", args=[held.pk]), {**NO_TO_ALL, "needle_fear": "True"})
    assert answered.url == reverse("booking:book_review", args=[held.pk])
    screening = Screening.objects.get(patient=clinic.alice)
    assert screening.appointment == held and screening.flags == ["Fear of needles"]
    assert screening.review_status == ReviewStatus.NOT_NEEDED

    alice.post(reverse("booking:book_confirm", args=[held.pk]))
    held.refresh_from_db()
    assert held.status == Status.BOOKED


def test_a_blood_thinner_stops_online_booking_and_asks_the_desk(alice, clinic):
    evaluated(clinic)
    alice.post(reverse("booking:book_hold"), hold_data(clinic, visit=clinic.tpi, hour=10))
    held = Appointment.objects.get(patient=clinic.alice, status=Status.HELD)
    answers = {**NO_TO_ALL, "blood_thinner": "True", "blood_thinner_names": "warfarin 5 mg"}
    response = alice.post(reverse("booking:book_screening", args=[held.pk]), answers)
    assert response.status_code == 200
    assert "the clinic will call you" in response.content.decode()
    held.refresh_from_db()
    assert held.status == Status.CANCELLED  # the held time is free again
    screening = Screening.objects.get(patient=clinic.alice)
    assert screening.review_status == ReviewStatus.PENDING and screening.blocks_online_booking
    assert screening.appointment == held and screening.blood_thinner_names == "warfarin 5 mg"
    # A second try is closed until the desk has reviewed.
    again = alice.post(reverse("booking:book_hold"), hold_data(clinic, visit=clinic.tpi, hour=11))
    assert again.status_code == 422 and "reviewing your safety answers" in again.content.decode()
    assert alice.post(reverse("booking:book_confirm", args=[held.pk])).status_code == 422
    held.refresh_from_db()
    assert held.status == Status.CANCELLED


def test_a_past_day_or_a_nonsense_month_shows_the_current_month_without_times(alice, clinic):
    params = {"location": clinic.location.pk, "visit": clinic.evaluation.pk, "provider": "any"}
    past = alice.get(reverse("booking:book_calendar"), {**params, "day": "2026-11-02"})
    assert past.status_code == 200
    body = past.content.decode()
    assert "No free times that day" in body and 'name="slot"' not in body
    assert "December 2026" in body  # never a month before today's
    nonsense = alice.get(reverse("booking:book_calendar"), {**params, "month": "2026-99", "day": "someday"})
    assert nonsense.status_code == 200 and "December 2026" in nonsense.content.decode()


def test_visit_and_provider_steps_refuse_tampered_choices(alice, clinic):
    assert alice.get(reverse("booking:book_visit"), {"location": "x"}).status_code == 400
    params = {"location": clinic.location.pk, "visit": clinic.evaluation.pk, "provider": "999"}
    assert alice.get(reverse("booking:book_calendar"), params).status_code == 400
    assert alice.get(reverse("booking:book_provider"), {"location": clinic.location.pk}).status_code == 400
