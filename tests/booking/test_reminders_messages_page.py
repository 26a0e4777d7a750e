"""The staff Messages page: failures first, with the reason, and "send again".

Until booking/urls.py includes booking.messages_views.urlpatterns, these tests mount the page
with the project's own URLs (this module is their URLconf).
"""

import pytest
from django.urls import include, path

from booking import services
from booking import urls as booking_urls
from booking.desk import messages as messages_views
from booking.models import MessageKind, Reminder, ReminderStatus
from clinic import roles
from clinic import urls as clinic_urls
from tests.conftest import MONDAY, NOW
from tests.factories import make_user, sign_in

urlpatterns = [
    *[p for p in clinic_urls.urlpatterns if getattr(p, "app_name", None) != "booking"],
    path("", include(([*booking_urls.urlpatterns, *messages_views.urlpatterns], "booking"))),
]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
URL = "/desk/messages/"


@pytest.fixture
def failed_confirmation(clinic):
    appointment = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
        now=NOW,
    )
    confirmation = Reminder.objects.get(appointment=appointment, kind=MessageKind.CONFIRMATION)
    Reminder.objects.filter(pk=confirmation.pk).update(
        status=ReminderStatus.FAILED, attempts=9, last_error="SMS gateway answered 503: try later"
    )
    return confirmation


def test_the_desk_sees_failed_messages_with_the_reason(client, desk_user, failed_confirmation):
    sign_in(client, desk_user)

    response = client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Alice Moreno" in page and "SMS gateway answered 503: try later" in page
    assert "Booking confirmation" in page and "2026-12-04 10:00 EST" in page
    waiting = client.get(URL, {"show": "waiting"}).content.decode()
    assert "SMS gateway answered 503" not in waiting and "Early reminder" in waiting


def test_the_page_reads_a_constant_number_of_queries(client, desk_user, clinic, django_assert_max_num_queries):
    sign_in(client, desk_user)
    for hour in (9, 10, 11, 13, 14):
        services.book_appointment(
            patient=clinic.bob,
            provider=clinic.dr_chen,
            visit_type=clinic.tpi,
            location=clinic.location,
            start=clinic.at(MONDAY, hour),
            by=None,
            now=NOW,
        )

    with django_assert_max_num_queries(10):
        response = client.get(URL, {"show": "all"})
    assert response.content.decode().count("Send again") == 0  # nothing has been sent or failed yet


def test_send_again_arms_the_message_with_a_new_key(client, desk_user, failed_confirmation):
    sign_in(client, desk_user)

    response = client.post(f"/desk/messages/{failed_confirmation.pk}/resend", {"next": f"{URL}?show=failed"})

    assert response.status_code == 302 and response["Location"] == f"{URL}?show=failed"
    failed_confirmation.refresh_from_db()
    assert failed_confirmation.status == ReminderStatus.PENDING
    assert failed_confirmation.idempotency_key == f"reminder-{failed_confirmation.pk}-1"


def test_send_again_is_a_post_and_ignores_an_outside_next(client, desk_user, failed_confirmation):
    sign_in(client, desk_user)

    assert client.get(f"/desk/messages/{failed_confirmation.pk}/resend").status_code == 405
    response = client.post(f"/desk/messages/{failed_confirmation.pk}/resend", {"next": "https://evil.example/"})
    assert response["Location"] == URL


def test_patients_and_strangers_do_not_see_the_page(client, failed_confirmation):
    sign_in(client, make_user("pat", role=roles.PATIENT))

    assert client.get(URL).status_code == 404
    assert client.post(f"/desk/messages/{failed_confirmation.pk}/resend").status_code == 404
    assert client.get(f"/desk/messages/{failed_confirmation.pk}/resend").status_code == 404  # not a telling 405
    client.logout()
    assert client.get(URL).status_code == 302  # to the login page
    assert client.get(f"/desk/messages/{failed_confirmation.pk}/resend").status_code == 302
