"""The waitlist: who a freed time is offered to, offers through the outbox, taking an offer once,
offers running out."""

import hashlib
from datetime import date, time, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from booking import services
from booking.errors import BookingError, OfferClosed, OfferNotFound
from booking.messaging import delivery, sms, words
from booking.models import (
    Appointment,
    MessageKind,
    OfferStatus,
    Reminder,
    ReminderStatus,
    Status,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from booking.scheduling import waitlist as rules
from booking.services.waitlist import offers as waitlist_services
from patients.models import Language, ReminderChannel
from tests.conftest import MONDAY, NOW
from tests.factories import make_location, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def book(clinic, patient, hour=9, minute=0, provider=None, day=MONDAY):
    return services.book_appointment(
        patient=patient,
        provider=provider or clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(day, hour, minute),
        by=None,
        now=NOW,
    )


def wait(clinic, patient, minutes_ago=0, **wish):
    values = {"visit_type": clinic.tpi, "location": clinic.location, **wish}
    return services.add_to_waitlist(patient=patient, by=None, now=NOW - timedelta(minutes=minutes_ago), **values)


def cancel(appointment, now=NOW):
    return services.cancel_appointment(appointment=appointment, by=None, reason="patient is ill", now=now)


def patients(n, **overrides):
    return [
        make_patient(first_name=f"P{i}", last_name="Wait", email=f"p{i}@example.com", **overrides) for i in range(n)
    ]


def token_of(offer):
    return rules.offer_token(offer.token_nonce)


# --- matching: each criterion -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("wish", "offered"),
    [
        ({}, True),
        ({"provider": "dr_alvarez"}, True),
        ({"provider": "dr_chen"}, False),
        ({"earliest_date": MONDAY}, True),
        ({"earliest_date": MONDAY + timedelta(days=1)}, False),
        ({"latest_date": MONDAY}, True),
        ({"latest_date": MONDAY - timedelta(days=1)}, False),
        ({"parts_of_day": ["morning"]}, True),
        ({"parts_of_day": ["afternoon", "evening"]}, False),
        ({"time_from": time(9), "time_to": time(9, 30)}, True),  # the whole 30-minute visit fits
        ({"time_to": time(9, 29)}, False),  # it would end after 9:29
        ({"time_from": time(9, 1)}, False),
    ],
)
def test_a_freed_time_is_offered_only_to_entries_it_suits(clinic, frozen, wish, offered):
    if "provider" in wish:
        wish["provider"] = getattr(clinic, wish["provider"])
    appointment = book(clinic, clinic.alice)
    entry = wait(clinic, clinic.bob, **wish)

    cancel(appointment)

    assert WaitlistOffer.objects.filter(entry=entry).exists() is offered
    entry.refresh_from_db()
    assert entry.status == (WaitlistStatus.OFFERED if offered else WaitlistStatus.WAITING)


def test_other_visit_types_and_locations_are_not_offered(clinic, frozen):
    appointment = book(clinic, clinic.alice)
    other_place = make_location(name="Hillside")
    clinic.dr_alvarez.locations.add(other_place)
    wait(clinic, clinic.bob, visit_type=clinic.evaluation)
    wait(clinic, make_patient(), location=other_place)

    cancel(appointment)

    assert not WaitlistOffer.objects.exists()


def test_a_patient_who_has_a_visit_then_or_opted_out_is_passed_over(clinic, frozen):
    busy, silent, reachable = patients(3)
    silent.reminder_channel = ReminderChannel.NONE
    silent.save()
    book(clinic, busy, hour=9, provider=clinic.dr_chen)  # busy at the very time, with another provider
    appointment = book(clinic, clinic.alice)
    for age, patient in enumerate((busy, silent, reachable)):
        wait(clinic, patient, minutes_ago=10 - age)

    cancel(appointment)

    assert [o.entry.patient for o in WaitlistOffer.objects.all()] == [reachable]


