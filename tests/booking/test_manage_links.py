"""Single-use manage links from messages: stored hashed, GET changes nothing, one POST cancels,
the redirect carries no token, a used, expired or unknown link gets a kind page (never a 500)."""

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from booking import services
from booking.messaging import delivery, planning
from booking.models import Appointment, AppointmentEvent, EventAction, ManageLink, MessageKind, Reminder, Status
from patients.models import Language
from tests.conftest import MONDAY, NOW

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
LINK = re.compile(r"http://testserver(/manage/[A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "http://testserver"
    settings.REMINDER_QUIET_HOURS = ""


def book(clinic, *, hour=9, patient=None):
    return services.book_appointment(
        patient=patient or clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, hour),
        by=None,
        now=NOW,
    )


def emailed_link(appointment, mailoutbox, kind=MessageKind.CONFIRMATION) -> str:
    """Send the message as the worker would and read the link out of the e-mail."""
    row = Reminder.objects.get(appointment=appointment, kind=kind, channel="email")
    assert delivery.deliver(row.pk, now=NOW) == "sent"
    found = LINK.search(mailoutbox[-1].body)
    assert found, mailoutbox[-1].body
    return found.group(1)


def test_the_confirmation_carries_a_single_use_link_stored_only_as_its_hash(clinic, mailoutbox):
    appointment = book(clinic)
    path = emailed_link(appointment, mailoutbox)
    token = path.rsplit("/", 1)[1]

    link = ManageLink.objects.get()
    assert link.appointment_id == appointment.pk and link.expires_at == appointment.start
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert link.token_hash != token
    assert not ManageLink.objects.filter(token_hash=token).exists()


def test_a_get_shows_the_appointment_and_changes_nothing(clinic, mailoutbox, frozen):
    appointment = book(clinic)
    path = emailed_link(appointment, mailoutbox)

    response = Client().get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Mon 7 Dec 2026, 09:00 EST" in html and "Cancel this appointment" in html
    # The token is in this page's URL: a Referer carries the origin only, and no cache keeps the page.
    assert response["Referrer-Policy"] == "strict-origin" and "no-store" in response["Cache-Control"]
    assert Appointment.objects.get(pk=appointment.pk).status == Status.BOOKED
    assert ManageLink.objects.get().used_at is None


def test_the_link_cancels_once_and_fails_the_second_time(clinic, mailoutbox, frozen):
    appointment = book(clinic)
    path = emailed_link(appointment, mailoutbox)
    client = Client()

    response = client.post(path, {"reason": "cannot_come"})

    assert response.status_code == 302 and response["Location"] == "/manage/done"
    token = path.rsplit("/", 1)[1]
    assert token not in response["Location"]
    done = client.get(response["Location"])
    assert done.status_code == 200 and "is cancelled" in done.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED and "from a link" in appointment.cancel_reason
    assert AppointmentEvent.objects.filter(appointment=appointment, action=EventAction.CANCELLED).count() == 1

    again = Client().post(path, {"reason": "cannot_come"})
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert Client().get(path).status_code == 410


def test_an_unknown_or_mangled_token_gets_a_kind_404(clinic, frozen):
    for path in ("/manage/not-a-real-token", "/manage/" + "x" * 500):
        response = Client().get(path)
        assert response.status_code == 404 and "could not find this link" in response.content.decode()
        assert Client().post(path, {"reason": "other"}).status_code == 404


def test_a_link_expires_when_the_visit_starts(clinic, mailoutbox):
    appointment = book(clinic)
    path = emailed_link(appointment, mailoutbox)
    with time_machine.travel(appointment.start, tick=False):
        response = Client().post(path, {"reason": "other"})
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert Appointment.objects.get(pk=appointment.pk).status == Status.BOOKED


def test_past_the_cutoff_the_link_tells_the_patient_to_phone_and_stays_unused(clinic, mailoutbox):
    appointment = book(clinic)
    path = emailed_link(appointment, mailoutbox)
    with time_machine.travel(clinic.at(MONDAY - timedelta(days=1), 10), tick=False):
        page = Client().get(path)
        response = Client().post(path, {"reason": "other"})
    assert page.status_code == 200 and "(423) 555-0100" in page.content.decode()
    assert "Cancel this appointment" not in page.content.decode()
    assert response.status_code == 422 and "(423) 555-0100" in response.content.decode()
    assert Appointment.objects.get(pk=appointment.pk).status == Status.BOOKED
    assert ManageLink.objects.get().used_at is None


def test_a_visit_cancelled_by_the_desk_makes_its_links_unusable(clinic, mailoutbox, frozen):
    appointment = book(clinic)
    path = emailed_link(appointment, mailoutbox)
    services.cancel_appointment(appointment=appointment, by=None, reason="phoned")
    assert Client().get(path).status_code == 410


