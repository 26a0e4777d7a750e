"""Every create, change and delete of patients, screenings and series keeps who, when, from
where and what changed (django-auditlog); appointments keep booking.AppointmentEvent. A clinic
admin searches it; nobody can add, change or delete an audit row through the app (HIPAA
164.312(b), (c)(1); ASVS 16.2.1)."""

import secrets
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import AccessLog
from audit.registry import AUDITED
from booking import services
from clinic import roles
from clinic.api import hash_token
from clinic.models import ApiToken
from patients.models import Patient, Screening
from tests.conftest import MONDAY, book_alices_series
from tests.factories import make_user, sign_in

pytestmark = pytest.mark.django_db


def entries_for(instance) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(instance).order_by("timestamp", "pk"))


def test_a_patient_created_through_the_api_is_logged_with_who_and_where(clinic, desk_user):
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=desk_user, token_hash=hash_token(token))
    body = {"first_name": "Nora", "last_name": "Lind", "date_of_birth": "1980-02-03", "email": "nora@example.com"}
    created = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
        "/api/v1/patients", body, content_type="application/json", REMOTE_ADDR="10.1.2.3"
    )
    assert created.status_code == 201

    [entry] = entries_for(Patient.objects.get(pk=created.json()["id"]))
    assert entry.action == LogEntry.Action.CREATE
    assert entry.actor == desk_user  # the token's user, not the anonymous session
    assert entry.remote_addr == "10.1.2.3"
    assert entry.changes_dict["last_name"] == ["None", "Lind"]


def test_a_patient_changed_in_the_admin_keeps_before_and_after(clinic, admin_user):
    client = Client()
    sign_in(client, admin_user)
    alice = clinic.alice
    form = {
        "first_name": alice.first_name,
        "last_name": "Moreno-Diaz",
        "date_of_birth": alice.date_of_birth.isoformat(),
        "phone": "",
        "email": alice.email,
        "preferred_language": "es",
        "reminder_channel": alice.reminder_channel,
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
        "user": "",
    }
    changed = client.post(f"/admin/patients/patient/{alice.pk}/change/", form)
    assert changed.status_code == 302, changed.content.decode()[:2000]

    entry = entries_for(alice)[-1]
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor == admin_user
    assert entry.changes_dict["last_name"] == ["Moreno", "Moreno-Diaz"]
    assert entry.changes_dict["preferred_language"] == ["en", "es"]


def test_screenings_and_series_are_logged_and_a_series_stop_says_who(clinic, desk_user, frozen):
    screening = Screening.objects.create(patient=clinic.alice, blood_thinner=True, answered_by=desk_user)
    assert entries_for(screening)[0].action == LogEntry.Action.CREATE

    series = book_alices_series(clinic, by=desk_user, first_date=MONDAY + timedelta(days=1))
    services.cancel_series_remaining(series=series, by=desk_user, reason="moved away")

    actions = [(e.action, e.changes_dict.get("status")) for e in entries_for(series)]
    assert actions[0][0] == LogEntry.Action.CREATE
    assert (LogEntry.Action.UPDATE, ["active", "stopped"]) in actions
    stop = [e for e in entries_for(series) if e.changes_dict.get("status") == ["active", "stopped"]][0]
    assert stop.actor == desk_user


def test_a_deleted_screening_leaves_its_last_state_in_the_log(clinic):
    screening = Screening.objects.create(patient=clinic.alice, latex_allergy=True)
    pk = screening.pk
    screening.delete()
    deleted = LogEntry.objects.filter(object_pk=str(pk), action=LogEntry.Action.DELETE).get()
    assert deleted.content_type.model == "screening"


def test_adding_a_model_to_the_audit_is_one_line():
    assert {"patients.Patient", "patients.Screening", "booking.Series"} <= set(AUDITED)


# --- searching, and no writes through the app ------------------------------------------------


@pytest.fixture
def audit_rows(clinic, desk_user):
    Screening.objects.create(patient=clinic.alice, needle_fear=True)
    client = Client()
    sign_in(client, desk_user)
    client.get(f"/desk/patients/{clinic.alice.pk}")
    return LogEntry.objects.latest("pk"), AccessLog.objects.latest("pk")


def test_a_clinic_admin_searches_the_change_and_access_logs(audit_rows, admin_user):
    client = Client()
    sign_in(client, admin_user)
    changes = client.get("/admin/auditlog/logentry/", {"q": "Moreno"})
    assert changes.status_code == 200 and "Screening of Alice Moreno" in changes.content.decode()
    by_name = client.get("/admin/audit/accesslog/", {"q": "Moreno"})
    assert by_name.status_code == 200 and "/desk/patients/" in by_name.content.decode()
    by_user = client.get("/admin/audit/accesslog/", {"q": "desk"})
    assert "/desk/patients/" in by_user.content.decode()
    nobody = client.get("/admin/audit/accesslog/", {"q": "Okafor"})
    assert "/desk/patients/" not in nobody.content.decode()


@pytest.mark.parametrize("who", ["clinic admin", "superuser"])
def test_nobody_adds_changes_or_deletes_audit_rows_in_the_admin(audit_rows, admin_user, who):
    user = admin_user if who == "clinic admin" else make_user("root", is_superuser=True, is_staff=True)
    client = Client()
    sign_in(client, user)
    for model, row in zip(("auditlog/logentry", "audit/accesslog"), audit_rows, strict=True):
        assert client.get(f"/admin/{model}/{row.pk}/change/").status_code == 200  # view only
        assert client.post(f"/admin/{model}/{row.pk}/change/", {}).status_code == 403
        assert client.post(f"/admin/{model}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
        assert client.get(f"/admin/{model}/add/").status_code == 403
        bulk = {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
        client.post(f"/admin/{model}/", bulk)
    assert LogEntry.objects.filter(pk=audit_rows[0].pk).exists()
    assert AccessLog.objects.filter(pk=audit_rows[1].pk).exists()


def test_front_desk_cannot_open_the_audit_screens(audit_rows, desk_user):
    client = Client()
    sign_in(client, desk_user)
    assert client.get("/admin/audit/accesslog/").status_code == 302  # to the admin login


def test_logins_are_deactivated_not_deleted(admin_user):
    root = make_user("root", is_superuser=True, is_staff=True)
    client = Client()
    sign_in(client, root)
    assert client.post(f"/admin/auth/user/{admin_user.pk}/delete/", {"post": "yes"}).status_code == 403
    assert get_user_model().objects.filter(pk=admin_user.pk).exists()
    assert roles.CLINIC_ADMIN in admin_user.groups.values_list("name", flat=True)
