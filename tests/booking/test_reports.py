"""Reports: the numbers on a small hand-built week, the roles, and the CSV export.

The week of Monday 7 December 2026 in New York; the clinic is closed on Wednesday 9 December.
Dr Alvarez works 8 h a day (08–12, 13–17) and takes Thursday 13:00–15:00 off; Dr Chen works the
same hours. The report is read on Saturday 12 December.
"""

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse

from booking import services
from booking.reports.build import Interval, build_report, working_seconds
from booking.scheduling.availability import STAFF_POLICY
from clinic.models import Closure, TimeOff
from tests.conftest import MONDAY
from tests.factories import sign_in
from tests.patients.conftest import book_visit

pytestmark = pytest.mark.django_db

FRIDAY = MONDAY + timedelta(days=4)
SATURDAY_NOON = datetime(2026, 12, 12, 17, 0, tzinfo=UTC)


@pytest.fixture
def week(clinic):
    at = clinic.at
    Closure.objects.create(
        location=clinic.location, start_date=date(2026, 12, 9), end_date=date(2026, 12, 9), reason="Training"
    )
    TimeOff.objects.create(
        provider=clinic.dr_alvarez, start=at(MONDAY + timedelta(days=3), 13), end=at(MONDAY + timedelta(days=3), 15)
    )
    done = book_visit(clinic, at(MONDAY, 9))
    services.complete_appointment(appointment=done, by=None, now=at(MONDAY, 9, 30))
    missed = book_visit(clinic, at(MONDAY, 10), patient=clinic.bob)
    services.mark_no_show(appointment=missed, by=None, now=at(MONDAY, 10, 20))
    evaluation = book_visit(clinic, at(MONDAY, 11), visit_type=clinic.evaluation)
    services.complete_appointment(appointment=evaluation, by=None, now=at(MONDAY, 11, 50))
    book_visit(clinic, at(MONDAY + timedelta(days=1), 9))  # booked, never marked
    early = book_visit(clinic, at(MONDAY + timedelta(days=1), 10))
    services.cancel_appointment(appointment=early, by=None, reason="trip", now=early.start - timedelta(days=2))
    late = book_visit(clinic, at(FRIDAY, 9))
    services.cancel_appointment(appointment=late, by=None, reason="ill", now=late.start - timedelta(hours=3))
    # Dr Chen: a two-session series for Bob; the first session is done, then the series is completed.
    series = services.book_series(
        patient=clinic.bob,
        provider=clinic.dr_chen,
        visit_type=clinic.tpi,
        location=clinic.location,
        sessions=2,
        gap_days=14,
        tolerance_days=2,
        taper_days=[],
        preferred_time=time(14),
        first_date=MONDAY,
        by=None,
        policy=STAFF_POLICY,
        now=at(MONDAY, 8) - timedelta(days=20),
    )
    first = series.appointments.order_by("start").first()
    services.complete_appointment(appointment=first, by=None, now=at(MONDAY, 14, 30))
    services.complete_series(series=series, by=None, now=at(MONDAY, 15))
    return clinic


def test_the_numbers_of_a_hand_built_week(week):
    chen, alvarez = build_report(MONDAY, FRIDAY, now=SATURDAY_NOON)  # by name
    assert (alvarez.provider, chen.provider) == (week.dr_alvarez, week.dr_chen)
    # 4 open days × 8 h, minus 2 h off on Thursday.
    assert alvarez.working_hours == 30
    # 30 + 30 (no-show) + 45 (evaluation) + 30 (booked) minutes.
    assert alvarez.booked_hours == 2.25
    assert alvarez.utilisation == pytest.approx(0.075)
    assert (alvarez.due, alvarez.no_shows) == (4, 1)
    assert alvarez.no_show_rate == 0.25
    assert (alvarez.visits, alvarez.late_cancellations) == (6, 1)
    assert alvarez.late_cancellation_rate == pytest.approx(1 / 6)
    assert (alvarez.series_started, alvarez.series_completed) == (0, 0)
    assert chen.working_hours == 32
    assert chen.booked_hours == 0.5
    assert (chen.series_started, chen.series_completed) == (1, 1)
    assert (chen.visits, chen.no_shows, chen.late_cancellations) == (1, 0, 0)