def test_every_send_makes_a_new_link_and_using_one_uses_them_all(clinic, mailoutbox, frozen):
    appointment = book(clinic)
    first = emailed_link(appointment, mailoutbox)
    planning.resend(Reminder.objects.get(appointment=appointment, kind=MessageKind.CONFIRMATION, channel="email"))
    second = emailed_link(appointment, mailoutbox)
    assert first != second and ManageLink.objects.count() == 2

    assert Client().post(second, {"reason": "other"}).status_code == 302
    assert Client().get(first).status_code == 410
    assert not ManageLink.objects.filter(used_at__isnull=True).exists()


def test_the_link_moves_the_visit_to_a_free_slot_with_the_same_provider(clinic, mailoutbox, frozen):
    appointment = book(clinic)
    path = emailed_link(appointment, mailoutbox)
    page = Client().get(f"{path}/reschedule?day={TUESDAY.isoformat()}")
    assert page.status_code == 200
    value = f"{clinic.dr_alvarez.pk}@{clinic.at(TUESDAY, 9).isoformat()}"
    assert value in [s.value for s in page.context["picker"].slots]

    response = Client().post(f"{path}/reschedule", {"slot": value})

    assert response.status_code == 302 and response["Location"] == "/manage/done"
    appointment.refresh_from_db()
    assert appointment.start == clinic.at(TUESDAY, 9) and appointment.status == Status.BOOKED
    assert Client().post(f"{path}/reschedule", {"slot": value}).status_code == 410


def test_a_taken_slot_through_the_link_is_409_with_alternatives_and_the_link_stays_usable(clinic, mailoutbox, frozen):
    appointment = book(clinic)
    path = emailed_link(appointment, mailoutbox)
    services.book_appointment(
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(TUESDAY, 9),
        by=None,
    )
    value = f"{clinic.dr_alvarez.pk}@{clinic.at(TUESDAY, 9).isoformat()}"
    response = Client().post(f"{path}/reschedule", {"slot": value})
    assert response.status_code == 409 and response.context["alternatives"]
    assert ManageLink.objects.get().used_at is None
    assert Appointment.objects.get(pk=appointment.pk).start == clinic.at(MONDAY, 9)


def test_the_link_pages_speak_the_patients_language(clinic, mailoutbox, frozen):
    clinic.alice.preferred_language = Language.SPANISH
    clinic.alice.save()
    appointment = book(clinic)
    path = emailed_link(appointment, mailoutbox)
    html = Client().get(path).content.decode()
    assert "Su cita" in html and "Cancelar esta cita" in html
    response = Client().post(path, {"reason": "feel_better"}, follow=True)
    assert "está cancelada" in response.content.decode()
    assert "Este enlace ya se usó" in Client().get(path).content.decode()


def test_an_sms_reminder_carries_a_link_too(clinic, frozen, settings):
    from booking.messaging import sms
    from patients.models import ReminderChannel

    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    clinic.bob.reminder_channel = ReminderChannel.SMS
    clinic.bob.save()
    appointment = book(clinic, patient=clinic.bob)
    row = Reminder.objects.get(appointment=appointment, kind=MessageKind.REMINDER_SHORT, channel="sms")
    assert delivery.deliver(row.pk, now=row.send_at) == "sent"
    found = re.search(r"http://testserver(/manage/[A-Za-z0-9_-]+)", sms.outbox[-1].body)
    assert found and Client().get(found.group(1)).status_code == 200
    sms.outbox.clear()


def test_the_cancellation_message_links_to_the_appointments_page_not_a_token(clinic, mailoutbox, frozen):
    appointment = book(clinic)
    services.cancel_appointment(appointment=appointment, by=None, reason="phoned")
    row = Reminder.objects.get(appointment=appointment, kind=MessageKind.CANCELLATION, channel="email")
    delivery.deliver(row.pk, now=NOW)
    assert "/manage/" not in mailoutbox[-1].body
    assert ManageLink.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_clicks_on_one_link_at_once_cancel_once(clinic, mailoutbox):
    import threading

    from django.db import connection

    from booking.errors import BookingError, LinkUnusable

    appointment = book(clinic)
    token = emailed_link(appointment, mailoutbox).rsplit("/", 1)[1]
    barrier = threading.Barrier(2)
    outcomes = []

    def click():
        barrier.wait()
        try:
            services.cancel_by_link(token=token, reason="patient: clicked twice")
            outcomes.append("cancelled")
        except (LinkUnusable, BookingError) as exc:
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    with time_machine.travel(NOW, tick=True):
        threads = [threading.Thread(target=click) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert sorted(outcomes) == ["LinkUnusable", "cancelled"]
    assert AppointmentEvent.objects.filter(appointment=appointment, action=EventAction.CANCELLED).count() == 1
