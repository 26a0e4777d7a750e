"""Who may do what with patient messages in the admin: clinic admins edit the texts (with the
preview) and see what was sent; the front desk sees what was sent; providers and patients
neither. The groups' permissions come from the migrations (clinic 0002 and 0003)."""

import re

import pytest
from django.contrib.auth.models import Group

from booking import services
from booking.messaging import texts
from booking.models import MessageKind, MessageTemplate, Reminder, ReminderStatus
from clinic import roles
from tests.conftest import MONDAY, NOW
from tests.factories import make_user, sign_in

pytestmark = pytest.mark.django_db
K = MessageKind


@pytest.fixture
def template(clinic):
    texts.seed_message_templates()
    return MessageTemplate.objects.get(location=None, kind=K.REMINDER_SHORT, channel="sms", language="en")


@pytest.fixture
def sent_reminder(clinic):
    appointment = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
        now=NOW,
    )
    row = Reminder.objects.get(appointment=appointment, kind=K.CONFIRMATION, channel="email")
    Reminder.objects.filter(pk=row.pk).update(status=ReminderStatus.FAILED, last_error="gateway said no")
    return row


def staff(role, **extra):
    # Admin access is a per-person choice (is_staff); what they may do there comes from the role.
    return make_user(f"user-{role.lower().replace(' ', '-')}", role=role, is_staff=True, **extra)


def test_the_migrated_groups_have_exactly_the_permissions_roles_py_lists():
    for role, wanted in roles.PERMISSIONS.items():
        have = {
            f"{app}.{codename}"
            for app, codename in Group.objects.get(name=role).permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert have == set(wanted), role


def test_a_clinic_admin_edits_a_template_and_sees_the_preview(client, template):
    sign_in(client, staff(roles.CLINIC_ADMIN))
    url = f"/admin/booking/messagetemplate/{template.pk}/change/"

    page = client.get(url)
    assert page.status_code == 200
    preview = re.search(r'<pre class="message-preview">(.*?)</pre>', page.content.decode(), re.S).group(1)
    assert "{{" not in preview
    assert "Alex" in preview or "Your clinic" in preview

    body = "{{ clinic_name }}: see you {{ date }} at {{ time }}. Manage: {{ manage_url }}"
    answer = client.post(
        url,
        {"kind": K.REMINDER_SHORT, "channel": "sms", "language": "en", "subject": "", "body": body, "active": "on"},
    )
    assert answer.status_code == 302
    template.refresh_from_db()
    assert template.body == body
    assert "Your clinic: see you" in client.get(url).content.decode()


def test_a_clinic_admin_adds_a_template_for_a_location(client, clinic):
    sign_in(client, staff(roles.CLINIC_ADMIN))

    answer = client.post(
        "/admin/booking/messagetemplate/add/",
        {
            "location": clinic.location.pk,
            "kind": K.CONFIRMATION,
            "channel": "sms",
            "language": "es",
            "subject": "",
            "body": "Cita confirmada: {{ date }} {{ time }}",
            "active": "on",
        },
    )

    assert answer.status_code == 302
    assert MessageTemplate.objects.filter(location=clinic.location, kind=K.CONFIRMATION, language="es").exists()


def test_a_clinic_admin_sees_the_messages_but_cannot_change_them(client, sent_reminder):
    sign_in(client, staff(roles.CLINIC_ADMIN))

    listing = client.get("/admin/booking/reminder/?status=failed")
    assert listing.status_code == 200
    assert "gateway said no" in listing.content.decode()
    detail = client.get(f"/admin/booking/reminder/{sent_reminder.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # read only
    assert client.post(f"/admin/booking/reminder/{sent_reminder.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Reminder.objects.filter(pk=sent_reminder.pk).exists()


def test_the_front_desk_sees_the_messages_but_not_the_templates(client, template, sent_reminder):
    sign_in(client, staff(roles.FRONT_DESK))

    listing = client.get("/admin/booking/reminder/")
    assert listing.status_code == 200
    assert "gateway said no" in listing.content.decode()
    assert client.get("/admin/booking/messagetemplate/").status_code == 403
    assert client.get(f"/admin/booking/messagetemplate/{template.pk}/change/").status_code == 403
    answer = client.post(
        "/admin/booking/messagetemplate/add/",
        {"kind": K.CONFIRMATION, "channel": "sms", "language": "en", "subject": "", "body": "x", "active": "on"},
    )
    assert answer.status_code == 403
    assert client.get("/desk/messages/").status_code == 200


def test_the_front_desk_without_admin_access_uses_the_messages_page(client, sent_reminder):
    sign_in(client, make_user("desk-only", role=roles.FRONT_DESK))

    assert "gateway said no" in client.get("/desk/messages/?show=failed").content.decode()
    assert client.get("/admin/booking/reminder/").status_code == 302  # to the admin login


@pytest.mark.parametrize("role", [roles.PROVIDER, roles.PATIENT])
def test_providers_and_patients_get_neither_in_the_admin(client, template, sent_reminder, role):
    sign_in(client, staff(role))

    assert client.get("/admin/booking/reminder/").status_code == 403
    assert client.get(f"/admin/booking/messagetemplate/{template.pk}/change/").status_code == 403