def test_late_means_inside_the_locations_own_cutoff(week):
    # The Friday visit was cancelled 3 hours before; the Tuesday one 2 days before.
    week.location.patient_change_cutoff_hours = 2
    week.location.save(update_fields=["patient_change_cutoff_hours"])
    assert build_report(MONDAY, FRIDAY, now=SATURDAY_NOON)[1].late_cancellations == 0
    week.location.patient_change_cutoff_hours = 72
    week.location.save(update_fields=["patient_change_cutoff_hours"])
    assert build_report(MONDAY, FRIDAY, now=SATURDAY_NOON)[1].late_cancellations == 2


def test_a_period_outside_the_visits_counts_hours_only(week):
    (chen, alvarez) = build_report(date(2026, 12, 14), date(2026, 12, 14), now=SATURDAY_NOON)
    assert alvarez.working_hours == 8 and alvarez.visits == 0
    assert alvarez.utilisation == 0 and alvarez.no_show_rate is None


def test_working_hours_are_local_wall_time_across_the_dst_change():
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    sunday = date(2026, 11, 1)  # clocks go back at 02:00
    ranges = {sunday.weekday(): [(time(0), time(4)), (time(8), time(12))]}
    # 00:00–04:00 local lasts five hours that night; 08:00–12:00 four.
    assert working_seconds([sunday], ranges, set(), [], new_york) == 9 * 3600
    off = Interval(datetime(2026, 11, 1, 9, tzinfo=new_york), datetime(2026, 11, 1, 10, tzinfo=new_york))
    assert working_seconds([sunday], ranges, set(), [off], new_york) == 8 * 3600
    assert working_seconds([sunday], ranges, {sunday}, [], new_york) == 0


def test_csv_has_the_same_numbers(client, week, admin_user, frozen):
    frozen.move_to(SATURDAY_NOON)
    sign_in(client, admin_user)
    response = client.get(reverse("booking:reports"), {"start": MONDAY, "end": FRIDAY, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    header, chen, alvarez = list(csv.reader(io.StringIO(response.content.decode())))
    assert header[:5] == ["Location", "Provider", "Working hours", "Booked hours", "Utilisation %"]
    assert alvarez[1:] == ["Maria Alvarez", "30.00", "2.25", "7.5", "4", "1", "25.0", "6", "1", "16.7", "0", "0"]
    assert chen[1:] == ["David Chen", "32.00", "0.50", "1.6", "1", "0", "0.0", "1", "0", "0.0", "1", "1"]


def test_the_page_shows_the_table(client, week, admin_user, frozen):
    frozen.move_to(SATURDAY_NOON)
    sign_in(client, admin_user)
    response = client.get(reverse("booking:reports"), {"start": MONDAY, "end": FRIDAY})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Maria Alvarez" in page and "7.5" in page and "Download CSV" in page


def test_a_reversed_period_is_400_with_the_field_error(client, clinic, admin_user):
    sign_in(client, admin_user)
    response = client.get(reverse("booking:reports"), {"start": FRIDAY, "end": MONDAY})
    assert response.status_code == 400
    assert "must not be before" in response.content.decode()


def test_only_clinic_admins_see_reports(client, clinic, desk_user, alice_user):
    from tests.factories import make_provider_login

    provider_user = make_provider_login(clinic.dr_alvarez, "alvarez")
    for user in (desk_user, alice_user, provider_user):
        sign_in(client, user)
        assert client.get(reverse("booking:reports")).status_code == 404
        assert client.get(reverse("booking:reports"), {"format": "csv"}).status_code == 404
