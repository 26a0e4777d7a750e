"""Booking a treatment series: all sessions or none, and the operations on a booked series.

The shared clinic (tests/conftest.py): New York, two providers Monday to Friday 08:00-12:00 and
13:00-17:00, two rooms, a 30-minute TPI session. Six sessions two weeks apart from Monday
7 December 2026 at 09:00 all fall on Mondays with nothing in their way.
"""

import json
import secrets
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from booking import services
from booking.errors import BookingError, InvalidTransition, SeriesClash, SeriesNeedsChoice
from booking.models import Appointment, AppointmentEvent, EventAction, Series, SeriesStatus, Status
from booking.scheduling import series as series_planner
from booking.scheduling.availability import STAFF_POLICY
from booking.scheduling.series import SessionChoice, SessionStatus
from clinic.api import hash_token
from clinic.models import ApiToken, Closure
from tests.conftest import MONDAY, NOW
from tests.factories import sign_in

pytestmark = pytest.mark.django_db

SIX_MONDAYS = [MONDAY + timedelta(days=14 * k) for k in range(6)]


def series_rules(clinic, **overrides):
    values = {
        "provider": clinic.dr_alvarez,
        "visit_type": clinic.tpi,
        "location": clinic.location,
        "sessions": 6,
        "gap_days": 14,
        "tolerance_days": 2,
        "taper_days": [],
        "preferred_time": time(9),
        "first_date": MONDAY,
        "policy": STAFF_POLICY,
        "now": NOW,
    }
    values.update(overrides)
    return values


def book_series(clinic, by=None, **overrides):
    return services.book_series(patient=clinic.alice, by=by, **series_rules(clinic, **overrides))


def sessions_of(series):
    return list(series.appointments.order_by("session_number"))


def local_starts(clinic, appointments):
    return [timezone_local(clinic, a.start) for a in appointments]


def timezone_local(clinic, instant):
    return instant.astimezone(clinic.location.tz).replace(tzinfo=None)


# --- booking ------------------------------------------------------------------------------------


def test_booking_a_six_session_series_creates_six_appointments_numbered_1_to_6(clinic, desk_user):
    series = book_series(clinic, by=desk_user)

    assert series.status == SeriesStatus.ACTIVE
    appointments = sessions_of(series)
    assert [a.session_number for a in appointments] == [1, 2, 3, 4, 5, 6]
    assert local_starts(clinic, appointments) == [datetime.combine(d, time(9)) for d in SIX_MONDAYS]
    assert {(a.status, a.provider_id, a.patient_id) for a in appointments} == {
        (Status.BOOKED, clinic.dr_alvarez.pk, clinic.alice.pk)
    }
    assert all(a.room_id is not None for a in appointments)
    events = AppointmentEvent.objects.filter(appointment__series=series)
    assert [(e.action, e.by) for e in events] == [(EventAction.BOOKED, desk_user)] * 6
    assert events.filter(reason="series session 6 of 6").count() == 1


