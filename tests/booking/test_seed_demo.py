"""seed_demo builds a believable clinic once, however often it runs, and the admin can show it."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import phonenumbers
import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from booking.management.demo_data import us_clinic_holidays
from booking.models import Appointment, AppointmentEvent, EventAction, Status
from clinic import roles
from clinic.models import ApiToken, Closure, Location, Provider, Room, TimeOff, VisitType, WorkingHours
from patients.models import Patient
from tests.factories import make_location, make_user, sign_in

pytestmark = pytest.mark.django_db

# The day before Thanksgiving 2026, mid-morning on the East Coast.
FROZEN_NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SEEDED_MODELS = [Location, Room, Provider, WorkingHours, VisitType, Closure, TimeOff, Patient]


def seed(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(FROZEN_NOW, tick=False):
        call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    users = get_user_model().objects
    return {model.__name__: model.objects.count() for model in SEEDED_MODELS} | {
        "User": users.count(),
        "provider links": Provider.objects.filter(user__isnull=False).count(),
        "patient links": Patient.objects.filter(user__isnull=False).count(),
    }


@pytest.fixture(scope="class")
def demo_clinic(django_db_setup, django_db_blocker):
    """The demo clinic, seeded once for a class of tests and rolled back after it.

    Each test still runs in its own savepoint, so what a test writes is undone before the next.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


def test_if_empty_skips_a_database_that_has_a_location():
    make_location(name="Existing Clinic")

    output = seed("--if-empty")

    assert "left the database as it was" in output
    assert list(Location.objects.values_list("name", flat=True)) == ["Existing Clinic"]
    assert not Patient.objects.exists()
    assert not get_user_model().objects.exists()


def test_if_empty_seeds_an_empty_database():
    seed("--if-empty")

    assert Location.objects.count() == 2


def test_seed_refuses_to_run_in_production(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="does not run in production"):
        seed()

    assert not Location.objects.exists()


def test_holidays_on_a_weekend_are_kept_on_the_nearest_weekday():
    holidays = {name: start for start, _end, name in us_clinic_holidays(2027)}

    assert holidays["Independence Day"] == date(2027, 7, 5)  # a Sunday, kept on Monday
    assert holidays["Christmas Day"] == date(2027, 12, 24)  # a Saturday, kept on Friday
    assert holidays["Memorial Day"] == date(2027, 5, 31)
    assert holidays["Labor Day"] == date(2027, 9, 6)


@pytest.fixture
def superuser_client(client):
    sign_in(client, make_user("root", is_staff=True, is_superuser=True))
    return client


def registered(app_labels: set[str]) -> list[str]:
    return sorted(
        f"{model._meta.app_label}_{model._meta.model_name}"
        for model in admin.site._registry
        if model._meta.app_label in app_labels
    )


