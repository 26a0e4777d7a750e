"""A patient's own appointments through the HTTP boundary: the list, cancel and reschedule within
the location's cutoff, aftercare; others' appointments answer 404; bad input never a 500."""

import json
from datetime import date, time, timedelta

import pytest
import time_machine
from django.test import Client

from booking import services
from booking.errors import ChangeTooLate, InvalidTransition
from booking.messaging.aftercare import aftercare_paragraphs
from booking.models import Appointment, AppointmentEvent, EventAction, Status
from booking.scheduling.availability import STAFF_POLICY
from clinic.models import Closure, HeatAdvice
from patients.models import Language
from tests.conftest import MONDAY, NOW
from tests.factories import sign_in

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)


def book(clinic, *, day=MONDAY, hour=9, minute=0, patient=None, provider=None, visit_type=None, now=NOW):
    return services.book_appointment(
        patient=patient or clinic.alice,
        provider=provider or clinic.dr_alvarez,
        visit_type=visit_type or clinic.tpi,
        location=clinic.location,
        start=clinic.at(day, hour, minute),
        by=None,
        now=now,
    )


@pytest.fixture
def alice(alice_user, frozen) -> Client:
    client = Client()
    sign_in(client, alice_user)
    return client


def book_series(clinic, by, sessions):
    return services.book_series(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        sessions=sessions,
        gap_days=14,
        tolerance_days=2,
        taper_days=[],
        preferred_time=time(9),
        first_date=MONDAY,
        by=by,
        policy=STAFF_POLICY,
        now=NOW,
    )


def slot(clinic, day, hour, provider=None, minute=0):
    return f"{(provider or clinic.dr_alvarez).pk}@{clinic.at(day, hour, minute).isoformat()}"


def events(appointment, action):
    return AppointmentEvent.objects.filter(appointment=appointment, action=action).count()


# --- the list ---------------------------------------------------------------------------------


def test_my_appointments_shows_upcoming_and_past_in_local_time_and_only_my_own(clinic, alice):
    upcoming = book(clinic, hour=9)
    past = book(clinic, day=date(2026, 11, 30), hour=10, now=NOW - timedelta(days=10))
    book(clinic, hour=11, patient=clinic.bob)

    response = alice.get("/my/appointments/")

    assert response.status_code == 200
    rows = response.context["upcoming"]
    assert [r.appointment.pk for r in rows] == [upcoming.pk]
    assert [r.appointment.pk for r in response.context["past"]] == [past.pk]
    assert rows[0].when == "Mon 7 Dec 2026, 09:00 EST" and rows[0].can_change
    html = response.content.decode()
    assert "Mon 7 Dec 2026, 09:00 EST" in html and "Mon 30 Nov 2026, 10:00 EST" in html
    assert "11:00" not in html  # Bob's visit
    assert f"/my/appointments/{upcoming.pk}/reschedule" in html and f"/my/appointments/{upcoming.pk}/cancel" in html


def test_series_sessions_show_as_k_of_n_with_a_link_to_the_series(clinic, alice, desk_user):
    series = book_series(clinic, desk_user, 3)

    html = alice.get("/my/appointments/").content.decode()

    assert "Session 1 of 3" in html and "Session 3 of 3" in html
    assert f'href="/my/series/{series.pk}"' in html


def test_the_list_stays_flat_in_queries(clinic, alice, django_assert_max_num_queries):
    for hour in (9, 10, 11):
        book(clinic, hour=hour)
    with django_assert_max_num_queries(8) as few:
        alice.get("/my/appointments/")
    for hour in (13, 14, 15, 16):
        book(clinic, hour=hour)
        book(clinic, day=TUESDAY, hour=hour)
    with django_assert_max_num_queries(len(few.captured_queries)):
        alice.get("/my/appointments/")


def test_the_list_needs_a_login_and_a_patient_record(clinic, desk_user, frozen):
    assert Client().get("/my/appointments/").status_code == 302
    desk = Client()
    sign_in(desk, desk_user)
    assert desk.get("/my/appointments/").status_code == 404


# --- someone else's appointment, tampered ids --------------------------------------------------


@pytest.mark.parametrize("action", ["cancel", "reschedule", "aftercare"])
def test_another_patients_appointment_or_a_made_up_id_is_404(clinic, alice, action):
    bobs = book(clinic, patient=clinic.bob)
    assert alice.get(f"/my/appointments/{bobs.pk}/{action}").status_code == 404
    assert alice.post(f"/my/appointments/{bobs.pk}/{action}", {"reason": "other", "slot": "x"}).status_code == 404
    assert alice.get(f"/my/appointments/999999/{action}").status_code == 404
    bobs.refresh_from_db()
    assert bobs.status == Status.BOOKED and bobs.start == clinic.at(MONDAY, 9)