def test_the_oldest_three_entries_get_the_offer_each_with_a_message(clinic, frozen):
    appointment = book(clinic, clinic.alice)
    waiting = patients(5)
    for age, patient in enumerate(waiting):
        wait(clinic, patient, minutes_ago=100 - age)  # P0 waited longest

    cancel(appointment)

    offers = WaitlistOffer.objects.order_by("entry__created_at")
    assert [o.entry.patient for o in offers] == waiting[:3]
    assert {(o.provider, o.start, o.freed_by_id) for o in offers} == {
        (clinic.dr_alvarez, clinic.at(MONDAY, 9), appointment.pk)
    }
    messages = Reminder.objects.filter(kind=MessageKind.WAITLIST_OFFER)
    assert sorted(m.offer_id for m in messages) == sorted(o.pk for o in offers)
    assert all(m.appointment_id is None and m.status == ReminderStatus.PENDING for m in messages)
    assert all(o.expires_at == NOW + timedelta(minutes=120) for o in offers)


def test_a_rolled_back_cancellation_offers_nothing(clinic, frozen):
    appointment = book(clinic, clinic.alice)
    wait(clinic, clinic.bob)

    with pytest.raises(RuntimeError), transaction.atomic():
        cancel(appointment)
        assert WaitlistOffer.objects.count() == 1  # made inside the cancellation's transaction
        raise RuntimeError("the caller's transaction fails after the cancellation")

    assert not WaitlistOffer.objects.exists()
    assert not Reminder.objects.filter(kind=MessageKind.WAITLIST_OFFER).exists()
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_a_failure_while_offering_leaves_the_cancellation_standing(clinic, frozen, monkeypatch):
    appointment = book(clinic, clinic.alice)
    wait(clinic, clinic.bob)

    def broken(**_):
        raise ValueError("bug in matching")

    monkeypatch.setattr(waitlist_services, "matching_entries", broken)
    cancel(appointment)

    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert not WaitlistOffer.objects.exists()


def test_an_offer_expires_two_hours_after_its_message_but_never_inside_the_notice(clinic, frozen, settings):
    # Monday 09:00 cancelled at Monday 06:30: quiet hours hold the message to 08:00, but the
    # visit's 120-minute notice closes offers at 07:00, so there is nothing to offer.
    appointment = book(clinic, clinic.alice)
    wait(clinic, clinic.bob)
    early = clinic.at(MONDAY, 6, 30)
    cancel(appointment, now=early)
    assert not WaitlistOffer.objects.exists()

    # Monday 13:00 cancelled at 08:30: the offer runs until 10:30, two hours after the message.
    later = book(clinic, clinic.alice, hour=13)
    cancel(later, now=clinic.at(MONDAY, 8, 30))
    offer = WaitlistOffer.objects.get()
    assert offer.expires_at == clinic.at(MONDAY, 10, 30)

    # Dr Chen's Monday 13:00 cancelled at 10:00: the notice (120 min) closes it at 11:00.
    chen = book(clinic, clinic.alice, hour=13, minute=0, provider=clinic.dr_chen)
    Appointment.objects.filter(pk=later.pk).update(status=Status.CANCELLED)
    cancel(chen, now=clinic.at(MONDAY, 10))
    assert WaitlistOffer.objects.get(provider=clinic.dr_chen).expires_at == clinic.at(MONDAY, 11)


# --- taking an offer ----------------------------------------------------------------------------


def offered(clinic, n=2):
    appointment = book(clinic, clinic.alice)
    waiting = patients(n)
    for age, patient in enumerate(waiting):
        wait(clinic, patient, minutes_ago=10 - age)
    cancel(appointment)
    return list(WaitlistOffer.objects.order_by("entry__created_at"))


def test_the_first_to_accept_gets_the_time_and_the_others_lose_it(clinic, frozen):
    first, second = offered(clinic)

    appointment = services.accept_offer(token=token_of(second))

    assert appointment.patient == second.entry.patient and appointment.status == Status.BOOKED
    assert appointment.start == clinic.at(MONDAY, 9) and appointment.provider == clinic.dr_alvarez
    first.refresh_from_db(), second.refresh_from_db()
    assert (second.status, second.appointment) == (OfferStatus.ACCEPTED, appointment)
    assert first.status == OfferStatus.LOST
    assert second.entry.status == WaitlistStatus.BOOKED
    assert WaitlistEntry.objects.get(pk=first.entry_id).status == WaitlistStatus.WAITING
    # Nothing more goes out about either offer; the new booking gets its own confirmation.
    assert not Reminder.objects.filter(offer__isnull=False, status=ReminderStatus.PENDING).exists()
    assert Reminder.objects.filter(appointment=appointment, kind=MessageKind.CONFIRMATION).exists()

    with pytest.raises(OfferClosed) as lost:
        services.accept_offer(token=token_of(first))
    assert (lost.value.code, lost.value.status) == ("offer_lost", 409)
    assert lost.value.alternatives  # other free times, to book instead