@pytest.mark.usefixtures("demo_clinic")
class TestDemoClinic:
    def test_seed_builds_the_demo_clinic(self, demo_clinic):
        assert counts() == {
            "Location": 2,
            "Room": 5,
            "Provider": 5,
            "WorkingHours": 50,
            "VisitType": 3,
            "Closure": 6,
            "TimeOff": 1,
            "Patient": 60,
            "User": 4,
            "provider links": 1,
            "patient links": 1,
        }
        assert "Demo clinic ready" in demo_clinic
        assert "admin-demo-only" in demo_clinic

    def test_seeding_again_adds_nothing(self):
        first = counts()
        patient_ids = set(Patient.objects.values_list("pk", flat=True))

        seed()

        assert counts() == first
        assert set(Patient.objects.values_list("pk", flat=True)) == patient_ids

    def test_locations_are_in_different_time_zones(self):
        assert Location.objects.values("timezone").distinct().count() == 2

    def test_visit_types_carry_the_booking_rules(self):
        rules = {
            vt.slug: (vt.kind, vt.duration_minutes, vt.buffer_after_minutes, vt.needs_room)
            for vt in VisitType.objects.all()
        }
        assert rules == {
            "evaluation": ("evaluation", 45, 5, True),
            "tpi-session": ("procedure", 30, 5, True),
            "follow-up": ("follow_up", 15, 0, False),
        }
        assert set(VisitType.objects.values_list("min_notice_minutes", "horizon_days", "slot_step_minutes")) == {
            (120, 90, 15)
        }

    def test_every_working_day_has_a_lunch_break_and_no_range_overlaps(self):
        for provider in Provider.objects.all():
            by_day: dict[int, list[WorkingHours]] = {}
            for hours in provider.working_hours.all():
                by_day.setdefault(hours.weekday, []).append(hours)
                hours.full_clean()  # the model's own overlap check, against every other saved row
            assert sorted(by_day) == [0, 1, 2, 3, 4], provider
            assert all(len(ranges) == 2 for ranges in by_day.values()), provider
        travelling = [p for p in Provider.objects.all() if p.locations.count() == 2]
        assert len(travelling) >= 2

    def test_closures_are_the_next_public_holidays_at_each_location(self):
        for location in Location.objects.all():
            assert list(location.closures.values_list("reason", "start_date", "end_date")) == [
                ("Thanksgiving", date(2026, 11, 26), date(2026, 11, 27)),
                ("Christmas Day", date(2026, 12, 25), date(2026, 12, 25)),
                ("New Year's Day", date(2027, 1, 1), date(2027, 1, 1)),
            ]

    def test_time_off_is_next_week_in_the_clinics_local_time(self):
        time_off = TimeOff.objects.get()
        local_start = time_off.start.astimezone(time_off.provider.locations.get().tz)

        assert local_start.date() == date(2026, 12, 2)  # Wednesday of next week
        assert (local_start.hour, local_start.minute) == (0, 0)
        assert time_off.end - time_off.start == timedelta(days=2)

    def test_every_seeded_phone_number_is_valid(self):
        numbers = [patient.phone for patient in Patient.objects.all()]
        numbers += [p.emergency_contact_phone for p in Patient.objects.exclude(emergency_contact_phone="")]
        numbers += [phonenumbers.parse(location.phone, "US") for location in Location.objects.all()]

        assert len(numbers) == 60 + 15 + 2
        assert all(phonenumbers.is_valid_number(number) for number in numbers)
        assert len({str(patient.phone) for patient in Patient.objects.all()}) == 60

    def test_about_a_third_of_patients_prefer_spanish(self):
        assert Patient.objects.filter(preferred_language="es").count() == 20
        assert not Patient.objects.exclude(email="").exclude(email__endswith="@example.com").exists()

    def test_demo_users_are_in_their_groups(self):
        users = {user.username: user for user in get_user_model().objects.prefetch_related("groups")}

        assert {name: [group.name for group in user.groups.all()] for name, user in users.items()} == {
            "admin": [roles.CLINIC_ADMIN],
            "desk": [roles.FRONT_DESK],
            "provider": [roles.PROVIDER],
            "patient": [roles.PATIENT],
        }
        assert {name for name, user in users.items() if user.is_staff} == {"admin"}
        assert not any(user.is_superuser for user in users.values())
        assert users["admin"].check_password("admin-demo-only")
        assert Provider.objects.get(user=users["provider"]).display_name == "Maria Alvarez"
        assert Patient.objects.get(user=users["patient"]).full_name == "Laura Bennett"

    def test_demo_staff_log_in_with_the_code_the_dev_command_prints(self, demo_clinic):
        assert "otpauth://totp/" in demo_clinic
        for username in ("admin", "desk", "provider"):
            out = StringIO()
            call_command("totp_code", username, stdout=out, stderr=StringIO())
            client = Client()
            client.post("/accounts/login/", {"username": username, "password": f"{username}-demo-only"})
            verified = client.post("/account/two-factor/verify", {"code": out.getvalue().strip(), "next": "/desk/"})
            assert verified["Location"] == "/desk/", username
        assert not TOTPDevice.objects.filter(user__username="patient").exists()

    def test_the_code_command_refuses_production(self, settings):
        settings.PRODUCTION = True
        with pytest.raises(CommandError, match="production"):
            call_command("totp_code", "desk", stdout=StringIO())

    def test_demo_appointments_are_booked_through_the_service_without_overlaps(self):
        booked = Appointment.objects.filter(status=Status.BOOKED)
        assert booked.count() > 50
        # Besides bookings, only the demo procedure records completed (and recorded) past visits.
        others = set(AppointmentEvent.objects.exclude(action=EventAction.BOOKED).values_list("action", flat=True))
        assert others == {EventAction.COMPLETED, EventAction.RECORDED}
        booked_by_desk = AppointmentEvent.objects.filter(by__username="desk", action=EventAction.BOOKED)
        assert booked_by_desk.count() == Appointment.objects.count()
        for appointment in booked:
            assert (
                not booked.filter(
                    provider=appointment.provider,
                    block_start__lt=appointment.block_end,
                    block_end__gt=appointment.block_start,
                )
                .exclude(pk=appointment.pk)
                .exists()
            )

    def test_demo_has_procedure_records_with_pain_scores(self):
        from patients.models import ProcedureRecord

        records = ProcedureRecord.objects.select_related("appointment")
        assert records.count() >= 8
        assert all(r.appointment.status == Status.COMPLETED for r in records)
        assert {r.cpt_code for r in records} >= {"20553", "20552", "20560", "20561"}
        assert all(0 <= r.pain_after <= r.pain_before <= 10 for r in records)

    def test_demo_patients_answered_the_safety_questions_and_one_waits_for_review(self):
        from patients.models import ReviewStatus, Screening

        flags = {flag for screening in Screening.objects.all() for flag in screening.flags}
        assert {"Blood thinner", "Fear of needles", "Latex allergy", "Infection near site"} <= flags
        assert Screening.objects.filter(blood_thinner=True, review_status=ReviewStatus.APPROVED).exists()
        assert Screening.objects.awaiting_review().count() == 1
        screenings_before = Screening.objects.count()
        seed()
        assert Screening.objects.count() == screenings_before

        # --- The admin, on top of the demo data ---

    def test_every_changelist_opens_for_a_superuser(self, superuser_client):
        for name in registered({"clinic", "patients", "booking"}):
            response = superuser_client.get(reverse(f"admin:{name}_changelist"))
            assert response.status_code == 200, name

    def test_every_clinic_add_page_opens_except_api_tokens_and_procedure_records(self, superuser_client):
        # Procedure records are written by providers through patients.services only.
        refused = {"clinic_apitoken", "patients_procedurerecord"}
        for name in registered({"clinic", "patients"}):
            response = superuser_client.get(reverse(f"admin:{name}_add"))
            assert response.status_code == (403 if name in refused else 200), name

    def test_provider_change_page_shows_the_working_hours_inline(self, superuser_client):
        provider = Provider.objects.get(display_name="Maria Alvarez")

        response = superuser_client.get(reverse("admin:clinic_provider_change", args=[provider.pk]))

        assert response.status_code == 200
        assert response.content.decode().count('name="working_hours-') > 0

    def test_the_demo_clinic_admin_can_open_the_set_up_pages(self, client):
        sign_in(client, get_user_model().objects.get(username="admin"))

        for name in ["clinic_location", "clinic_provider", "clinic_workinghours", "clinic_closure", "patients_patient"]:
            assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
        assert client.get(reverse("admin:clinic_location_add")).status_code == 200

    def test_patient_search_finds_by_phone_and_us_date_of_birth(self, superuser_client):
        patient = Patient.objects.get(first_name="Laura", last_name="Bennett")
        url = reverse("admin:patients_patient_changelist")
        area, exchange, line = str(patient.phone)[2:5], str(patient.phone)[5:8], str(patient.phone)[8:]
        us_date = f"{patient.date_of_birth.month}/{patient.date_of_birth.day}/{patient.date_of_birth.year}"

        by_phone = superuser_client.get(url, {"q": f"({area}) {exchange}-{line}"})
        by_birth_date = superuser_client.get(url, {"q": us_date})

        assert list(by_phone.context["cl"].result_list) == [patient]
        assert patient in by_birth_date.context["cl"].result_list

    def test_api_tokens_show_their_hash_read_only(self, superuser_client):
        token = ApiToken.objects.create(
            user=get_user_model().objects.get(username="desk"), name="kiosk", token_hash="a" * 64
        )

        response = superuser_client.get(reverse("admin:clinic_apitoken_change", args=[token.pk]))

        assert response.status_code == 200
        assert 'name="token_hash"' not in response.content.decode()
        assert "a" * 64 in response.content.decode()

    def test_appointments_are_read_only_in_the_admin(self, superuser_client):
        appointment = Appointment.objects.order_by("pk").first()  # a demo booking, made by the service
        change_url = reverse("admin:booking_appointment_change", args=[appointment.pk])

        page = superuser_client.get(change_url)
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert "Booked" in page.content.decode()
        assert superuser_client.post(change_url, {"status": Status.CANCELLED}).status_code == 403
        assert superuser_client.get(reverse("admin:booking_appointment_add")).status_code == 403
        delete_url = reverse("admin:booking_appointment_delete", args=[appointment.pk])
        assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
        appointment.refresh_from_db()
        assert appointment.status == Status.BOOKED


def test_the_demo_has_patients_waiting_at_each_location(db):
    from booking.models import WaitlistEntry

    seed()

    entries = WaitlistEntry.objects.all()
    assert entries.count() == 12
    assert {e.location_id for e in entries} == set(Location.objects.values_list("pk", flat=True))
    seed()
    assert WaitlistEntry.objects.count() == 12