# --- cancel -------------------------------------------------------------------------------------


def test_a_patient_cancels_within_the_cutoff_with_a_reason(clinic, alice, alice_user):
    appointment = book(clinic)
    page = alice.get(f"/my/appointments/{appointment.pk}/cancel")
    assert page.status_code == 200 and "Why are you cancelling?" in page.content.decode()
    assert Appointment.objects.get(pk=appointment.pk).status == Status.BOOKED  # a GET changes nothing

    response = alice.post(
        f"/my/appointments/{appointment.pk}/cancel", {"reason": "feel_better", "detail": "much better"}
    )

    assert response.status_code == 302 and response["Location"] == "/my/appointments/"
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.cancel_reason == "patient: feels better (much better)"
    assert AppointmentEvent.objects.get(appointment=appointment, action=EventAction.CANCELLED).by == alice_user


def test_a_double_submitted_cancel_cancels_once(clinic, alice):
    appointment = book(clinic)
    url = f"/my/appointments/{appointment.pk}/cancel"
    assert alice.post(url, {"reason": "cannot_come"}).status_code == 302
    again = alice.post(url, {"reason": "cannot_come"})
    assert again.status_code == 302
    assert events(appointment, EventAction.CANCELLED) == 1


def test_a_cancel_without_a_reason_is_refused_with_the_field_error(clinic, alice):
    appointment = book(clinic)
    response = alice.post(f"/my/appointments/{appointment.pk}/cancel", {"reason": "made-up"})
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert Appointment.objects.get(pk=appointment.pk).status == Status.BOOKED


def test_after_the_cutoff_the_patient_is_told_to_phone_the_clinic(clinic, alice_user):
    appointment = book(clinic)  # Monday 09:00; the cutoff (24 h) is Sunday 09:00
    client = Client()
    with time_machine.travel(clinic.at(MONDAY - timedelta(days=1), 10), tick=False):
        sign_in(client, alice_user)
        listing = client.get("/my/appointments/").content.decode()
        page = client.get(f"/my/appointments/{appointment.pk}/cancel")
        response = client.post(f"/my/appointments/{appointment.pk}/cancel", {"reason": "cannot_come"})
        move = client.post(f"/my/appointments/{appointment.pk}/reschedule", {"slot": slot(clinic, TUESDAY, 9)})

    assert "(423) 555-0100" in listing and f"/my/appointments/{appointment.pk}/cancel" not in listing
    assert page.status_code == 200 and "(423) 555-0100" in page.content.decode()
    assert response.status_code == 422 and "(423) 555-0100" in response.content.decode()
    assert move.status_code == 422 and "(423) 555-0100" in move.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED and appointment.start == clinic.at(MONDAY, 9)


def test_the_cutoff_is_set_per_location(clinic, alice):
    clinic.location.patient_change_cutoff_hours = 96  # Monday 09:00 - 96 h is before now (Friday 10:00)
    clinic.location.save()
    appointment = book(clinic)
    response = alice.post(f"/my/appointments/{appointment.pk}/cancel", {"reason": "cannot_come"})
    assert response.status_code == 422 and "96 hours" in response.content.decode()
    assert Appointment.objects.get(pk=appointment.pk).status == Status.BOOKED


# --- reschedule ----------------------------------------------------------------------------------


def test_reschedule_lists_free_slots_with_the_same_provider(clinic, alice):
    appointment = book(clinic)
    book(clinic, day=TUESDAY, hour=10, provider=clinic.dr_alvarez, patient=clinic.bob)

    response = alice.get(f"/my/appointments/{appointment.pk}/reschedule?day={TUESDAY.isoformat()}")

    assert response.status_code == 200
    picker = response.context["picker"]
    values = [s.value for s in picker.slots]
    assert slot(clinic, TUESDAY, 9) in values
    assert slot(clinic, TUESDAY, 10) not in values  # Bob's
    assert all(v.startswith(f"{clinic.dr_alvarez.pk}@") for v in values)
    assert picker.slots[0].time == "08:00 EST"