def test_an_offer_is_taken_once(clinic, frozen):
    (offer,) = offered(clinic, n=1)
    services.accept_offer(token=token_of(offer))

    with pytest.raises(OfferClosed) as again:
        services.accept_offer(token=token_of(offer))

    assert (again.value.code, again.value.status) == ("offer_used", 409)
    assert Appointment.objects.filter(status=Status.BOOKED, start=offer.start).count() == 1


def test_an_offer_past_its_expiry_is_refused_and_closed(clinic, frozen):
    (offer,) = offered(clinic, n=1)

    with pytest.raises(OfferClosed) as late:
        services.accept_offer(token=token_of(offer), now=offer.expires_at)

    assert (late.value.code, late.value.status) == ("offer_expired", 410)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.EXPIRED
    assert not Appointment.objects.filter(patient=offer.entry.patient).exists()


def test_an_offer_whose_time_was_booked_by_the_desk_is_lost_with_alternatives(clinic, frozen):
    (offer,) = offered(clinic, n=1)
    book(clinic, clinic.bob)  # the desk books the freed time for a caller

    with pytest.raises(OfferClosed) as taken:
        services.accept_offer(token=token_of(offer))

    assert taken.value.code == "offer_lost" and taken.value.alternatives
    offer.refresh_from_db()
    assert offer.status == OfferStatus.LOST


def test_an_unknown_token_is_not_found(clinic, frozen):
    offered(clinic, n=1)
    with pytest.raises(OfferNotFound):
        services.accept_offer(token="not-a-token")


def test_the_token_is_stored_only_as_its_sha256(clinic, frozen):
    (offer,) = offered(clinic, n=1)
    token = token_of(offer)

    assert offer.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM booking_waitlistoffer")
        rows = cursor.fetchall()
        cursor.execute("SELECT * FROM booking_reminder")
        rows += cursor.fetchall()
    assert not any(token in str(value) for row in rows for value in row)


# --- the expiry sweep ---------------------------------------------------------------------------


def test_the_sweep_expires_offers_and_offers_the_time_to_the_next_in_line(clinic, frozen, settings):
    settings.WAITLIST_OFFERS_PER_SLOT = 1
    first, *_ = offered(clinic, n=2)
    later = first.expires_at

    assert services.expire_waitlist_offers(now=later) == 1

    first.refresh_from_db()
    assert first.status == OfferStatus.EXPIRED
    assert first.entry.status == WaitlistStatus.WAITING
    assert Reminder.objects.get(offer=first).status == ReminderStatus.CANCELLED
    (second,) = WaitlistOffer.objects.open()
    assert second.entry.patient.first_name == "P1"
    assert services.expire_waitlist_offers(now=later) == 0  # nothing twice


def test_the_sweep_expires_entries_whose_last_date_passed(clinic, frozen):
    entry = wait(clinic, clinic.bob, latest_date=date(2026, 12, 4))
    services.expire_waitlist_offers(now=NOW)
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING  # still today in New York

    services.expire_waitlist_offers(now=clinic.at(date(2026, 12, 5), 0, 5))
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.EXPIRED


# --- the message ------------------------------------------------------------------------------