def test_planning_writes_nothing_and_reads_a_constant_number_of_queries(clinic):
    with CaptureQueriesContext(connection) as six:
        plan = services.plan_series(**series_rules(clinic))
    with CaptureQueriesContext(connection) as twenty:
        services.plan_series(**series_rules(clinic, sessions=20))

    assert [s.status for s in plan] == [SessionStatus.FITS] * 6
    assert len(six) == len(twenty)
    assert not [q for q in six.captured_queries if not q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
    assert Series.objects.count() == 0 and Appointment.objects.count() == 0


def test_a_clash_on_session_5_at_commit_leaves_no_series_and_no_sessions(clinic, monkeypatch):
    real_plan = series_planner.plan
    taken = []

    def plan_then_someone_books_session_5(*args, **kwargs):
        planned = real_plan(*args, **kwargs)
        if not taken:  # between planning and booking, another patient takes session 5's time
            taken.append(
                services.book_appointment(
                    patient=clinic.bob,
                    provider=clinic.dr_alvarez,
                    visit_type=clinic.tpi,
                    location=clinic.location,
                    start=planned[4].start,
                    by=None,
                    now=NOW,
                )
            )
        return planned

    monkeypatch.setattr(series_planner, "plan", plan_then_someone_books_session_5)

    with pytest.raises(SeriesClash) as caught:
        book_series(clinic)

    clash = caught.value
    assert (clash.status, clash.code, clash.session_number) == (409, "slot_taken", 5)
    assert Series.objects.count() == 0
    assert list(Appointment.objects.all()) == taken  # sessions 1-4 were inserted, then rolled back
    assert AppointmentEvent.objects.count() == 1
    # The plan comes back, made again from the calendar as it is now, with session 5 marked.
    marked = [s for s in clash.plan["sessions"] if s["clash"]]
    assert [s["session_number"] for s in marked] == [5]
    assert marked[0]["start"] is not None and marked[0]["start"] != taken[0].start.isoformat()
    assert clash.as_dict()["plan"]["bookable"] is True


def test_pinned_times_from_a_preview_that_were_taken_since_are_a_409_with_the_clash_marked(clinic):
    preview = services.plan_series(**series_rules(clinic))
    pins = {s.number: SessionChoice(s.start) for s in preview}
    services.book_appointment(
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=preview[4].start,
        by=None,
        now=NOW,
    )

    with pytest.raises(SeriesClash) as caught:
        book_series(clinic, choices=pins)

    assert caught.value.session_number == 5
    assert Series.objects.count() == 0 and Appointment.objects.filter(patient=clinic.alice).count() == 0


def test_a_session_with_no_time_inside_its_tolerance_needs_a_choice_and_nothing_is_booked(clinic):
    third = SIX_MONDAYS[2]
    Closure.objects.create(
        location=clinic.location, start_date=third - timedelta(days=2), end_date=third + timedelta(days=2), reason="x"
    )

    with pytest.raises(SeriesNeedsChoice) as caught:
        book_series(clinic)

    error = caught.value
    assert (error.status, error.code) == (422, "needs_choice")
    statuses = [s["status"] for s in error.plan["sessions"]]
    assert statuses == ["fits", "fits", "needs_choice", "fits", "fits", "fits"]
    assert Series.objects.count() == 0 and Appointment.objects.count() == 0

    # The desk picks the nearest date after the tolerance; later sessions count from it.
    later = next(a for a in error.plan["sessions"][2]["alternatives"] if a["day_offset"] > 0)
    series = book_series(clinic, choices={3: datetime.fromisoformat(later["start"])})
    starts = local_starts(clinic, sessions_of(series))
    assert starts[2] == datetime.combine(third + timedelta(days=3), time(9))
    assert starts[3] == datetime.combine(third + timedelta(days=17), time(9))


def test_a_closure_inside_the_tolerance_moves_the_session_to_the_nearest_open_day(clinic):
    Closure.objects.create(location=clinic.location, start_date=SIX_MONDAYS[1], end_date=SIX_MONDAYS[1], reason="x")

    series = book_series(clinic, sessions=3)

    assert [timezone_local(clinic, a.start).date() for a in sessions_of(series)] == [
        SIX_MONDAYS[0],
        SIX_MONDAYS[1] + timedelta(days=1),
        SIX_MONDAYS[1] + timedelta(days=15),
    ]


def test_out_of_range_rules_are_refused(clinic):
    with pytest.raises(BookingError) as caught:
        services.plan_series(**series_rules(clinic, sessions=53))
    assert caught.value.code == "invalid_series"


# --- operations on a booked series -------------------------------------------------------------


def test_cancel_remaining_cancels_future_sessions_and_stops_the_series(clinic, desk_user):
    series = book_series(clinic)
    after_session_2 = datetime.combine(SIX_MONDAYS[1], time(12), tzinfo=clinic.location.tz).astimezone(UTC)

    stopped = services.cancel_series_remaining(series=series, by=desk_user, reason="moved away", now=after_session_2)

    assert stopped.status == SeriesStatus.STOPPED
    assert [a.status for a in sessions_of(series)] == [Status.BOOKED] * 2 + [Status.CANCELLED] * 4
    cancelled = AppointmentEvent.objects.filter(action=EventAction.CANCELLED)
    assert cancelled.count() == 4 and {(e.by, e.reason) for e in cancelled} == {(desk_user, "moved away")}
    with pytest.raises(InvalidTransition):
        services.cancel_series_remaining(series=series, by=desk_user, reason="again", now=after_session_2)


def test_extend_books_more_sessions_after_the_last_one_with_the_taper(clinic):
    series = book_series(clinic, sessions=3, taper_days=[14, 21])

    extended = services.extend_series(series=series, sessions=2, by=None, policy=STAFF_POLICY, now=NOW)

    assert extended.sessions_planned == 5
    days = [timezone_local(clinic, a.start).date() for a in sessions_of(series)]
    assert [(b - a).days for a, b in zip(days, days[1:], strict=False)] == [14, 21, 21, 21]
    assert [a.session_number for a in sessions_of(series)] == [1, 2, 3, 4, 5]


def test_complete_moves_to_maintenance_cancels_what_is_left_and_allows_no_more_bookings(clinic, desk_user):
    series = book_series(clinic, sessions=3)
    after_session_1 = datetime.combine(MONDAY, time(12), tzinfo=clinic.location.tz)

    completed = services.complete_series(series=series, by=desk_user, now=after_session_1)

    assert completed.status == SeriesStatus.COMPLETED
    assert [a.status for a in sessions_of(series)] == [Status.BOOKED, Status.CANCELLED, Status.CANCELLED]
    with pytest.raises(InvalidTransition):
        services.extend_series(series=series, sessions=1, by=desk_user, policy=STAFF_POLICY, now=after_session_1)


def test_moving_a_session_can_re_plan_the_later_ones_from_its_new_date(clinic, desk_user):
    series = book_series(clinic, sessions=4)
    ids = [a.pk for a in sessions_of(series)]
    thursday = clinic.at(SIX_MONDAYS[1] + timedelta(days=3), 10)

    preview = services.preview_series_move(
        series=series, session_number=2, start=thursday, replan_later=True, policy=STAFF_POLICY, now=NOW
    )
    assert [s.status for s in preview] == ["chosen", "fits", "fits"]
    assert [timezone_local(clinic, a.start) for a in sessions_of(series)][1].date() == SIX_MONDAYS[1]  # untouched

    services.move_series_session(
        series=series, session_number=2, start=thursday, replan_later=True, by=desk_user, policy=STAFF_POLICY, now=NOW
    )

    moved = sessions_of(series)
    assert [a.pk for a in moved] == ids
    assert local_starts(clinic, moved)[1:] == [
        datetime(2026, 12, 24, 10),
        datetime(2027, 1, 7, 9),
        datetime(2027, 1, 21, 9),
    ]
    assert {a.status for a in moved} == {Status.BOOKED}
    assert AppointmentEvent.objects.filter(action=EventAction.MOVED).count() == 3


def test_moving_one_session_alone_leaves_the_others(clinic):
    series = book_series(clinic, sessions=3)
    before = local_starts(clinic, sessions_of(series))

    services.move_series_session(
        series=series, session_number=2, start=clinic.at(SIX_MONDAYS[1], 11), by=None, policy=STAFF_POLICY, now=NOW
    )

    after = local_starts(clinic, sessions_of(series))
    assert after == [before[0], datetime.combine(SIX_MONDAYS[1], time(11)), before[2]]


# --- the API -------------------------------------------------------------------------------------


@pytest.fixture
def staff_api(desk_user, frozen) -> Client:
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=desk_user, token_hash=hash_token(token))
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def series_body(clinic, **overrides):
    body = {
        "patient": clinic.alice.pk,
        "provider": clinic.dr_alvarez.pk,
        "visit_type": "tpi-session",
        "location": clinic.location.pk,
        "sessions": 6,
        "gap_days": 14,
        "tolerance_days": 2,
        "preferred_time": "09:00",
        "first_date": MONDAY.isoformat(),
    }
    body.update(overrides)
    return body


