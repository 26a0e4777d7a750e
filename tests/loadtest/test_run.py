"""`make loadtest` itself takes minutes; these check its parts quickly: the locustfile loads, and the
oracles that judge a run (overlaps, duplicated sends, locust's CSV, the stampede verdict) are right."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from booking.models import Appointment, Status
from loadtest.run import (
    count_overlaps,
    gateway_sends,
    percentile,
    read_locust_stats,
    scenario_figures,
    server_side_booking_ms,
    stampede_problems,
)
from tests.conftest import MONDAY

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = 'patient_id, provider_id, location_id, visit_type_id, room_id, start, "end", block_start, block_end, status'


def test_the_locustfile_loads_and_offers_its_three_users():
    locust = Path(sys.executable).parent / "locust"
    result = subprocess.run(
        [str(locust), "-f", "loadtest/locustfile.py", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert {"PatientUser", "DeskUser", "StampedeUser"} <= set(result.stdout.split())


def _rows(clinic, table, rows):
    """Insert raw rows (start hour, end hour, provider, room, status) into `table`."""
    with connection.cursor() as cursor:
        for start_hour, end_hour, provider, room, status in rows:
            start, end = clinic.at(MONDAY, start_hour), clinic.at(MONDAY, end_hour)
            cursor.execute(
                f"INSERT INTO {table} (id, {COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                [
                    len(rows) * 1000 + start_hour * 10 + provider.pk,
                    clinic.alice.pk,
                    provider.pk,
                    clinic.location.pk,
                    clinic.tpi.pk,
                    room.pk if room else None,
                    start,
                    end,
                    start,
                    end,
                    status,
                ],
            )


@pytest.fixture
def unconstrained_copy(clinic):
    """booking_appointment's columns without its constraints: the only way to store an overlap."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE lt_appointment AS SELECT * FROM booking_appointment WHERE 1 = 0")
    yield "lt_appointment"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE lt_appointment")


def test_the_overlap_oracle_counts_pairs_per_provider_and_per_room(clinic, unconstrained_copy):
    room_1, room_2 = clinic.rooms
    alvarez, chen = clinic.dr_alvarez, clinic.dr_chen
    _rows(
        clinic,
        unconstrained_copy,
        [
            (9, 11, alvarez, room_1, Status.BOOKED),
            (10, 12, alvarez, room_2, Status.CHECKED_IN),  # overlaps the first: same provider
            (10, 11, chen, room_1, Status.HELD),  # overlaps the first: same room
            (11, 12, chen, None, Status.BOOKED),  # touches the one before: no overlap
            (9, 12, chen, room_2, Status.CANCELLED),  # cancelled: takes no time
        ],
    )
    assert count_overlaps(connection, unconstrained_copy) == {"provider": 1, "room": 1}


def test_the_overlap_oracle_finds_none_in_a_calendar_booked_by_the_rules(clinic):
    for hour, provider in ((9, clinic.dr_alvarez), (10, clinic.dr_alvarez), (9, clinic.dr_chen)):
        start = clinic.at(MONDAY, hour)
        Appointment.objects.create(
            patient=clinic.alice if provider == clinic.dr_alvarez else clinic.bob,
            provider=provider,
            location=clinic.location,
            visit_type=clinic.tpi,
            start=start,
            end=start + timedelta(minutes=30),
            block_start=start,
            block_end=start + timedelta(minutes=30),
            status=Status.BOOKED,
        )
    assert count_overlaps(connection) == {"provider": 0, "room": 0}


def test_duplicate_sends_are_counted_per_idempotency_key_across_both_gateways():
    sms_log = (
        "--- 2026-12-01T09:00:00+00:00 to +14235550101 [reminder-1]\nSee you Monday.\n\n"
        "--- 2026-12-01T09:00:01+00:00 to +14235550102 [reminder-2]\nSee you Tuesday.\n\n"
        "--- 2026-12-01T09:00:02+00:00 to +14235550101 [reminder-1]\nSee you Monday.\n\n"
    )
    email = "Subject: Your visit\nX-Idempotency-Key: reminder-3\nMessage-ID: <reminder-3@clinic>\n\nHello\n"
    sends = gateway_sends(sms_log, [email, "X-Idempotency-Key: reminder-4-2\n"])
    assert sends == {"reminder-1": 2, "reminder-2": 1, "reminder-3": 1, "reminder-4-2": 1}


def test_locust_csv_is_read_into_numbers_and_figures(tmp_path):
    csv_path = tmp_path / "s_stats.csv"
    header = (
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
        "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
        "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
    )
    csv_path.write_text(
        f"{header}\n"
        "POST,book,1200,0,20,25,10,300,300,20,0,20,22,25,27,40,60,80,95,200,300,300\n"
        "GET,availability 1 provider,1800,0,9,12,5,200,13000,30,0,9,10,11,12,20,30,40,50,90,200,200\n"
        "GET,day view,600,2,15,18,8,250,4000,10,0,15,16,17,18,25,35,45,60,120,250,250\n"
        ",Aggregated,3600,2,12,15,5,300,5000,60,0,12,14,15,16,25,40,60,80,150,300,300\n"
    )
    stats = read_locust_stats(csv_path)
    assert stats["book"]["95%"] == 60.0
    figures = scenario_figures(stats, {"measured_seconds": 60.0, "book_status": {"201": 1190, "409": 10}})
    assert figures["bookings_per_s"] == 20.0
    assert figures["reads_per_s"] == 40.0
    assert figures["book_p95_ms"] == 60.0
    assert figures["failures"] == 2  # the Aggregated row is not counted twice


def test_server_side_booking_times_come_from_the_json_access_log_inside_the_window():
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def line(seconds, method, path, ms):
        ts = (at + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
        return json.dumps({"ts": ts, "method": method, "path": path, "status": 201, "duration_ms": ms})

    log = "\n".join(
        [
            line(-5, "POST", "/api/v1/appointments", 900.0),  # before the window
            *(line(1 + n, "POST", "/api/v1/appointments", 10.0 + n) for n in range(20)),
            line(2, "GET", "/api/v1/availability", 500.0),
            "not json",
        ]
    )
    times = server_side_booking_ms([log], at.timestamp(), (at + timedelta(seconds=60)).timestamp())
    assert times == {"p50": 19.0, "p95": 28.0, "p99": 29.0, "count": 20}
    assert percentile([], 0.5) is None


@pytest.mark.parametrize(
    ("outcome", "in_db", "problems"),
    [
        ({"winners": 8, "losers_409_with_alternatives": 92}, 8, 0),
        ({"winners": 9, "losers_409_with_alternatives": 91}, 9, 2),
        ({"winners": 8, "losers_409_with_alternatives": 90, "server_errors": 2}, 8, 1),
        ({"winners": 8, "losers_409_with_alternatives": 91, "losers_409_without_alternatives": 1}, 8, 1),
    ],
)
def test_the_stampede_verdict_wants_8_winners_and_only_409s_with_alternatives(outcome, in_db, problems):
    assert len(stampede_problems(outcome, users=100, slots=8, booked_in_db=in_db)) == problems
