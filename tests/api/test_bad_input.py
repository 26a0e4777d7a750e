"""Oversized, malformed, wrong-type and out-of-range input gets 400 or 422 with a message, never
a 500 (what the fuzz test looks for at random, here as named cases)."""

import secrets

import pytest
from django.test import Client

from clinic.api import hash_token
from clinic.models import ApiToken

pytestmark = pytest.mark.django_db

HUGE = 2**70


@pytest.fixture
def desk(desk_user):
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=desk_user, token_hash=hash_token(token))
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def patient_body(**overrides):
    return {"first_name": "Nora", "last_name": "Lind", "date_of_birth": "1980-02-03", **overrides}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (patient_body(date_of_birth=0), "date_of_birth"),  # a number is not read as 1970-01-01
        (patient_body(date_of_birth="0"), "date_of_birth"),
        (patient_body(first_name="x" * 81), "first_name"),
        (patient_body(first_name=["Nora"]), "first_name"),
        (patient_body(preferred_language="klingon"), "preferred_language"),
    ],
)
def test_bad_patient_fields_are_refused_with_the_field_named(desk, clinic, body, field):
    answer = desk.post("/api/v1/patients", body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_input"
    assert field in answer.json()["detail"]


def test_a_body_that_is_not_json_is_a_400(desk, clinic):
    answer = desk.post("/api/v1/patients", "{not json", content_type="application/json")
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/appointments/{HUGE}",
        f"/api/v1/series/{HUGE}",
        f"/api/v1/appointments?provider={HUGE}",
        f"/api/v1/providers?location={HUGE}",
        f"/api/v1/availability?visit_type=tpi-session&location={HUGE}&start=2026-12-07&end=2026-12-08",
    ],
)
def test_ids_too_big_for_the_database_are_refused_not_crashed(desk, clinic, path):
    assert desk.get(path).status_code in (400, 404)


def test_out_of_range_numbers_and_ranges_are_refused(desk, clinic):
    body = {
        "patient": clinic.alice.pk,
        "provider": clinic.dr_alvarez.pk,
        "visit_type": "tpi-session",
        "location": clinic.location.pk,
        "sessions": 500,
        "preferred_time": "09:00",
        "first_date": "2026-12-07",
    }
    assert desk.post("/api/v1/series", body, content_type="application/json").status_code == 400
    far = desk.get(
        f"/api/v1/availability?visit_type=tpi-session&location={clinic.location.pk}&start=2026-01-01&end=2027-12-31"
    )
    assert far.status_code == 400 and "at most" in far.json()["detail"]
    assert (
        desk.post(
            "/api/v1/series", {**body, "sessions": 2, "preferred_time": "25:99"}, content_type="application/json"
        ).status_code
        == 400
    )