def test_api_dry_run_returns_the_preview_and_writes_nothing(clinic, staff_api):
    response = post(staff_api, "/api/v1/series?dry_run=1", series_body(clinic))

    assert response.status_code == 200, response.content
    preview = response.json()
    assert preview["timezone"] == "America/New_York" and preview["bookable"] is True
    assert [(s["session_number"], s["status"], s["start"]) for s in preview["sessions"]][:2] == [
        (1, "fits", "2026-12-07T09:00:00-05:00"),
        (2, "fits", "2026-12-21T09:00:00-05:00"),
    ]
    assert Series.objects.count() == 0 and Appointment.objects.count() == 0


def test_api_books_a_series_and_shows_session_k_of_n(clinic, staff_api, alice_user, bob_user):
    response = post(staff_api, "/api/v1/series", series_body(clinic))

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["preferred_time"], len(body["appointments"])) == ("active", "09:00", 6)
    assert body["appointments"][2]["session_label"] == "session 3 of 6"
    appointment = Appointment.objects.get(series_id=body["id"], session_number=4)
    single = staff_api.get(f"/api/v1/appointments/{appointment.pk}").json()
    assert single["session_label"] == "session 4 of 6"

    alice, bob = Client(), Client()
    sign_in(alice, alice_user)
    sign_in(bob, bob_user)
    assert alice.get(f"/api/v1/series/{body['id']}").status_code == 200
    assert bob.get(f"/api/v1/series/{body['id']}").status_code == 404
    assert post(alice, f"/api/v1/series/{body['id']}/complete", {}).status_code == 404