def test_the_offer_message_is_in_the_patients_language_with_the_link_and_no_clinical_details(
    clinic, frozen, mailoutbox, sms_outbox
):
    clinic.bob.preferred_language = Language.SPANISH
    clinic.bob.reminder_channel = ReminderChannel.BOTH
    clinic.bob.save()
    appointment = book(clinic, clinic.alice)
    Appointment.objects.filter(pk=appointment.pk).update(notes="trapezius, lidocaine 1%")
    wait(clinic, clinic.bob)
    cancel(appointment)
    offer = WaitlistOffer.objects.get()

    for row in Reminder.objects.filter(offer=offer):
        assert delivery.deliver(row.pk, now=NOW) == ReminderStatus.SENT

    link = rules.offer_url(offer.token_nonce)
    (mail,) = mailoutbox
    (text,) = sms_outbox
    assert mail.to == [clinic.bob.email] and "Hola Bob" in mail.body and link in mail.body
    assert "hay una hora libre" in text.body and link in text.body and text.to == str(clinic.bob.phone)
    assert "lunes 7 de diciembre de 2026" in mail.body
    assert "abierta hasta las 12:00 EST" in mail.body and "(hasta las 12:00 EST)" in text.body
    for body in (mail.subject + mail.body, text.body):
        assert words.clinical_words_in(body, [clinic.tpi.name, "trapezius", clinic.dr_alvarez.display_name]) == []


def test_an_offer_message_is_not_sent_once_the_offer_closed(clinic, frozen, mailoutbox):
    (offer,) = offered(clinic, n=1)
    row = Reminder.objects.get(offer=offer)
    WaitlistOffer.objects.filter(pk=offer.pk).update(status=OfferStatus.WITHDRAWN)

    assert delivery.deliver(row.pk, now=NOW) == ReminderStatus.CANCELLED
    assert mailoutbox == []


# --- entries and hand offers --------------------------------------------------------------------


def test_joining_twice_is_refused_and_withdrawing_closes_open_offers(clinic, frozen):
    (offer,) = offered(clinic, n=1)
    entry = offer.entry
    with pytest.raises(BookingError) as twice:
        wait(clinic, entry.patient)
    assert twice.value.code == "already_waiting"

    services.withdraw_from_waitlist(entry=entry, by=None, now=NOW)

    offer.refresh_from_db()
    assert (offer.entry.status, offer.status) == (WaitlistStatus.WITHDRAWN, OfferStatus.WITHDRAWN)
    assert Reminder.objects.get(offer=offer).status == ReminderStatus.CANCELLED
    with pytest.raises(OfferClosed) as gone:
        services.accept_offer(token=token_of(offer))
    assert gone.value.status == 410


def test_the_desk_offers_a_free_time_by_hand_but_not_a_taken_one(clinic, frozen, desk_user):
    entry = wait(clinic, clinic.bob, parts_of_day=["afternoon"])
    book(clinic, clinic.alice, hour=10)

    offer = services.offer_slot_to_entry(
        entry=entry, provider=clinic.dr_chen, start=clinic.at(MONDAY, 10), by=desk_user, now=NOW
    )

    assert (offer.created_by, offer.freed_by, offer.entry.status) == (desk_user, None, WaitlistStatus.OFFERED)
    assert Reminder.objects.filter(offer=offer).count() == 1
    with pytest.raises(BookingError) as taken:
        services.offer_slot_to_entry(
            entry=entry, provider=clinic.dr_alvarez, start=clinic.at(MONDAY, 10), by=desk_user, now=NOW
        )
    assert taken.value.status == 409


def test_stopping_a_series_offers_each_freed_session(clinic, frozen):
    from booking.scheduling.availability import STAFF_POLICY

    series = services.book_series(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        sessions=2,
        gap_days=14,
        tolerance_days=1,
        taper_days=[],
        preferred_time=time(9),
        first_date=MONDAY,
        by=None,
        policy=STAFF_POLICY,
        now=NOW,
    )
    entry = wait(clinic, clinic.bob)

    services.cancel_series_remaining(series=series, by=None, reason="moving away", now=NOW)

    starts = sorted(WaitlistOffer.objects.filter(entry=entry).values_list("start", flat=True))
    assert starts == [clinic.at(MONDAY, 9), clinic.at(MONDAY + timedelta(days=14), 9)]


