"""A patient's account: sign up, log in in their language, keep a profile."""

import re
from datetime import date

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from clinic import roles
from patients.models import Patient
from tests.factories import DEFAULT_PASSWORD, make_user, sign_in

pytestmark = pytest.mark.django_db


def sign_up_data(**overrides):
    data = {
        "first_name": "Nora",
        "last_name": "Quinn",
        "date_of_birth": "1985-03-02",
        "email": "Nora.Quinn@Example.com",
        "password1": DEFAULT_PASSWORD,
        "password2": DEFAULT_PASSWORD,
    }
    data.update(overrides)
    return data


def test_signing_up_makes_the_login_and_the_patient_together(client, frozen):
    response = client.post(reverse("patients:register"), sign_up_data())
    assert response.status_code == 302 and response.url == reverse("booking:book_start")
    patient = Patient.objects.get()
    assert patient.email == "nora.quinn@example.com" and patient.date_of_birth == date(1985, 3, 2)
    assert patient.user.username == "nora.quinn@example.com"
    assert list(patient.user.groups.values_list("name", flat=True)) == [roles.PATIENT]
    assert patient.user.check_password(DEFAULT_PASSWORD)
    assert client.get(reverse("booking:book_start")).status_code == 200  # logged in


def test_signing_up_in_spanish_prefers_spanish(client, frozen):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    client.post(reverse("patients:register"), sign_up_data())
    assert Patient.objects.get().preferred_language == "es"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"password2": "something-else-1"}, "password2", "The two passwords differ."),
        ({"password1": "12345678", "password2": "12345678"}, "password1", "entirely numeric"),
        ({"email": "not-an-address"}, "email", "valid email"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "cannot be in the future"),
        ({"first_name": ""}, "first_name", "required"),
    ],
)
def test_a_bad_sign_up_shows_the_error_on_its_field(client, frozen, change, field, message):
    response = client.post(reverse("patients:register"), sign_up_data(**change))
    assert response.status_code == 422
    body = response.content.decode()
    assert message in body
    assert re.search(rf'aria-describedby="[^"]*id_{field}_error"', body)  # the error is tied to its field
    assert f'id="id_{field}_error"' in body
    assert not Patient.objects.exists() and not get_user_model().objects.exists()


def test_an_e_mail_already_registered_is_refused(client, frozen):
    client.post(reverse("patients:register"), sign_up_data())
    client.logout()
    response = client.post(reverse("patients:register"), sign_up_data(email="nora.quinn@example.com"))
    assert response.status_code == 422
    assert "already exists" in response.content.decode()
    assert Patient.objects.count() == 1


def test_logging_in_switches_the_pages_to_the_patients_language(client, clinic, alice_user):
    clinic.alice.preferred_language = "es"
    clinic.alice.save()
    response = client.post(reverse("login"), {"username": "alice", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert "Reservar una visita" in client.get(reverse("booking:book_start")).content.decode()


def test_a_patient_keeps_their_profile(client, clinic, alice_user):
    sign_in(client, alice_user)
    page = client.get(reverse("patients:profile"))
    assert page.status_code == 200 and 'value="Alice"' in page.content.decode()
    data = {
        "first_name": "Alicia",
        "last_name": "Moreno",
        "date_of_birth": "1979-05-06",
        "phone": "+1 423 555 0199",
        "email": "alicia@example.com",
        "preferred_language": "es",
        "reminder_channel": "both",
    }
    response = client.post(reverse("patients:profile"), data)
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    clinic.alice.refresh_from_db()
    assert clinic.alice.first_name == "Alicia" and str(clinic.alice.phone) == "+14235550199"
    assert clinic.alice.reminder_channel == "both" and clinic.alice.preferred_language == "es"
    alice_user.refresh_from_db()
    assert alice_user.email == "alicia@example.com" and alice_user.first_name == "Alicia"


def test_a_bad_phone_number_is_shown_on_its_field(client, clinic, alice_user):
    sign_in(client, alice_user)
    data = {
        "first_name": "Alice",
        "last_name": "Moreno",
        "date_of_birth": "1979-05-06",
        "phone": "12",
        "email": "alice@example.com",
        "preferred_language": "en",
        "reminder_channel": "sms",
    }
    response = client.post(reverse("patients:profile"), data)
    assert response.status_code == 422
    assert re.search(r'aria-describedby="[^"]*id_phone_error"', response.content.decode())
    clinic.alice.refresh_from_db()
    assert clinic.alice.reminder_channel == "email"


def test_staff_have_no_patient_profile(client, desk_user):
    sign_in(client, desk_user)
    assert client.get(reverse("patients:profile")).status_code == 404
    assert client.get(reverse("booking:book_start")).status_code == 404


def test_the_language_switch_is_on_every_page(client, db):
    page = client.get(reverse("home")).content.decode()
    assert 'action="/i18n/setlang/"' in page and 'value="es"' in page
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    assert response.status_code == 302
    assert "Iniciar sesión" in client.get(reverse("home")).content.decode()


def test_a_logged_in_user_is_sent_from_sign_up_to_the_profile(client, clinic, alice_user):
    sign_in(client, alice_user)
    assert client.get(reverse("patients:register")).url == reverse("patients:profile")


def test_two_users_cannot_share_a_login_name(client, frozen):
    make_user("taken@example.com", role=roles.PATIENT)
    response = client.post(reverse("patients:register"), sign_up_data(email="taken@example.com"))
    assert response.status_code == 422 and Patient.objects.count() == 0


def test_sign_up_goes_on_to_a_next_page_on_this_site_only(client, frozen):
    response = client.post(reverse("patients:register") + "?next=/book/visit%3Flocation%3D1", sign_up_data())
    assert response.url == "/book/visit?location=1"
    client.logout()
    response = client.post(
        reverse("patients:register") + "?next=https://evil.example/", sign_up_data(email="other@example.com")
    )
    assert response.url == reverse("booking:book_start")


def test_a_failed_sign_up_leaves_no_login_behind(client, frozen, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Patient, "save", broken_save)
    with pytest.raises(RuntimeError):
        client.post(reverse("patients:register"), sign_up_data())
    assert not get_user_model().objects.exists()