def test_api_needs_choice_is_a_422_with_the_plan(clinic, staff_api):
    third = SIX_MONDAYS[2]
    Closure.objects.create(
        location=clinic.location, start_date=third - timedelta(days=2), end_date=third + timedelta(days=2), reason="x"
    )

    response = post(staff_api, "/api/v1/series", series_body(clinic))

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "needs_choice" and body["plan"]["sessions"][2]["status"] == "needs_choice"
    assert Series.objects.count() == 0


def test_api_booking_a_previewed_plan_whose_time_was_taken_is_a_409_with_the_plan(clinic, staff_api):
    preview = post(staff_api, "/api/v1/series?dry_run=1", series_body(clinic)).json()
    pins = {str(s["session_number"]): s["start"] for s in preview["sessions"]}
    pins["2"] = {"start": "2026-12-21T09:00:00-05:00", "provider": clinic.dr_chen.pk}
    services.book_appointment(
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=datetime.fromisoformat(preview["sessions"][4]["start"]),
        by=None,
    )

    response = post(staff_api, "/api/v1/series", series_body(clinic, choices=pins))

    assert response.status_code == 409, response.content
    body = response.json()
    assert (body["error"], body["session_number"]) == ("slot_taken", 5)
    sessions = body["plan"]["sessions"]
    assert [s["session_number"] for s in sessions if s["clash"]] == [5]
    assert (sessions[1]["provider"], sessions[1]["status"]) == (clinic.dr_chen.pk, "chosen")
    assert body["alternatives"][0]["kind"] == "within_tolerance"
    assert Series.objects.count() == 0 and Appointment.objects.filter(patient=clinic.alice).count() == 0


def test_api_operations_on_a_series(clinic, staff_api):
    series_id = post(staff_api, "/api/v1/series", series_body(clinic, sessions=3)).json()["id"]

    preview = post(staff_api, f"/api/v1/series/{series_id}/extend?dry_run=1", {"sessions": 2})
    assert preview.status_code == 200 and [s["session_number"] for s in preview.json()["sessions"]] == [4, 5]
    assert Appointment.objects.filter(series_id=series_id).count() == 3

    extended = post(staff_api, f"/api/v1/series/{series_id}/extend", {"sessions": 2})
    assert extended.status_code == 200 and extended.json()["sessions_planned"] == 5

    moved = post(
        staff_api,
        f"/api/v1/series/{series_id}/sessions/2/move",
        {"start": "2026-12-22T10:00:00-05:00", "replan_later": True},
    )
    assert moved.status_code == 200, moved.content
    starts = [a["start"] for a in moved.json()["appointments"]]
    assert starts[1:3] == ["2026-12-22T10:00:00-05:00", "2027-01-05T09:00:00-05:00"]

    stopped = post(staff_api, f"/api/v1/series/{series_id}/cancel-remaining", {"reason": "feels better"})
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    again = post(staff_api, f"/api/v1/series/{series_id}/complete", {})
    assert again.status_code == 409 and again.json()["error"] == "invalid_status"


def test_api_series_is_staff_only_to_create(clinic, alice_user, frozen):
    alice = Client()
    sign_in(alice, alice_user)

    assert post(alice, "/api/v1/series?dry_run=1", series_body(clinic)).status_code == 404


def test_first_date_in_the_past_is_not_booked_silently(clinic):
    plan = services.plan_series(**series_rules(clinic, first_date=date(2026, 12, 1), sessions=2, tolerance_days=0))

    assert [s.status for s in plan] == [SessionStatus.NEEDS_CHOICE, SessionStatus.FITS]
