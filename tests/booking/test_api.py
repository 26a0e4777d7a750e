"""The JSON API through the HTTP boundary: status codes, bodies and the database afterwards."""

import json
import secrets

import pytest
from django.core.management import call_command
from django.test import Client

from booking.models import Appointment, Status
from clinic.api import hash_token
from clinic.models import ApiToken
from tests.factories import make_patient, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api(desk_user, frozen) -> Client:
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=desk_user, token_hash=hash_token(token))
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def alice_api(alice_user, frozen) -> Client:
    client = Client()
    sign_in(client, alice_user)
    return client


def post(client: Client, url: str, body) -> "object":
    return client.post(url, json.dumps(body), content_type="application/json")


def booking_body(clinic, **overrides):
    body = {
        "patient": clinic.alice.pk,
        "provider": clinic.dr_alvarez.pk,
        "visit_type": "tpi-session",
        "location": clinic.location.pk,
        "start": "2026-12-07T09:00:00-05:00",
    }
    body.update(overrides)
    return body


# --- reference data and availability ------------------------------------------------------------


def test_reference_data_is_public(clinic):
    client = Client()
    assert client.get("/api/v1/locations").json()[0]["timezone"] == "America/New_York"
    assert {v["slug"] for v in client.get("/api/v1/visit-types").json()} == {"tpi-session", "evaluation"}
    providers = client.get(f"/api/v1/providers?location={clinic.location.pk}&visit_type=tpi-session").json()
    assert [p["display_name"] for p in providers] == ["David Chen", "Maria Alvarez"]


def test_availability_lists_slots_in_local_time_sorted_by_start_then_provider(clinic, frozen):
    response = Client().get(
        f"/api/v1/availability?visit_type=tpi-session&location={clinic.location.pk}&start=2026-12-07&end=2026-12-08"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["location"], body["timezone"]) == (clinic.location.pk, "America/New_York")
    first, second = body["slots"][:2]
    assert first == {
        "start": "2026-12-07T08:00:00-05:00",
        "end": "2026-12-07T08:30:00-05:00",
        "provider": clinic.dr_alvarez.pk,
        "room": clinic.rooms[0].pk,
    }
    assert (second["start"], second["provider"]) == ("2026-12-07T08:00:00-05:00", clinic.dr_chen.pk)
    keys = [(s["start"], s["provider"]) for s in body["slots"]]
    assert keys == sorted(keys)


def test_availability_for_chosen_providers(clinic, frozen):
    url = f"/api/v1/availability?visit_type=tpi-session&location={clinic.location.pk}&start=2026-12-07&end=2026-12-07"
    slots = Client().get(f"{url}&provider={clinic.dr_chen.pk}").json()["slots"]
    assert {s["provider"] for s in slots} == {clinic.dr_chen.pk}


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("visit_type=tpi-session&location={loc}&start=2026-12-08&end=2026-12-07", 400, "invalid_input"),
        ("visit_type=tpi-session&location={loc}&start=2026-12-01&end=2027-03-31", 400, "invalid_input"),
        ("visit_type=tpi-session&location={loc}&start=07/12/2026&end=2026-12-07", 400, "invalid_input"),
        ("visit_type=tpi-session&location=abc&start=2026-12-07&end=2026-12-07", 400, "invalid_input"),
        ("visit_type=tpi-session&start=2026-12-07&end=2026-12-07", 400, "invalid_input"),
        ("visit_type=nope&location={loc}&start=2026-12-07&end=2026-12-07", 404, "not_found"),
        ("visit_type=tpi-session&location=999999&start=2026-12-07&end=2026-12-07", 404, "not_found"),
    ],
)
def test_bad_availability_queries_get_a_clear_error(clinic, query, status, error):
    response = Client().get("/api/v1/availability?" + query.format(loc=clinic.location.pk))
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["detail"]


# --- booking -------------------------------------------------------------------------------------


def test_staff_book_with_a_bearer_token(clinic, staff_api, desk_user):
    response = post(staff_api, "/api/v1/appointments", booking_body(clinic))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["start"] == "2026-12-07T09:00:00-05:00" and body["status"] == "booked"
    appointment = Appointment.objects.get(pk=body["id"])
    assert appointment.created_by == desk_user
    assert appointment.events.get().by == desk_user


