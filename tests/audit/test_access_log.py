"""Who looked at which patients, when, from where: one row per staff request or API call that
showed patient data (HIPAA 164.312(b); ASVS 16.2.1). The URL walk checks every staff page."""

import secrets

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AccessLog
from booking import services
from booking.scheduling.availability import STAFF_POLICY
from clinic.api import hash_token
from clinic.models import ApiToken
from tests.conftest import MONDAY
from tests.factories import sign_in

pytestmark = pytest.mark.django_db


def test_a_staff_page_showing_a_patient_writes_one_row(clinic, desk_user):
    client = Client()
    sign_in(client, desk_user)
    client.get(f"/desk/patients/{clinic.alice.pk}", REMOTE_ADDR="10.9.8.7", HTTP_X_REQUEST_ID="req-12345678")

    [row] = AccessLog.objects.all()
    assert (row.username, row.user_id, row.method, row.status) == ("desk", desk_user.pk, "GET", 200)
    assert row.path == f"/desk/patients/{clinic.alice.pk}"
    assert row.patients == [clinic.alice.pk]
    assert row.ip == "10.9.8.7"
    assert row.request_id == "req-12345678"


def test_a_search_logs_every_patient_it_listed(clinic, desk_user):
    client = Client()
    sign_in(client, desk_user)
    client.get("/desk/", {"q": "example.com"})  # both patients' e-mails match
    assert AccessLog.objects.get().patients == sorted([clinic.alice.pk, clinic.bob.pk])


def test_an_api_call_with_a_token_is_logged_under_the_tokens_user(clinic, desk_user, frozen):
    services.book_appointment(
        patient=clinic.bob,
        provider=clinic.dr_chen,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=desk_user,
        policy=STAFF_POLICY,
    )
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=desk_user, token_hash=hash_token(token))
    listed = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/appointments")
    assert listed.status_code == 200
    row = AccessLog.objects.get()
    assert (row.username, row.path, row.patients) == ("desk", "/api/v1/appointments", [clinic.bob.pk])


def test_a_patient_seeing_their_own_record_is_not_logged(clinic, alice_user):
    client = Client()
    sign_in(client, alice_user)
    assert client.get("/my/series/").status_code == 200
    assert client.get("/api/v1/appointments").status_code == 200
    assert not AccessLog.objects.exists()


def test_a_page_without_patient_data_writes_nothing(clinic, desk_user):
    client = Client()
    sign_in(client, desk_user)
    client.get("/desk/")  # the empty search form
    assert not AccessLog.objects.exists()


def test_the_log_costs_one_insert(clinic, desk_user):
    client = Client()
    sign_in(client, desk_user)
    client.get(f"/desk/patients/{clinic.alice.pk}")
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/desk/patients/{clinic.alice.pk}")
    assert [q["sql"] for q in queries if "audit_accesslog" in q["sql"]][0].startswith("INSERT")
    assert sum("audit_accesslog" in q["sql"] for q in queries) == 1


def test_admin_screens_with_patient_data_are_logged(clinic, admin_user):
    client = Client()
    sign_in(client, admin_user)
    assert client.get("/admin/patients/patient/").status_code == 200
    listed = AccessLog.objects.get()
    assert listed.patients == sorted([clinic.alice.pk, clinic.bob.pk])
    assert client.get(f"/admin/patients/patient/{clinic.bob.pk}/change/").status_code == 200
    assert AccessLog.objects.latest("pk").patients == [clinic.bob.pk]