def test_any_provider_lists_other_providers_for_a_single_visit(clinic, alice):
    appointment = book(clinic)
    response = alice.get(f"/my/appointments/{appointment.pk}/reschedule?any=1&day={TUESDAY.isoformat()}")
    values = {s.value for s in response.context["picker"].slots}
    assert slot(clinic, TUESDAY, 9, clinic.dr_chen) in values and slot(clinic, TUESDAY, 9) in values


def test_a_patient_moves_to_a_free_slot_and_a_double_submit_moves_once(clinic, alice):
    appointment = book(clinic)
    url = f"/my/appointments/{appointment.pk}/reschedule"

    first = alice.post(url, {"slot": slot(clinic, TUESDAY, 9)})
    second = alice.post(url, {"slot": slot(clinic, TUESDAY, 9)})

    assert first.status_code == 302 and first["Location"] == "/my/appointments/"
    assert second.status_code == 302
    appointment.refresh_from_db()
    assert appointment.start == clinic.at(TUESDAY, 9) and appointment.status == Status.BOOKED
    assert events(appointment, EventAction.MOVED) == 1


def test_a_patient_moves_to_another_provider_when_showing_every_provider(clinic, alice):
    appointment = book(clinic)
    url = f"/my/appointments/{appointment.pk}/reschedule?any=1"
    response = alice.post(url, {"slot": slot(clinic, TUESDAY, 9, clinic.dr_chen), "any": "1"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.provider == clinic.dr_chen and appointment.start == clinic.at(TUESDAY, 9)


def test_a_slot_taken_meanwhile_answers_409_with_alternatives(clinic, alice):
    appointment = book(clinic)
    book(clinic, day=TUESDAY, hour=9, patient=clinic.bob)  # taken while Alice was deciding

    response = alice.post(f"/my/appointments/{appointment.pk}/reschedule", {"slot": slot(clinic, TUESDAY, 9)})

    assert response.status_code == 409
    assert "just been taken" in response.content.decode()
    alternatives = response.context["alternatives"]
    assert alternatives and all(a.value.startswith(f"{clinic.dr_alvarez.pk}@") for a in alternatives)
    appointment.refresh_from_db()
    assert appointment.start == clinic.at(MONDAY, 9)


@pytest.mark.parametrize(
    ("when", "status", "words"),
    [
        (lambda c: c.at(MONDAY - timedelta(days=7), 9), 422, "in the past"),
        (lambda c: c.at(TUESDAY, 6), 422, "no visits at that time"),
        (lambda c: c.at(MONDAY + timedelta(days=2), 9), 422, "closed that day"),
    ],
    ids=["past", "outside-hours", "closed-day"],
)
def test_a_move_to_a_time_that_cannot_be_booked_is_refused_with_a_message(clinic, alice, when, status, words):
    Closure.objects.create(
        location=clinic.location,
        start_date=MONDAY + timedelta(days=2),
        end_date=MONDAY + timedelta(days=2),
        reason="Training",
    )
    appointment = book(clinic)
    start = when(clinic)
    response = alice.post(
        f"/my/appointments/{appointment.pk}/reschedule", {"slot": f"{clinic.dr_alvarez.pk}@{start.isoformat()}"}
    )
    assert response.status_code == status and words in response.content.decode()
    assert response.context["picker"].slots  # free times to choose instead
    appointment.refresh_from_db()
    assert appointment.start == clinic.at(MONDAY, 9)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "1@not-a-date",
        "abc@2026-12-08T09:00:00-05:00",
        "{chen}@2026-12-08T09:00:00-05:00",
        "{alvarez}@2026-12-08T09:00:00",
    ],
)
def test_a_tampered_slot_is_refused_with_400(clinic, alice, value):
    appointment = book(clinic)  # without ?any=1 only her own provider may be chosen
    value = value.format(chen=clinic.dr_chen.pk, alvarez=clinic.dr_alvarez.pk)
    response = alice.post(f"/my/appointments/{appointment.pk}/reschedule", {"slot": value})
    assert response.status_code == 400
    appointment.refresh_from_db()
    assert appointment.start == clinic.at(MONDAY, 9) and appointment.provider == clinic.dr_alvarez


def test_a_series_session_cannot_go_to_another_provider(clinic, alice, desk_user):
    series = book_series(clinic, desk_user, 2)
    first = series.appointments.get(session_number=1)
    url = f"/my/appointments/{first.pk}/reschedule?any=1"
    assert not alice.get(url).context["picker"].can_choose_provider
    response = alice.post(url, {"slot": slot(clinic, TUESDAY, 9, clinic.dr_chen), "any": "1"})
    assert response.status_code == 400
    assert Appointment.objects.get(pk=first.pk).provider == clinic.dr_alvarez