def test_sending_an_appointment_message_reads_nothing_of_the_waitlist(clinic, frozen):
    appointment = book(clinic, clinic.alice)
    row = Reminder.objects.get(appointment=appointment, kind=MessageKind.CONFIRMATION)

    with CaptureQueriesContext(connection) as queries:
        assert delivery.deliver(row.pk, now=NOW) == ReminderStatus.SENT

    # Claim, read, templates (read afresh inside a test's transaction; cached in a worker), the
    # confirmation's single-use manage link, mark sent.
    assert len(queries) == 5
    assert not any("waitlist" in q["sql"] for q in queries)


def test_a_withdrawn_offer_goes_to_the_next_in_line(clinic, frozen, settings):
    settings.WAITLIST_OFFERS_PER_SLOT = 1
    first, *_ = offered(clinic, n=2)

    services.withdraw_from_waitlist(entry=first.entry, by=None, now=NOW)

    (now_open,) = WaitlistOffer.objects.open()
    assert now_open.entry.patient.first_name == "P1" and now_open.start == first.start


def test_accepting_withdraws_the_entrys_other_offers_and_passes_them_on(clinic, frozen, settings):
    settings.WAITLIST_OFFERS_PER_SLOT = 1
    nine, ten = book(clinic, clinic.alice, hour=9), book(clinic, clinic.alice, hour=10)
    first, second = patients(2)
    wait(clinic, first, minutes_ago=10)
    wait(clinic, second, minutes_ago=5)
    cancel(nine), cancel(ten)  # the first in line is offered both times
    offer_at_nine, offer_at_ten = WaitlistOffer.objects.order_by("start")
    assert offer_at_nine.entry.patient == offer_at_ten.entry.patient == first

    services.accept_offer(token=token_of(offer_at_nine), now=NOW)

    offer_at_ten.refresh_from_db()
    assert offer_at_ten.status == OfferStatus.WITHDRAWN
    (passed_on,) = WaitlistOffer.objects.open()
    assert (passed_on.entry.patient, passed_on.start) == (second, offer_at_ten.start)


def test_safety_answers_awaiting_review_keep_a_procedure_from_being_offered_or_taken(clinic, frozen):
    from patients.models import ReviewStatus, Screening

    flagged, reviewed, later = patients(3)
    Screening.objects.create(patient=flagged, blood_thinner=True, review_status=ReviewStatus.PENDING)
    Screening.objects.create(patient=reviewed, blood_thinner=True, review_status=ReviewStatus.APPROVED)
    appointment = book(clinic, clinic.alice)
    for age, patient in enumerate((flagged, reviewed, later)):
        wait(clinic, patient, minutes_ago=10 - age)

    cancel(appointment)

    offers = {o.entry.patient: o for o in WaitlistOffer.objects.all()}
    assert set(offers) == {reviewed, later}
    Screening.objects.create(patient=later, infection_near_site=True, review_status=ReviewStatus.PENDING)
    with pytest.raises(BookingError) as held:
        services.accept_offer(token=token_of(offers[later]))
    assert held.value.code == "screening_review"
    offers[later].refresh_from_db()
    assert offers[later].status == OfferStatus.OPEN and not Appointment.objects.filter(patient=later).exists()


def test_a_patient_is_not_offered_back_the_time_they_cancelled(clinic, frozen):
    appointment = book(clinic, clinic.alice)
    wait(clinic, clinic.alice)

    cancel(appointment)

    assert not WaitlistOffer.objects.exists()


def test_beat_runs_the_expiry_sweep_every_minute_through_a_thin_task(clinic, frozen):
    from django.conf import settings as django_settings

    from booking import tasks

    entry = django_settings.CELERY_BEAT_SCHEDULE["expire-waitlist-offers"]
    assert entry == {"task": tasks.expire_waitlist_offers.name, "schedule": 60.0}
    (offer,) = offered(clinic, n=1)
    frozen.move_to(offer.expires_at)

    assert tasks.expire_waitlist_offers() == 1
    offer.refresh_from_db()
    assert offer.status == OfferStatus.EXPIRED


def test_the_seeded_offer_texts_name_the_closing_time():
    from booking.models import MessageTemplate

    defaults = MessageTemplate.objects.filter(location__isnull=True, kind=MessageKind.WAITLIST_OFFER)
    assert defaults.count() == 4
    assert all("{{ offer_expires }}" in template.body for template in defaults)
