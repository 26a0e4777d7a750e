"""The series pages: the desk previews, books, prescribes and changes a series; a patient books theirs.

The shared clinic (tests/conftest.py): New York, Dr Alvarez and Dr Chen Monday to Friday, the clock
frozen on Friday 4 December 2026. Six sessions two weeks apart from Monday 7 December at 09:00 all
fall on Mondays with nothing in their way.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking import services
from booking.models import Appointment, Series, SeriesStatus, Status
from booking.scheduling.availability import STAFF_POLICY
from booking.services.series import prescribe_series
from clinic.models import Closure, TimeOff
from tests.conftest import MONDAY, NOW
from tests.factories import make_provider, sign_in

pytestmark = pytest.mark.django_db

SIX_MONDAYS = [MONDAY + timedelta(days=14 * k) for k in range(6)]
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def desk(client, desk_user, frozen):
    sign_in(client, desk_user)
    return client


def series_data(clinic, **overrides):
    data = {
        "provider": clinic.dr_alvarez.pk,
        "visit_type": clinic.tpi.pk,
        "location": clinic.location.pk,
        "sessions": 6,
        "gap_days": 14,
        "tolerance_days": 2,
        "taper_days": "",
        "preferred_time": "09:00",
        "first_date": MONDAY.isoformat(),
    }
    data.update(overrides)
    return data


def new_series_url(clinic):
    return reverse("booking:series_new", args=[clinic.alice.pk])


def preview(client, clinic, *, headers=HTMX, **overrides):
    return client.post(new_series_url(clinic), {**series_data(clinic, **overrides), "action": "preview"}, **headers)


def confirm(clinic, previewed, *, picks=None, **overrides):
    """What "Book series" posts: the parameters, each previewed start, and the alternatives picked."""
    plan = previewed.context["preview"]
    data = {**series_data(clinic, **overrides), "action": "book", "previewed": plan["signature"]}
    data.update({f"pin_{row.number}": row.pin for row in plan["rows"] if row.pin})
    data.update({f"choice_{number}": value for number, value in (picks or {}).items()})
    return data


def dr_alvarez_away(clinic, around: date, days: int = 2):
    """Dr Alvarez is away for the whole tolerance window around `around`."""
    tz = clinic.location.tz
    TimeOff.objects.create(
        provider=clinic.dr_alvarez,
        start=datetime.combine(around - timedelta(days=days), time(0), tzinfo=tz),
        end=datetime.combine(around + timedelta(days=days + 1), time(0), tzinfo=tz),
        reason="conference",
    )


def nothing_written():
    return Series.objects.count() == 0 and Appointment.objects.count() == 0


# --- the desk's preview -----------------------------------------------------------------------


def test_the_htmx_preview_shows_every_session_with_its_badge_and_writes_nothing(desk, clinic):
    Closure.objects.create(location=clinic.location, start_date=SIX_MONDAYS[1], end_date=SIX_MONDAYS[1], reason="x")
    dr_alvarez_away(clinic, SIX_MONDAYS[3] + timedelta(days=1))  # session 4's target follows session 2's move

    response = preview(desk, clinic)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # only the partial
    assert [r.label for r in response.context["preview"]["rows"]] == [f"Session {k} of 6" for k in range(1, 7)]
    assert [r.status for r in response.context["preview"]["rows"]] == [
        "fits",
        "moved",
        "fits",
        "needs-choice",
        "fits",
        "fits",
    ]
    assert "Mon 7 Dec 2026, 09:00 EST" in html and "Maria Alvarez, MD" in html
    assert "Moved +1 day, inside ±2" in html
    assert "Needs a choice" in html
    # Session 4: Dr Chen on the target day, and Dr Alvarez on the nearest dates outside the tolerance.
    alternatives = response.context["preview"]["rows"][3].alternatives
    assert alternatives[0].provider == "David Chen, MD" and "another provider, same day" in alternatives[0].kind
    assert [a.kind for a in alternatives[1:]] == ["outside the tolerance, +3 days", "outside the tolerance, −4 days"]
    assert html.count('name="choice_4"') == len(alternatives)
    assert nothing_written()


def test_the_preview_works_without_javascript_as_a_whole_page(desk, clinic):
    response = preview(desk, clinic, headers={})

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and "Plan a series for Alice Moreno" in html
    assert html.count('class="badge series-badge series-badge-fits"') == 6
    assert nothing_written()


def test_the_preview_from_an_evaluation_is_prefilled_with_its_patient_provider_and_location(desk, clinic):
    evaluation = services.book_appointment(
        patient=clinic.bob,
        provider=clinic.dr_chen,
        visit_type=clinic.evaluation,
        location=clinic.location,
        start=clinic.at(MONDAY, 10, 30),
        by=None,
        now=NOW,
    )

    response = desk.get(reverse("booking:series_new_from_appointment", args=[evaluation.pk]))

    assert response.status_code == 200
    form = response.context["form"]
    assert form["provider"].value() == clinic.dr_chen.pk
    assert form["location"].value() == clinic.location.pk
    assert form["preferred_time"].value() == time(10, 30)
    assert form["first_date"].value() == MONDAY + timedelta(days=14)
    assert response.context["patient"] == clinic.bob


# --- booking ------------------------------------------------------------------------------------


def test_booking_with_an_alternative_picked_books_every_session(desk, clinic, desk_user):
    dr_alvarez_away(clinic, SIX_MONDAYS[2])
    previewed = preview(desk, clinic)
    other_provider = previewed.context["preview"]["rows"][2].alternatives[0]

    response = desk.post(new_series_url(clinic), confirm(clinic, previewed, picks={3: other_provider.value}))

    series = Series.objects.get()
    assert response.status_code == 302 and response.url == reverse("booking:desk_series", args=[series.pk])
    sessions = list(series.appointments.order_by("session_number"))
    assert [a.session_number for a in sessions] == [1, 2, 3, 4, 5, 6]
    assert sessions[2].provider == clinic.dr_chen
    assert {a.provider for a in sessions[:2] + sessions[3:]} == {clinic.dr_alvarez}
    assert (series.status, series.created_by) == (SeriesStatus.ACTIVE, desk_user)
    page = desk.get(response.url).content.decode()
    assert "6 sessions booked." in page and "Session 3 of 6" in page


def test_booking_through_htmx_redirects_the_browser_to_the_series(desk, clinic):
    previewed = preview(desk, clinic)

    response = desk.post(new_series_url(clinic), confirm(clinic, previewed), **HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("booking:desk_series", args=[Series.objects.get().pk])
    assert Appointment.objects.count() == 6


def test_a_time_taken_between_preview_and_booking_shows_the_plan_again_with_the_clash_marked(desk, clinic):
    previewed = preview(desk, clinic)
    fifth = previewed.context["preview"]["rows"][4]
    services.book_appointment(
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=datetime.fromisoformat(fifth.iso),
        by=None,
        now=NOW,
    )

    response = desk.post(new_series_url(clinic), confirm(clinic, previewed), **HTMX)

    assert response.status_code == 409
    html = response.content.decode()
    assert "has just been taken; nothing was booked" in html
    rows = response.context["preview"]["rows"]
    assert [r.number for r in rows if r.status == "clash"] == [5]
    assert 'id="session-5" data-status="clash"' in html and "Taken just now: choose again" in html
    assert rows[4].alternatives  # something to pick instead
    assert Series.objects.count() == 0 and not Appointment.objects.filter(patient=clinic.alice).exists()


def test_booking_a_session_that_still_needs_a_choice_is_a_422_with_the_plan(desk, clinic):
    Closure.objects.create(
        location=clinic.location,
        start_date=SIX_MONDAYS[2] - timedelta(days=2),
        end_date=SIX_MONDAYS[2] + timedelta(days=2),
        reason="x",
    )
    previewed = preview(desk, clinic)

    response = desk.post(new_series_url(clinic), confirm(clinic, previewed))

    assert response.status_code == 422
    assert "Sessions 3 have no time inside their tolerance" in response.content.decode()
    assert response.context["preview"]["rows"][2].status == "needs-choice"
    assert nothing_written()


def test_a_rule_the_service_refuses_is_shown_on_the_form_with_a_422(desk, clinic):
    stranger = make_provider(display_name="Sam Ortiz", locations=[clinic.location])  # offers no TPI

    response = preview(desk, clinic, provider=stranger.pk)

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#series-form"
    assert "Sam Ortiz, MD does not offer Trigger point injection session" in response.content.decode()
    assert nothing_written()


def test_invalid_values_are_shown_on_their_fields_with_a_422(desk, clinic):
    response = preview(desk, clinic, headers={}, sessions=53, taper_days="14, x", first_date="")

    assert response.status_code == 422
    errors = response.context["form"].errors
    assert set(errors) == {"sessions", "taper_days"}
    assert "Write the gaps as whole days" in response.content.decode()


def test_booking_needs_a_first_date_but_prescribing_does_not(desk, clinic):
    response = preview(desk, clinic, first_date="")
    assert response.status_code == 422 and "Choose the target date of session 1." in response.content.decode()

    response = desk.post(new_series_url(clinic), {**series_data(clinic, first_date=""), "action": "prescribe"})
    assert response.status_code == 302
    assert Series.objects.get().status == SeriesStatus.PLANNED


def test_booking_after_the_form_changed_shows_the_new_preview_first(desk, clinic):
    previewed = preview(desk, clinic)

    response = desk.post(new_series_url(clinic), confirm(clinic, previewed, sessions=4))

    assert response.status_code == 200
    assert "The details changed since the preview" in response.content.decode()
    assert len(response.context["preview"]["rows"]) == 4
    assert nothing_written()


def test_the_preview_reads_the_same_number_of_queries_for_6_or_20_sessions(desk, clinic, django_assert_max_num_queries):
    preview(desk, clinic)  # warm the session and the content types
    with CaptureQueriesContext(connection) as six:
        preview(desk, clinic)
    with django_assert_max_num_queries(len(six)), CaptureQueriesContext(connection) as twenty:
        response = preview(desk, clinic, sessions=20, taper_days="14, 21, 28")
    with django_assert_max_num_queries(len(six) + 5):  # the whole page: the form's 3 lists, the menu's permissions
        preview(desk, clinic, headers={})

    assert len(response.context["preview"]["rows"]) == 20
    assert len(six) == len(twenty) <= 12  # incl. django-otp's device check and the access-log row


# --- prescribing and the patient's page -------------------------------------------------------


def test_the_desk_prescribes_a_series_without_booking_it(desk, clinic, desk_user):
    response = desk.post(new_series_url(clinic), {**series_data(clinic), "action": "prescribe"})

    series = Series.objects.get()
    assert response.status_code == 302 and response.url == reverse("booking:desk_series", args=[series.pk])
    assert (series.status, series.sessions_planned, series.created_by) == (SeriesStatus.PLANNED, 6, desk_user)
    assert (series.patient, series.provider, series.preferred_time) == (clinic.alice, clinic.dr_alvarez, time(9))
    assert not series.appointments.exists()


def prescription(clinic, desk_user, **overrides):
    values = {
        "patient": clinic.alice,
        "provider": clinic.dr_alvarez,
        "visit_type": clinic.tpi,
        "location": clinic.location,
        "sessions": 6,
        "gap_days": 14,
        "tolerance_days": 2,
        "taper_days": [],
        "preferred_time": time(9),
        "by": desk_user,
        "policy": STAFF_POLICY,
        **overrides,
    }
    return prescribe_series(**values)


def test_a_patient_books_their_prescribed_series_from_a_first_date(client, clinic, alice_user, desk_user, frozen):
    series = prescription(clinic, desk_user)
    sign_in(client, alice_user)
    url = reverse("booking:my_series", args=[series.pk])
    first = MONDAY + timedelta(days=7)

    page = client.get(url)
    assert page.status_code == 200 and 'for="id_first_date"' in page.content.decode()
    previewed = client.post(url, {"first_date": first.isoformat(), "action": "preview"}, **HTMX)
    assert previewed.status_code == 200
    rows = previewed.context["preview"]["rows"]
    assert [r.label for r in rows] == [f"Session {k} of 6" for k in range(1, 7)] and nothing_booked(series)

    pins = {f"pin_{row.number}": row.pin for row in rows}
    booked = client.post(
        url, {"first_date": first.isoformat(), "action": "book", "previewed": first.isoformat(), **pins}
    )

    assert booked.status_code == 302 and booked.url == url
    series.refresh_from_db()
    assert (series.status, series.created_by) == (SeriesStatus.ACTIVE, desk_user)
    sessions = list(series.appointments.order_by("session_number"))
    assert [a.local_start().date() for a in sessions] == [first + timedelta(days=14 * k) for k in range(6)]
    assert {(a.status, a.created_by) for a in sessions} == {(Status.BOOKED, alice_user)}
    page = client.get(url).content.decode()
    assert "Session 6 of 6" in page and "6 sessions booked." in page


def nothing_booked(series):
    return not series.appointments.exists()


def test_a_patient_sees_only_alternatives_with_their_own_provider(client, clinic, alice_user, desk_user, frozen):
    series = prescription(clinic, desk_user)
    dr_alvarez_away(clinic, MONDAY + timedelta(days=14))
    sign_in(client, alice_user)

    response = client.post(
        reverse("booking:my_series", args=[series.pk]), {"first_date": MONDAY.isoformat(), "action": "preview"}
    )

    second = response.context["preview"]["rows"][1]
    assert second.status == "needs-choice" and second.alternatives
    assert {a.provider for a in second.alternatives} == {"Maria Alvarez, MD"}


def test_a_patient_cannot_book_a_prescription_twice(client, clinic, alice_user, desk_user, frozen):
    series = prescription(clinic, desk_user)
    services.cancel_series_remaining(series=series, by=desk_user, reason="changed plan")
    sign_in(client, alice_user)

    response = client.post(
        reverse("booking:my_series", args=[series.pk]), {"first_date": MONDAY.isoformat(), "action": "preview"}
    )

    assert response.status_code == 409 and "already booked or closed" in response.content.decode()


def test_a_first_date_in_the_past_is_refused_on_the_patient_page(client, clinic, alice_user, desk_user, frozen):
    series = prescription(clinic, desk_user)
    sign_in(client, alice_user)

    response = client.post(reverse("booking:my_series", args=[series.pk]), {"first_date": "2026-11-30"})

    assert response.status_code == 422 and "Choose a date from today on." in response.content.decode()


# --- who sees what ------------------------------------------------------------------------------


def test_a_patient_gets_404_on_desk_pages_and_on_another_patients_series(client, clinic, alice_user, desk_user, frozen):
    bobs = prescription(clinic, desk_user, patient=clinic.bob)
    sign_in(client, alice_user)

    desk_pages = [
        reverse("booking:desk_home"),
        reverse("booking:desk_patient", args=[clinic.alice.pk]),
        new_series_url(clinic),
        reverse("booking:desk_series", args=[bobs.pk]),
    ]
    assert [client.get(url).status_code for url in desk_pages] == [404] * 4
    assert client.post(new_series_url(clinic), series_data(clinic)).status_code == 404
    assert client.post(reverse("booking:desk_series_complete", args=[bobs.pk])).status_code == 404
    assert client.get(reverse("booking:my_series", args=[bobs.pk])).status_code == 404
    booking = {"first_date": MONDAY.isoformat(), "action": "book"}
    assert client.post(reverse("booking:my_series", args=[bobs.pk]), booking).status_code == 404
    assert nothing_booked(bobs)


def test_staff_without_a_patient_record_get_404_on_patient_pages(desk, clinic, desk_user):
    series = prescription(clinic, desk_user)
    assert desk.get(reverse("booking:my_series", args=[series.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, clinic):
    response = client.get(new_series_url(clinic))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- the desk's series page and its operations ------------------------------------------------


@pytest.fixture
def booked(clinic, desk_user):
    return services.book_series(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        sessions=6,
        gap_days=14,
        tolerance_days=2,
        taper_days=[],
        preferred_time=time(9),
        first_date=MONDAY,
        by=desk_user,
        policy=STAFF_POLICY,
        now=NOW,
    )


def test_the_series_page_lists_session_k_of_n(desk, booked):
    html = desk.get(reverse("booking:desk_series", args=[booked.pk])).content.decode()
    assert all(f"Session {k} of 6" in html for k in range(1, 7))


def test_the_patient_page_shows_session_k_of_n_on_appointments(desk, clinic, booked):
    html = desk.get(reverse("booking:desk_patient", args=[clinic.alice.pk])).content.decode()
    assert "(session 6 of 6)" in html


def test_cancel_remaining_needs_a_reason_and_stops_the_series(desk, booked):
    url = reverse("booking:desk_series_cancel", args=[booked.pk])
    assert desk.post(url, {"cancel-reason": ""}).status_code == 422

    response = desk.post(url, {"cancel-reason": "moving away"})

    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.status == SeriesStatus.STOPPED
    assert set(booked.appointments.values_list("status", flat=True)) == {Status.CANCELLED}


def test_extend_previews_then_books_more_sessions(desk, booked):
    url = reverse("booking:desk_series_extend", args=[booked.pk])
    previewed = desk.post(url, {"extend-sessions": 2, "action": "preview"})
    assert previewed.status_code == 200
    rows = previewed.context["extend_preview"]["rows"]
    assert [r.label for r in rows] == ["Session 7 of 8", "Session 8 of 8"]

    response = desk.post(url, {"extend-sessions": 2, "action": "extend", **{f"pin_{r.number}": r.pin for r in rows}})

    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.sessions_planned == 8 and booked.appointments.count() == 8


def test_complete_moves_the_patient_to_maintenance(desk, booked):
    response = desk.post(reverse("booking:desk_series_complete", args=[booked.pk]))

    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.status == SeriesStatus.COMPLETED
    again = desk.post(reverse("booking:desk_series_complete", args=[booked.pk]))
    assert again.status_code == 409 and "This series is completed" in again.content.decode()


def test_moving_a_session_can_re_plan_the_later_ones(desk, clinic, booked):
    url = reverse("booking:desk_series_move", args=[booked.pk])
    tuesday = SIX_MONDAYS[1] + timedelta(days=1)
    move = {"move-session_number": 2, "move-date": tuesday.isoformat(), "move-time": "10:00", "move-replan_later": "on"}

    previewed = desk.post(url, {**move, "action": "preview"})
    assert previewed.status_code == 200
    assert [r.number for r in previewed.context["move_preview"]["rows"]] == [2, 3, 4, 5, 6]
    assert booked.appointments.get(session_number=2).local_start().date() == SIX_MONDAYS[1]

    response = desk.post(url, {**move, "action": "move"})

    assert response.status_code == 302
    starts = {a.session_number: a.local_start() for a in booked.appointments.all()}
    assert starts[2].date() == tuesday and starts[2].time() == time(10)
    assert starts[3].date() == tuesday + timedelta(days=14)


def test_moving_to_a_time_taken_is_a_409_with_free_times_nearby(desk, clinic, booked):
    taken = services.book_appointment(
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(SIX_MONDAYS[1] + timedelta(days=1), 10),
        by=None,
        now=NOW,
    )
    day = taken.local_start().date().isoformat()
    move = {"move-session_number": 2, "move-date": day, "move-time": "10:00", "action": "move"}

    response = desk.post(reverse("booking:desk_series_move", args=[booked.pk]), move)

    assert response.status_code == 409
    assert response.context["move_alternatives"]
    assert booked.appointments.get(session_number=2).start == clinic.at(SIX_MONDAYS[1], 9).astimezone(UTC)


def test_a_local_time_the_clocks_skip_is_refused_when_moving(desk, clinic, booked):
    move = {"move-session_number": 6, "move-date": "2027-03-14", "move-time": "02:30", "action": "move"}

    response = desk.post(reverse("booking:desk_series_move", args=[booked.pk]), move)

    assert response.status_code == 422 and "the clocks go forward" in response.content.decode()


def test_a_first_date_years_away_is_a_422_not_a_500(desk, clinic):
    response = preview(desk, clinic, first_date="9999-12-01", sessions=52, gap_days=90)

    assert response.status_code == 422 and "within 3 years" in response.content.decode()


def test_the_patients_list_offers_the_prescription_and_shows_the_next_session(
    client, clinic, alice_user, desk_user, booked, frozen
):
    prescription(clinic, desk_user, sessions=4)
    sign_in(client, alice_user)

    html = client.get(reverse("booking:my_series_list")).content.decode()

    assert "Choose your dates" in html
    assert "Next: Session 1 of 6, Mon 7 Dec 2026, 09:00 EST" in html
    assert 'href="/my/series/"' in html  # the menu's link for patients


def test_the_menu_offers_the_front_desk_to_staff_only(desk, client, clinic):
    assert 'href="/desk/"' in desk.get(reverse("home")).content.decode()
    desk.logout()
    assert 'href="/desk/"' not in client.get(reverse("home")).content.decode()
