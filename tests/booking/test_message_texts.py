"""Rendering a message only reads: the single-use manage link is issued by the sender and passed in."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking import services
from booking.messaging import delivery, texts
from booking.models import ManageLink, MessageKind, Reminder
from tests.conftest import MONDAY, NOW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "http://testserver"
    settings.REMINDER_QUIET_HOURS = ""


def confirmation(clinic) -> Reminder:
    appointment = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
        now=NOW,
    )
    return Reminder.objects.get(appointment=appointment, kind=MessageKind.CONFIRMATION, channel="email")


def test_rendering_a_message_that_carries_a_link_writes_nothing(clinic, settings):
    row = confirmation(clinic)
    assert texts.wants_manage_link(row, NOW)

    with CaptureQueriesContext(connection) as queries:
        _, body = texts.render(row, now=NOW)

    assert [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")] == []
    assert ManageLink.objects.count() == 0
    assert f"{settings.SITE_URL}{settings.REMINDER_MANAGE_PATH}" in body  # without a token: the appointments page


def test_the_token_the_sender_passes_in_is_the_link_in_the_message(clinic):
    row = confirmation(clinic)

    _, body = texts.render(row, now=NOW, manage_token="a-token")

    assert "http://testserver/manage/a-token" in body


def test_sending_issues_one_link_per_send(clinic, mailoutbox):
    row = confirmation(clinic)

    assert delivery.deliver(row.pk, now=NOW) == "sent"

    assert ManageLink.objects.filter(appointment_id=row.appointment_id).count() == 1