def test_a_taken_slot_answers_409_with_alternatives(clinic, staff_api):
    post(staff_api, "/api/v1/appointments", booking_body(clinic))
    response = post(staff_api, "/api/v1/appointments", booking_body(clinic, patient=clinic.bob.pk))

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "slot_taken" and body["detail"]
    assert {a["kind"] for a in body["alternatives"]} == {"same_provider", "other_provider"}
    assert Appointment.objects.count() == 1


def test_a_rule_violation_answers_422_with_the_reason(clinic, staff_api):
    response = post(staff_api, "/api/v1/appointments", booking_body(clinic, start="2026-12-07T19:00:00-05:00"))

    assert response.status_code == 422
    assert response.json()["error"] == "outside_working_hours"


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({}, "start"),
        ({}, "provider"),
        ({"start": "next tuesday"}, None),
        ({"start": 12}, None),
        ({"provider": "one"}, None),
        ({"patient": [1]}, None),
        ({"notes": "x" * 5000}, None),
    ],
)
def test_malformed_bookings_answer_400_and_write_nothing(clinic, staff_api, overrides, missing):
    payload = booking_body(clinic, **overrides)
    payload.pop(missing, None)
    response = post(staff_api, "/api/v1/appointments", payload)

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_input" and response.json()["detail"]
    assert Appointment.objects.count() == 0