# --- aftercare ------------------------------------------------------------------------------------


def complete(clinic, appointment):
    with time_machine.travel(appointment.start + timedelta(minutes=40), tick=False):
        return services.complete_appointment(appointment=appointment, by=None)


def test_aftercare_is_linked_from_a_completed_procedure_and_shows_the_clinic_contact(clinic, alice, alice_user):
    appointment = book(clinic)
    complete(clinic, appointment)
    with time_machine.travel(clinic.at(MONDAY, 12), tick=False):
        sign_in(alice, alice_user)  # days later: a new session
        listing = alice.get("/my/appointments/").content.decode()
        page = alice.get(f"/my/appointments/{appointment.pk}/aftercare")
    assert f"/my/appointments/{appointment.pk}/aftercare" in listing
    html = page.content.decode()
    assert page.status_code == 200
    assert "Rest the treated area for 1 to 2 days" in html and "100.4" in html and "short of breath" in html
    assert "(423) 555-0100" in html and "riverside@example.com" in html and "1200 Riverside Drive" in html


def test_aftercare_follows_the_locations_text_and_heat_advice(clinic, alice):
    clinic.location.heat_advice = HeatAdvice.AVOID
    clinic.location.save()
    appointment = book(clinic)
    assert "Do not put heat" in alice.get(f"/my/appointments/{appointment.pk}/aftercare").content.decode()
    clinic.location.aftercare_en = "Our own advice.\nSecond line."
    clinic.location.save()
    html = alice.get(f"/my/appointments/{appointment.pk}/aftercare").content.decode()
    assert "<li>Our own advice.</li>" in html and "Do not put heat" not in html


