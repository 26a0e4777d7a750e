"""The desk calendar through HTTP: who may see it, what a day shows, and each action on it.

The clock is frozen on Friday 4 December 2026, 10:00 in New York; most tests look at the next
Monday (MONDAY), when both providers work 08:00–12:00 and 13:00–17:00.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from booking import services
from booking.models import Appointment, AppointmentEvent, Status
from booking.scheduling.availability import STAFF_POLICY
from clinic import roles
from clinic.models import Closure, Room, TimeOff
from patients.models import Patient, ReviewStatus, Screening
from tests.conftest import MONDAY, NOW
from tests.factories import make_hours, make_patient, make_provider, make_provider_login, make_user, sign_in

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
FRIDAY = NOW.date()


@pytest.fixture
def desk(client, desk_user, frozen):
    sign_in(client, desk_user)
    return client


def day_url(clinic, day=MONDAY):
    return f"/desk/calendar/{clinic.location.pk}/{day.isoformat()}"


def book(clinic, patient, provider, at, visit_type=None, by=None, **extra):
    return services.book_appointment(
        patient=patient,
        provider=provider,
        visit_type=visit_type or clinic.tpi,
        location=clinic.location,
        start=at,
        by=by,
        policy=STAFF_POLICY,
        now=NOW,
        **extra,
    )


def htmx_post(client, url, data, calendar):
    return client.post(url, {**data, "calendar": calendar}, **HTMX)


# --- who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.FRONT_DESK, roles.PROVIDER, roles.CLINIC_ADMIN])
def test_staff_roles_see_the_day_calendar(client, clinic, frozen, role):
    sign_in(client, make_user("someone", role=role))
    response = client.get(day_url(clinic))
    assert response.status_code == 200
    assert "Maria Alvarez, MD" in response.content.decode()


def test_a_patient_gets_404_for_every_calendar_page_and_action(client, clinic, alice_user, frozen):
    appointment = book(clinic, clinic.bob, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    sign_in(client, alice_user)
    pages = [
        "/desk/calendar/",
        day_url(clinic),
        day_url(clinic) + "/rooms",
        f"/desk/calendar/provider/{clinic.dr_alvarez.pk}/week/{MONDAY}",
        f"/desk/calendar/appointments/{appointment.pk}",
        "/desk/calendar/patients?q=bob",
        f"/desk/calendar/{clinic.location.pk}/book?start=2026-12-07T10:00:00-05:00",
    ]
    for url in pages:
        assert client.get(url).status_code == 404, url
    for action in ("move", "cancel", "check-in", "no-show"):
        response = client.post(f"/desk/calendar/appointments/{appointment.pk}/{action}", {"reason": "x"})
        assert response.status_code == 404
    assert client.post(f"/desk/calendar/{clinic.location.pk}/book", {}).status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_someone_not_logged_in_is_sent_to_the_login_page(client, clinic):
    response = client.get(day_url(clinic))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_default_calendar_is_today_at_the_first_location(desk, clinic):
    response = desk.get("/desk/calendar/")
    assert response.status_code == 302
    assert response["Location"] == day_url(clinic, FRIDAY)
    picked = desk.get(f"/desk/calendar/?location={clinic.location.pk}&date=2026-12-09&view=rooms")
    assert picked["Location"] == day_url(clinic, date(2026, 12, 9)) + "/rooms"


def test_a_date_that_does_not_exist_is_a_404(desk, clinic):
    assert desk.get(f"/desk/calendar/{clinic.location.pk}/2026-02-30").status_code == 404
    assert desk.get(f"/desk/calendar/{clinic.location.pk + 99}/2026-12-07").status_code == 404


# --- what the day shows -----------------------------------------------------------------------


def test_the_day_shows_a_column_per_provider_and_each_visit_with_status_kind_session_and_flags(desk, clinic):
    series_visit = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    series_visit.session_number = 2
    series_visit.series = _series(clinic, series_visit)
    series_visit.save(update_fields=["session_number", "series"])
    book(clinic, clinic.bob, clinic.dr_chen, clinic.at(MONDAY, 10), visit_type=clinic.evaluation)
    Screening.objects.create(patient=clinic.bob, blood_thinner=True, review_status=ReviewStatus.PENDING)
    response = desk.get(day_url(clinic))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="cal-col-head') == 2
    assert "Alice Moreno" in html and "Bob Okafor" in html
    assert "2/6" in html  # series session k/n
    assert "status-booked" in html and "Booked" in html  # colour and word
    assert "kind-procedure" in html and ">TPI<" in html
    assert "kind-evaluation" in html and ">EV<" in html
    assert "Review: Blood thinner" in html
    assert "EST" in html  # times in the location's zone, with its abbreviation
    assert "08:00" in html and "16:45" in html


def _series(clinic, appointment):
    from booking.models import Series

    return Series.objects.create(
        patient=appointment.patient,
        provider=appointment.provider,
        visit_type=clinic.tpi,
        location=clinic.location,
        sessions_planned=6,
        preferred_time=time(9),
    )


def test_closed_time_is_shaded_and_only_open_time_is_offered_for_booking(desk, clinic):
    TimeOff.objects.create(
        provider=clinic.dr_chen, start=clinic.at(MONDAY, 8), end=clinic.at(MONDAY, 12), reason="course"
    )
    html = desk.get(day_url(clinic)).content.decode()
    # Alvarez: 8 working hours in 15-minute cells; Chen: the afternoon only.
    assert html.count('class="cal-book"') == 8 * 4 + 4 * 4
    assert "cal-closed" in html


def test_a_closure_day_offers_nothing_and_says_why(desk, clinic):
    Closure.objects.create(location=clinic.location, start_date=MONDAY, end_date=MONDAY, reason="Staff training")
    html = desk.get(day_url(clinic)).content.decode()
    assert 'class="cal-book"' not in html
    assert "Closed: Staff training" in html


def test_today_has_a_now_line_and_past_time_is_not_offered(desk, clinic):
    html = desk.get(day_url(clinic, FRIDAY)).content.decode()
    assert "now 10:00" in html
    assert "is-now" in html
    # 10:00–12:00 and 13:00–17:00 are still to come for each of the two providers.
    assert html.count('class="cal-book"') == 2 * (2 + 4) * 4


def test_the_rooms_view_has_a_column_per_room(desk, clinic):
    book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    response = desk.get(day_url(clinic) + "/rooms")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Room 1" in html and "Room 2" in html
    assert html.count('class="cal-col-head') == 2
    assert "Alice Moreno" in html


def test_the_week_view_shows_a_providers_seven_days(desk, clinic):
    book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY + timedelta(days=2), 9))
    book(clinic, clinic.bob, clinic.dr_chen, clinic.at(MONDAY, 9))  # not this provider's
    response = desk.get(f"/desk/calendar/provider/{clinic.dr_alvarez.pk}/week/{MONDAY + timedelta(days=3)}")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="cal-col-head') == 7
    assert "Wed 9 Dec" in html and "Alice Moreno" in html and "Bob Okafor" not in html


def test_the_calendar_notes_the_patients_it_shows_for_the_access_log(desk, clinic):
    book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    response = desk.get(day_url(clinic))
    assert response.wsgi_request.viewed_patient_ids == {clinic.alice.pk}


def test_an_htmx_request_for_the_grid_gets_the_grid_only(desk, clinic):
    response = desk.get(day_url(clinic), HTTP_HX_TARGET="calendar-grid", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<table" in html and "<html" not in html


# --- query counts -----------------------------------------------------------------------------


def ten_providers(clinic):
    """Eight more providers working Monday 08:00–17:00, and eight more rooms."""
    providers = [clinic.dr_alvarez, clinic.dr_chen]
    for i in range(8):
        provider = make_provider(
            display_name=f"Provider {i:02d}", locations=[clinic.location], visit_types=[clinic.tpi, clinic.evaluation]
        )
        make_hours(provider, clinic.location, weekday=0, start=time(8), end=time(17))
        providers.append(provider)
    for i in range(8):
        Room.objects.create(location=clinic.location, name=f"Room {i + 3}")
    return providers


def fill_day(clinic, providers, *, slots):
    """Book each provider at the given slot numbers (35 minutes apart, around the lunch break)."""
    starts = [clinic.at(MONDAY, 8) + timedelta(minutes=35 * k) for k in range(7)]
    starts += [clinic.at(MONDAY, 13) + timedelta(minutes=35 * k) for k in range(7)]
    for provider in providers:
        for k in slots:
            patient = make_patient(first_name=f"P{provider.pk}-{k}", email=f"p{provider.pk}-{k}@example.com")
            book(clinic, patient, provider, starts[k])
            Screening.objects.create(patient=patient, needle_fear=True)


def test_the_day_of_ten_providers_reads_at_most_ten_queries_however_many_visits(
    desk, clinic, django_assert_max_num_queries
):
    providers = ten_providers(clinic)
    counts = []
    for slots, visits_each in ((range(1), 1), (range(1, 14), 14)):
        fill_day(clinic, providers, slots=slots)
        with django_assert_max_num_queries(10) as captured:
            response = desk.get(day_url(clinic))
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count('class="cal-col-head') == 10
        assert html.count("cal-appt status-booked") == 10 * visits_each
        assert "Fear of needles" in html
        counts.append(len(captured.captured_queries))
    # The same queries for 10 visits as for 140: session, user, roles, then the locations with the
    # day's closure, hours, appointments, screenings and time off.
    assert counts[0] == counts[1]


def test_the_rooms_view_and_the_week_view_are_flat_too(desk, clinic, django_assert_max_num_queries):
    fill_day(clinic, ten_providers(clinic), slots=range(5))
    with django_assert_max_num_queries(10):
        assert desk.get(day_url(clinic) + "/rooms").status_code == 200
    with django_assert_max_num_queries(10):
        assert desk.get(f"/desk/calendar/provider/{clinic.dr_alvarez.pk}/week/{MONDAY}").status_code == 200


# --- booking into an empty time ---------------------------------------------------------------


def book_form_url(clinic, at, provider):
    return f"/desk/calendar/{clinic.location.pk}/book?start={at.isoformat().replace('+', '%2B')}&provider={provider.pk}"


def test_clicking_an_empty_time_opens_the_booking_form(desk, clinic):
    response = desk.get(book_form_url(clinic, clinic.at(MONDAY, 11), clinic.dr_chen), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Book Mon 7 Dec 2026, 11:00 EST" in html
    assert f'<option value="{clinic.dr_chen.pk}" selected>' in html
    assert "<html" not in html


def test_the_patient_search_finds_by_name_phone_and_date_of_birth(desk, clinic):
    for query in ("okafor", "5550123", "1978-04-12"):
        response = desk.get(f"/desk/calendar/patients?q={query}", **HTMX)
        assert f'value="{clinic.bob.pk}"' in response.content.decode(), query
        assert clinic.bob.pk in response.wsgi_request.viewed_patient_ids


def test_the_desk_books_an_existing_patient_and_gets_the_panel_and_the_grid_back(desk, clinic, desk_user):
    start = clinic.at(MONDAY, 11)
    data = {
        "start": start.isoformat(),
        "provider": clinic.dr_chen.pk,
        "visit_type": clinic.evaluation.pk,
        "patient": clinic.bob.pk,
    }
    response = htmx_post(desk, f"/desk/calendar/{clinic.location.pk}/book", data, day_url(clinic))
    html = response.content.decode()
    assert response.status_code == 200
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.provider, appointment.visit_type) == (
        clinic.bob,
        clinic.dr_chen,
        clinic.evaluation,
    )
    assert appointment.start == start and appointment.created_by == desk_user
    assert "Booked: Bob Okafor, Mon 7 Dec 2026, 11:00 EST." in html
    assert 'id="calendar-grid" hx-swap-oob="true"' in html and "Bob Okafor" in html


def test_the_desk_creates_a_phone_patient_inline_and_books_them(desk, clinic):
    data = {
        "start": clinic.at(MONDAY, 9).isoformat(),
        "provider": clinic.dr_alvarez.pk,
        "visit_type": clinic.evaluation.pk,
        "first_name": "Carmen",
        "last_name": "Ruiz",
        "date_of_birth": "1969-03-02",
        "phone": "(423) 555-0177",
    }
    response = htmx_post(desk, f"/desk/calendar/{clinic.location.pk}/book", data, day_url(clinic))
    assert response.status_code == 200
    carmen = Patient.objects.get(last_name="Ruiz")
    assert str(carmen.phone) == "+14235550177"
    assert Appointment.objects.get().patient == carmen


def test_a_new_patient_needs_a_name_and_birth_date_and_a_valid_phone(desk, clinic):
    data = {
        "start": clinic.at(MONDAY, 9).isoformat(),
        "provider": clinic.dr_alvarez.pk,
        "visit_type": clinic.evaluation.pk,
        "first_name": "Carmen",
        "phone": "12",
    }
    response = htmx_post(desk, f"/desk/calendar/{clinic.location.pk}/book", data, day_url(clinic))
    assert response.status_code == 422
    assert "Needed for a new patient." in response.content.decode()
    data.update(last_name="Ruiz", date_of_birth="1969-03-02")
    response = htmx_post(desk, f"/desk/calendar/{clinic.location.pk}/book", data, day_url(clinic))
    assert response.status_code == 422
    assert 'aria-describedby="id_phone_error"' in response.content.decode()
    assert not Patient.objects.filter(last_name="Ruiz").exists() and not Appointment.objects.exists()


def test_booking_without_a_patient_is_a_422(desk, clinic):
    data = {"start": clinic.at(MONDAY, 9).isoformat(), "provider": clinic.dr_alvarez.pk, "visit_type": clinic.tpi.pk}
    response = htmx_post(desk, f"/desk/calendar/{clinic.location.pk}/book", data, day_url(clinic))
    assert response.status_code == 422
    assert "Find the patient" in response.content.decode()


def test_booking_a_taken_time_is_a_409_with_one_click_alternatives_that_book(desk, clinic):
    book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    data = {
        "start": clinic.at(MONDAY, 9).isoformat(),
        "provider": clinic.dr_alvarez.pk,
        "visit_type": clinic.tpi.pk,
        "first_name": "Carmen",
        "last_name": "Ruiz",
        "date_of_birth": "1969-03-02",
    }
    response = htmx_post(desk, f"/desk/calendar/{clinic.location.pk}/book", data, day_url(clinic))
    html = response.content.decode()
    assert response.status_code == 409
    assert "That time is already taken." in html
    assert "Free instead" in html and "David Chen, MD" in html
    carmen = Patient.objects.get(last_name="Ruiz")  # kept, and picked for the alternatives
    assert f'name="patient" value="{carmen.pk}"' in html
    other = {
        "start": clinic.at(MONDAY, 9).isoformat(),
        "provider": clinic.dr_chen.pk,
        "visit_type": clinic.tpi.pk,
        "patient": carmen.pk,
    }
    assert htmx_post(desk, f"/desk/calendar/{clinic.location.pk}/book", other, day_url(clinic)).status_code == 200
    assert Appointment.objects.get(patient=carmen).provider == clinic.dr_chen
    assert Patient.objects.filter(last_name="Ruiz").count() == 1


def test_a_rule_refusal_is_a_422_in_the_panel(desk, clinic):
    data = {
        "start": clinic.at(MONDAY, 12, 15).isoformat(),  # lunch
        "provider": clinic.dr_alvarez.pk,
        "visit_type": clinic.tpi.pk,
        "patient": clinic.bob.pk,
    }
    response = htmx_post(desk, f"/desk/calendar/{clinic.location.pk}/book", data, day_url(clinic))
    assert response.status_code == 422
    assert "does not see patients" in response.content.decode()


def test_a_garbled_start_is_a_422_not_a_500(desk, clinic):
    data = {"start": "tomorrow", "provider": clinic.dr_alvarez.pk, "visit_type": clinic.tpi.pk, "patient": 1}
    response = htmx_post(desk, f"/desk/calendar/{clinic.location.pk}/book", data, day_url(clinic))
    assert response.status_code == 422


def test_booking_without_javascript_goes_back_to_the_calendar(desk, clinic):
    data = {
        "start": clinic.at(MONDAY, 11).isoformat(),
        "provider": clinic.dr_chen.pk,
        "visit_type": clinic.tpi.pk,
        "patient": clinic.bob.pk,
        "calendar": day_url(clinic),
    }
    response = desk.post(f"/desk/calendar/{clinic.location.pk}/book", data)
    assert response.status_code == 302 and response["Location"] == day_url(clinic)
    assert Appointment.objects.filter(patient=clinic.bob).exists()


def test_a_foreign_calendar_path_is_ignored(desk, clinic):
    data = {
        "start": clinic.at(MONDAY, 11).isoformat(),
        "provider": clinic.dr_chen.pk,
        "visit_type": clinic.tpi.pk,
        "patient": clinic.bob.pk,
        "calendar": "https://evil.example/desk/calendar/",
    }
    response = desk.post(f"/desk/calendar/{clinic.location.pk}/book", data)
    assert response.status_code == 302 and response["Location"] == "/desk/calendar/"


# --- move, cancel, check in, no-show ----------------------------------------------------------


def test_the_appointment_panel_offers_the_actions_its_status_allows(desk, clinic):
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    html = desk.get(f"/desk/calendar/appointments/{appointment.pk}", **HTMX).content.decode()
    assert "Move" in html and "Cancel this visit" in html
    assert "Check in" not in html  # not today
    assert "Mark no-show" not in html  # not started


def test_the_panel_links_providers_to_the_procedure_record_and_not_the_desk(client, desk, clinic, frozen):
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    record_url = f"/provider/appointments/{appointment.pk}/record"
    assert record_url not in desk.get(f"/desk/calendar/appointments/{appointment.pk}", **HTMX).content.decode()

    sign_in(client, make_provider_login(clinic.dr_alvarez, "alvarez"))
    html = client.get(f"/desk/calendar/appointments/{appointment.pk}", **HTMX).content.decode()
    assert record_url in html


def test_moving_to_a_free_time_moves_it_and_sends_the_grid_back(desk, clinic, desk_user):
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    data = {"provider": clinic.dr_chen.pk, "date": "2026-12-07", "time": "14:00"}
    response = htmx_post(desk, f"/desk/calendar/appointments/{appointment.pk}/move", data, day_url(clinic))
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.provider == clinic.dr_chen and appointment.start == clinic.at(MONDAY, 14)
    assert AppointmentEvent.objects.filter(appointment=appointment, action="moved", by=desk_user).exists()
    assert "Moved to Mon 7 Dec 2026, 14:00 EST with David Chen, MD." in response.content.decode()
    assert 'hx-swap-oob="true"' in response.content.decode()


def test_moving_onto_a_taken_time_is_a_409_with_alternatives_and_nothing_moves(desk, clinic):
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    book(clinic, clinic.bob, clinic.dr_chen, clinic.at(MONDAY, 14))
    data = {"provider": clinic.dr_chen.pk, "start": clinic.at(MONDAY, 14).isoformat()}  # as a drop posts it
    response = htmx_post(desk, f"/desk/calendar/appointments/{appointment.pk}/move", data, day_url(clinic))
    html = response.content.decode()
    assert response.status_code == 409
    assert "That time is already taken." in html and "Free instead" in html
    assert "Mon 7 Dec 2026, 14:45 EST · David Chen, MD" in html  # his next free time
    appointment.refresh_from_db()
    assert appointment.provider == clinic.dr_alvarez and appointment.start == clinic.at(MONDAY, 9)


def test_a_move_needs_a_date_and_time(desk, clinic):
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    data = {"provider": clinic.dr_chen.pk, "date": "2026-12-07"}
    response = htmx_post(desk, f"/desk/calendar/appointments/{appointment.pk}/move", data, day_url(clinic))
    assert response.status_code == 422
    assert "Choose the new date and time." in response.content.decode()


def test_cancel_needs_a_reason_and_then_frees_the_time(desk, clinic, desk_user):
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    url = f"/desk/calendar/appointments/{appointment.pk}/cancel"
    assert htmx_post(desk, url, {"reason": ""}, day_url(clinic)).status_code == 422
    response = htmx_post(desk, url, {"reason": "Patient has the flu"}, day_url(clinic))
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED and appointment.cancel_reason == "Patient has the flu"
    assert "1 cancelled visit" in response.content.decode()
    again = htmx_post(desk, url, {"reason": "twice"}, day_url(clinic))
    assert again.status_code == 409  # already cancelled, said in words
    assert "cancelled" in again.content.decode()


def test_check_in_works_on_the_day_and_is_refused_before(desk, clinic, desk_user):
    today = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(FRIDAY, 13))
    later = book(clinic, clinic.bob, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    response = htmx_post(desk, f"/desk/calendar/appointments/{today.pk}/check-in", {}, day_url(clinic, FRIDAY))
    assert response.status_code == 200
    assert "Alice Moreno is checked in." in response.content.decode()
    today.refresh_from_db()
    assert today.status == Status.CHECKED_IN
    refused = htmx_post(desk, f"/desk/calendar/appointments/{later.pk}/check-in", {}, day_url(clinic))
    assert refused.status_code == 422
    assert "on the day of their visit only" in refused.content.decode()
    later.refresh_from_db()
    assert later.status == Status.BOOKED


def test_no_show_after_the_start_only(desk, desk_user, clinic, frozen):
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(FRIDAY, 13))
    url = f"/desk/calendar/appointments/{appointment.pk}/no-show"
    assert htmx_post(desk, url, {}, day_url(clinic, FRIDAY)).status_code == 422
    frozen.move_to(datetime(2026, 12, 4, 18, 20, tzinfo=UTC))  # 13:20 in New York
    sign_in(desk, desk_user)  # hours later: the staff session has run out
    response = htmx_post(desk, url, {}, day_url(clinic, FRIDAY))
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == Status.NO_SHOW
    assert "status-no_show" in response.content.decode()


def test_actions_without_javascript_redirect_back_and_errors_show_on_the_whole_page(desk, clinic):
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    url = f"/desk/calendar/appointments/{appointment.pk}/cancel"
    refused = desk.post(url, {"reason": "", "calendar": day_url(clinic)})
    assert refused.status_code == 422 and "<html" in refused.content.decode()
    done = desk.post(url, {"reason": "moved away", "calendar": day_url(clinic)})
    assert done.status_code == 302 and done["Location"] == day_url(clinic)


def test_an_unknown_appointment_is_a_404(desk, clinic):
    assert desk.get("/desk/calendar/appointments/999").status_code == 404
    assert desk.post("/desk/calendar/appointments/999/check-in").status_code == 404


@pytest.mark.parametrize("role", [roles.PROVIDER, roles.CLINIC_ADMIN])
def test_providers_and_admins_can_run_the_desk_actions_too(client, clinic, frozen, role):
    sign_in(client, make_user("someone", role=role))
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(FRIDAY, 13))
    response = htmx_post(client, f"/desk/calendar/appointments/{appointment.pk}/check-in", {}, day_url(clinic, FRIDAY))
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN


def test_an_action_whose_calendar_is_gone_still_answers_the_panel(desk, clinic):
    appointment = book(clinic, clinic.alice, clinic.dr_alvarez, clinic.at(MONDAY, 9))
    gone = f"/desk/calendar/{clinic.location.pk + 99}/2026-12-07"
    response = htmx_post(desk, f"/desk/calendar/appointments/{appointment.pk}/cancel", {"reason": "ill"}, gone)
    assert response.status_code == 200
    assert "hx-swap-oob" not in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED


def test_the_week_of_an_unknown_provider_is_a_404(desk, clinic):
    assert desk.get(f"/desk/calendar/provider/{clinic.dr_chen.pk + 99}/week/{MONDAY}").status_code == 404


def test_a_free_time_in_the_week_view_books_with_that_provider(desk, clinic):
    html = desk.get(f"/desk/calendar/provider/{clinic.dr_chen.pk}/week/{MONDAY}").content.decode()
    assert f"provider={clinic.dr_chen.pk}" in html
    assert f'data-provider="{clinic.dr_chen.pk}"' in html  # a drop target for a dragged visit