def test_broken_json_answers_400(clinic, staff_api):
    response = staff_api.post("/api/v1/appointments", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_unknown_references_answer_404(clinic, staff_api):
    assert post(staff_api, "/api/v1/appointments", booking_body(clinic, provider=999999)).status_code == 404
    assert post(staff_api, "/api/v1/appointments", booking_body(clinic, patient=999999)).status_code == 404
    assert post(staff_api, "/api/v1/appointments", booking_body(clinic, visit_type="nope")).status_code == 404


def test_booking_without_credentials_answers_401(clinic, frozen):
    assert post(Client(), "/api/v1/appointments", booking_body(clinic)).status_code == 401
    bad = Client(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert post(bad, "/api/v1/appointments", booking_body(clinic)).status_code == 401


def test_revoked_tokens_and_inactive_users_are_refused(clinic, staff_api, desk_user):
    desk_user.is_active = False
    desk_user.save()
    assert post(staff_api, "/api/v1/appointments", booking_body(clinic)).status_code == 401


def test_list_appointments_for_a_provider_and_local_date(clinic, staff_api):
    post(staff_api, "/api/v1/appointments", booking_body(clinic))
    post(staff_api, "/api/v1/appointments", booking_body(clinic, start="2026-12-08T09:00:00-05:00"))
    url = f"/api/v1/appointments?provider={clinic.dr_alvarez.pk}&location={clinic.location.pk}&date=2026-12-07"

    listed = staff_api.get(url).json()
    assert [a["start"] for a in listed] == ["2026-12-07T09:00:00-05:00"]


def test_the_day_view_rows_match_the_single_appointment_answer(clinic, staff_api):
    post(staff_api, "/api/v1/appointments", booking_body(clinic))
    post(
        staff_api,
        "/api/v1/appointments",
        booking_body(clinic, patient=clinic.bob.pk, hold=True, start="2026-12-07T10:00:00-05:00"),
    )
    series = {
        "patient": clinic.bob.pk,
        "provider": clinic.dr_chen.pk,
        "visit_type": "tpi-session",
        "location": clinic.location.pk,
        "sessions": 2,
        "preferred_time": "11:00",
        "first_date": "2026-12-07",
    }
    assert post(staff_api, "/api/v1/series", series).status_code == 201

    response = staff_api.get(f"/api/v1/appointments?location={clinic.location.pk}&date=2026-12-07")

    listed = response.json()
    assert [a["status"] for a in listed] == ["booked", "held", "booked"]
    assert listed[2]["session_label"] == "session 1 of 2"
    assert listed[1]["hold_expires_at"].endswith("Z")
    for row in listed:  # the same fields and values as the validated single answer
        assert row == staff_api.get(f"/api/v1/appointments/{row['id']}").json()
    assert response.wsgi_request.viewed_patient_ids == {clinic.alice.pk, clinic.bob.pk}


def test_the_day_view_takes_the_same_queries_for_3_or_30_appointments(clinic, staff_api, django_assert_num_queries):
    url = f"/api/v1/appointments?location={clinic.location.pk}&date=2026-12-07"
    post(staff_api, "/api/v1/appointments", booking_body(clinic))
    staff_api.get(url)  # the token's last use is written once an hour; not in the count below
    # The token with its staff role, the location, the appointments, and the access-log row.
    with django_assert_num_queries(4):
        assert len(staff_api.get(url).json()) == 1
    for hour in range(13, 17):
        for provider in (clinic.dr_alvarez, clinic.dr_chen):
            body = booking_body(clinic, provider=provider.pk, patient=None, start=f"2026-12-07T{hour}:00:00-05:00")
            body["patient"] = make_patient(first_name=f"P{hour}{provider.pk}").pk
            assert post(staff_api, "/api/v1/appointments", body).status_code == 201
    with django_assert_num_queries(4):
        assert len(staff_api.get(url).json()) == 9


def test_move_and_cancel_through_the_api(clinic, staff_api):
    created = post(staff_api, "/api/v1/appointments", booking_body(clinic)).json()
    base = f"/api/v1/appointments/{created['id']}"

    moved = post(staff_api, f"{base}/move", {"start": "2026-12-07T14:00:00-05:00", "provider": clinic.dr_chen.pk})
    assert moved.status_code == 200 and moved.json()["provider"] == clinic.dr_chen.pk

    assert post(staff_api, f"{base}/cancel", {"reason": ""}).status_code == 400
    cancelled = post(staff_api, f"{base}/cancel", {"reason": "patient is unwell"})
    assert cancelled.json()["status"] == "cancelled"
    again = post(staff_api, f"{base}/cancel", {"reason": "twice"})
    assert again.status_code == 409 and again.json()["error"] == "invalid_status"


def test_moving_onto_a_taken_slot_answers_409_and_keeps_the_old_time(clinic, staff_api):
    mine = post(staff_api, "/api/v1/appointments", booking_body(clinic)).json()
    post(
        staff_api,
        "/api/v1/appointments",
        booking_body(clinic, patient=clinic.bob.pk, start="2026-12-07T10:00:00-05:00"),
    )

    response = post(staff_api, f"/api/v1/appointments/{mine['id']}/move", {"start": "2026-12-07T10:00:00-05:00"})
    assert response.status_code == 409 and response.json()["alternatives"]
    assert Appointment.objects.get(pk=mine["id"]).start.isoformat() == "2026-12-07T14:00:00+00:00"


# --- patients ------------------------------------------------------------------------------------


def test_a_patient_books_for_themselves_on_the_grid(clinic, alice_api):
    body = booking_body(clinic)
    del body["patient"]
    response = post(alice_api, "/api/v1/appointments", body)

    assert response.status_code == 201, response.content
    assert Appointment.objects.get().patient == clinic.alice
    off_grid = post(alice_api, "/api/v1/appointments", {**body, "start": "2026-12-07T10:10:00-05:00"})
    assert off_grid.status_code == 422 and off_grid.json()["error"] == "off_slot_grid"


def test_a_patients_read_and_booking_take_few_round_trips(clinic, alice_api, django_assert_max_num_queries):
    # Session, user with roles (one query), visit type with location (one), the schedule.
    with django_assert_max_num_queries(4):
        response = alice_api.get(
            f"/api/v1/availability?visit_type=tpi-session&location={clinic.location.pk}&start=2026-12-07&end=2026-12-08"
        )
    assert response.status_code == 200 and response.json()["slots"]
    body = booking_body(clinic)
    del body["patient"]
    # + patient, provider, visit type and location (one); transaction, lock (PostgreSQL), schedule,
    # appointment, audit row, messages.
    with django_assert_max_num_queries(10):
        assert post(alice_api, "/api/v1/appointments", body).status_code == 201


def test_a_role_taken_away_counts_on_the_next_request(clinic, desk_user, frozen):
    client = Client()
    sign_in(client, desk_user)
    url = f"/api/v1/appointments?location={clinic.location.pk}&date=2026-12-07"
    post(client, "/api/v1/appointments", booking_body(clinic))
    assert len(client.get(url).json()) == 1

    desk_user.groups.clear()

    # A role taken away ends the login's sessions (accounts/): the next request is anonymous.
    assert client.get(url).status_code == 401


def test_a_patient_cannot_book_or_see_for_someone_else(clinic, alice_api, staff_api):
    assert post(alice_api, "/api/v1/appointments", booking_body(clinic, patient=clinic.bob.pk)).status_code == 404
    bobs = post(staff_api, "/api/v1/appointments", booking_body(clinic, patient=clinic.bob.pk)).json()

    assert alice_api.get(f"/api/v1/appointments/{bobs['id']}").status_code == 404
    assert post(alice_api, f"/api/v1/appointments/{bobs['id']}/cancel", {"reason": "x"}).status_code == 404
    assert alice_api.get("/api/v1/appointments").json() == []
    assert Appointment.objects.get().status == Status.BOOKED


def test_patients_cannot_use_staff_endpoints(clinic, alice_api):
    assert alice_api.get("/api/v1/patients?q=bob").status_code == 404
    assert post(alice_api, "/api/v1/patients", {"first_name": "X"}).status_code in (400, 404)


def test_session_writes_need_the_csrf_token(clinic, alice_user, frozen):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, alice_user)
    body = booking_body(clinic)
    del body["patient"]

    assert post(client, "/api/v1/appointments", body).status_code == 403
    assert Appointment.objects.count() == 0


def test_a_hold_then_confirm(clinic, alice_api):
    body = booking_body(clinic, hold=True)
    del body["patient"]
    held = post(alice_api, "/api/v1/appointments", body).json()
    assert held["status"] == "held"

    confirmed = post(alice_api, f"/api/v1/appointments/{held['id']}/confirm", {})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "booked"


# --- patients endpoint, tokens, schema -------------------------------------------------------------


def test_staff_create_and_find_patients(clinic, staff_api):
    created = post(
        staff_api,
        "/api/v1/patients",
        {"first_name": "Rosa", "last_name": "Díaz", "date_of_birth": "1969-02-11", "phone": "(617) 253-1000"},
    )
    assert created.status_code == 201, created.content
    assert created.json()["phone"] == "+16172531000"

    found = staff_api.get("/api/v1/patients?q=rosa").json()
    assert [p["last_name"] for p in found] == ["Díaz"]
    assert [p["first_name"] for p in staff_api.get("/api/v1/patients?q=253").json()] == ["Rosa"]


def test_an_invalid_phone_number_is_refused_with_a_message(clinic, staff_api):
    response = post(
        staff_api,
        "/api/v1/patients",
        {"first_name": "Rosa", "last_name": "Díaz", "date_of_birth": "1969-02-11", "phone": "12"},
    )
    assert response.status_code == 422
    assert "phone" in response.json()["fields"]


def test_issue_api_token_prints_a_token_once_and_stores_only_its_hash(clinic, desk_user, capsys):
    call_command("issue_api_token", "desk", "--name", "integration")
    token = capsys.readouterr().out.strip()

    stored = ApiToken.objects.get(name="integration")
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/patients?q=alice").status_code == 200


def test_openapi_schema_and_docs_are_served():
    schema = Client().get("/api/schema")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/availability" in paths and "/api/v1/appointments" in paths
    assert Client().get("/api/docs").status_code == 200


def test_the_number_of_queries_for_a_booking_does_not_grow_with_the_calendar(
    clinic, staff_api, django_assert_max_num_queries
):
    for hour in (8, 10, 13, 14, 15):
        post(staff_api, "/api/v1/appointments", booking_body(clinic, start=f"2026-12-07T{hour:02d}:00:00-05:00"))
    with django_assert_max_num_queries(20):
        response = post(staff_api, "/api/v1/appointments", booking_body(clinic, start="2026-12-07T16:00:00-05:00"))
    assert response.status_code == 201


def test_visits_not_bookable_online_list_no_times_to_patients_but_do_to_staff(clinic, staff_api):
    clinic.tpi.bookable_online = False
    clinic.tpi.save()
    url = f"/api/v1/availability?visit_type=tpi-session&location={clinic.location.pk}&start=2026-12-07&end=2026-12-07"

    refused = Client().get(url)
    assert refused.status_code == 422 and refused.json()["error"] == "not_bookable_online"
    assert staff_api.get(url).json()["slots"]


def test_every_operation_documents_the_common_errors_once(client):
    schema = client.get("/api/schema").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"400", "401", "404", "429"} <= set(operation["responses"]), (method, path)
    raw = client.get("/api/schema").content.decode()
    assert raw.count('"400"') == sum(len(ops) for ops in schema["paths"].values())  # no key twice