def test_aftercare_in_spanish(clinic, alice):
    appointment = book(clinic)
    html = alice.get(f"/my/appointments/{appointment.pk}/aftercare", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Descanse la zona tratada" in html and "Contactar con la clínica" in html


def test_the_aftercare_message_carries_the_same_text(clinic, mailoutbox, settings):
    from booking.messaging import delivery
    from booking.models import MessageKind, Reminder

    settings.REMINDER_QUIET_HOURS = ""
    clinic.alice.preferred_language = Language.SPANISH
    clinic.alice.save()
    clinic.location.aftercare_es = "Texto propio de la clínica."
    clinic.location.save()
    appointment = book(clinic)
    complete(clinic, appointment)
    row = Reminder.objects.get(appointment=appointment, kind=MessageKind.AFTERCARE, channel="email")
    with time_machine.travel(clinic.at(MONDAY, 12), tick=False):
        assert delivery.deliver(row.pk) == "sent"
    assert "Texto propio de la clínica." in mailoutbox[0].body
    assert aftercare_paragraphs(clinic.location, "es") == ["Texto propio de la clínica."]


# --- the JSON API and the services ------------------------------------------------------------------


def test_the_api_refuses_a_patients_cancel_after_the_cutoff_with_the_clinics_phone(clinic, alice, desk_user):
    clinic.location.patient_change_cutoff_hours = 96
    clinic.location.save()
    appointment = book(clinic)
    url = f"/api/v1/appointments/{appointment.pk}/cancel"
    response = alice.post(url, json.dumps({"reason": "busy"}), content_type="application/json")
    assert response.status_code == 422
    assert response.json()["error"] == "past_cutoff" and response.json()["phone"] == "(423) 555-0100"
    move = alice.post(
        f"/api/v1/appointments/{appointment.pk}/move",
        json.dumps({"start": clinic.at(TUESDAY, 9).isoformat()}),
        content_type="application/json",
    )
    assert move.status_code == 422 and move.json()["error"] == "past_cutoff"
    assert Appointment.objects.get(pk=appointment.pk).status == Status.BOOKED
    desk = Client()
    sign_in(desk, desk_user)
    assert desk.post(url, json.dumps({"reason": "phoned"}), content_type="application/json").status_code == 200


def test_the_cutoff_check_takes_now(clinic):
    appointment = book(clinic)
    deadline = services.change_deadline(appointment)
    assert deadline == clinic.at(MONDAY - timedelta(days=1), 9)
    assert services.patient_can_change(appointment, now=deadline - timedelta(seconds=1))
    assert not services.patient_can_change(appointment, now=deadline)
    services.check_patient_change(appointment, now=deadline - timedelta(minutes=1))
    with pytest.raises(ChangeTooLate) as refused:
        services.patient_cancel_appointment(appointment=appointment, by=None, reason="late", now=deadline)
    assert refused.value.status == 422 and refused.value.phone == "(423) 555-0100"
    services.cancel_appointment(appointment=appointment, by=None, reason="desk", now=deadline)  # staff: no cutoff
    with pytest.raises(InvalidTransition):
        services.check_patient_change(appointment, now=NOW)


def test_moving_to_where_it_already_is_writes_nothing(clinic):
    appointment = book(clinic)
    services.patient_move_appointment(appointment=appointment, start=clinic.at(MONDAY, 9), by=None, now=NOW)
    assert events(appointment, EventAction.MOVED) == 0


def test_the_clinic_admin_edits_the_cutoff_and_aftercare_in_the_admin(clinic, admin_user):
    client = Client()
    sign_in(client, admin_user)
    page = client.get(f"/admin/clinic/location/{clinic.location.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("patient_change_cutoff_hours", "heat_advice", "aftercare_en", "aftercare_es"):
        assert f'name="{field}"' in html


@pytest.mark.parametrize(
    "query", ["?from=0001-01-01&day=x&any=2", "?from=9999-12-31", "?from=not-a-date&day=2026-13-45", "?any=1&from="]
)
def test_odd_picker_queries_still_show_the_page(clinic, alice, query):
    appointment = book(clinic)
    assert alice.get(f"/my/appointments/{appointment.pk}/reschedule{query}").status_code == 200


def test_a_cancelled_appointment_says_it_can_no_longer_be_changed(clinic, alice):
    appointment = book(clinic)
    services.cancel_appointment(appointment=appointment, by=None, reason="desk")
    for action in ("cancel", "reschedule"):
        page = alice.get(f"/my/appointments/{appointment.pk}/{action}")
        assert page.status_code == 200 and "can no longer be changed online" in page.content.decode()
    response = alice.post(f"/my/appointments/{appointment.pk}/reschedule", {"slot": slot(clinic, TUESDAY, 9)})
    assert response.status_code == 409 and "can no longer be changed online" in response.content.decode()
    assert Appointment.objects.get(pk=appointment.pk).start == clinic.at(MONDAY, 9)


def test_the_migration_moves_an_unchanged_aftercare_template_to_the_locations_text(db):
    from importlib import import_module

    from django.apps import apps

    from booking.models import MessageTemplate

    migration = import_module("booking.migrations.0004_manage_links_and_aftercare_text")
    defaults = MessageTemplate.objects.filter(location=None, kind="aftercare", channel="email")
    defaults.filter(language="en").update(body=migration.EARLIER_AFTERCARE_BODIES["en"])
    defaults.filter(language="es").update(body="Texto editado por la clínica.")

    migration.use_location_aftercare_text(apps, None)

    assert "{{ aftercare }}" in defaults.get(language="en").body
    assert defaults.get(language="es").body == "Texto editado por la clínica."  # a clinic's own words stay


def test_every_slot_listed_for_a_move_is_one_the_move_accepts(clinic):
    from booking.scheduling.availability import PATIENT_POLICY, check_start
    from booking.scheduling.loading import load_schedule, slots_for_move

    appointment = book(clinic)
    book(clinic, day=TUESDAY, hour=10, patient=clinic.bob)  # Dr Alvarez is busy at 10:00
    book(clinic, day=TUESDAY, hour=14, provider=clinic.dr_chen)  # Alice is with Dr Chen at 14:00

    slots = slots_for_move(appointment=appointment, first_day=TUESDAY, last_day=TUESDAY, provider_ids=None, now=NOW)
    schedule = load_schedule(
        visit_type=clinic.tpi,
        location=clinic.location,
        first_day=TUESDAY,
        last_day=TUESDAY,
        now=NOW,
        exclude_appointment_id=appointment.pk,
        patient_id=clinic.alice.pk,
    )
    starts = {(s.provider_id, s.start) for s in slots}
    assert (clinic.dr_alvarez.pk, clinic.at(TUESDAY, 10)) not in starts
    assert not any(s.start == clinic.at(TUESDAY, 14) for s in slots)  # her own other visit
    for provider in (clinic.dr_alvarez, clinic.dr_chen):
        for minutes in range(8 * 60, 17 * 60, 15):
            start = clinic.at(TUESDAY, minutes // 60, minutes % 60)
            reason, _room = check_start(schedule, provider.pk, start, PATIENT_POLICY)
            assert (reason is None) == ((provider.pk, start) in starts), (provider, start, reason)
