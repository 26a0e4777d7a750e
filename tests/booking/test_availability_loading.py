"""Loading availability from the database: what blocks time, and a flat number of queries."""

from datetime import time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking import services
from booking.models import Appointment, Status
from booking.scheduling.availability import STAFF_POLICY
from booking.scheduling.loading import find_slots
from clinic.models import Closure, TimeOff
from tests.conftest import MONDAY, NOW
from tests.factories import make_hours, make_location, make_patient, make_provider

pytestmark = pytest.mark.django_db


def slots_for(clinic, provider=None, first=MONDAY, last=MONDAY, visit_type=None):
    return find_slots(
        visit_type=visit_type or clinic.tpi,
        location=clinic.location,
        first_day=first,
        last_day=last,
        provider_ids=[provider.pk] if provider else None,
        now=NOW,
    )


def book(clinic, start, provider=None, patient=None, **kwargs):
    return services.book_appointment(
        patient=patient or clinic.alice,
        provider=provider or clinic.dr_alvarez,
        visit_type=kwargs.pop("visit_type", clinic.tpi),
        location=clinic.location,
        start=start,
        by=None,
        now=NOW,
        **kwargs,
    )


def test_a_booked_visit_and_its_buffer_block_the_provider(clinic):
    book(clinic, clinic.at(MONDAY, 9))
    starts = {s.start for s in slots_for(clinic, clinic.dr_alvarez)}

    assert clinic.at(MONDAY, 9) not in starts
    assert clinic.at(MONDAY, 9, 30) not in starts  # the 5-minute tidy-up runs to 09:35
    assert clinic.at(MONDAY, 9, 45) in starts
    assert clinic.at(MONDAY, 9) in {s.start for s in slots_for(clinic, clinic.dr_chen)}


def test_cancelled_visits_and_expired_holds_free_their_time(clinic):
    held = book(clinic, clinic.at(MONDAY, 9), hold=True)
    cancelled = book(clinic, clinic.at(MONDAY, 10))
    services.cancel_appointment(appointment=cancelled, by=None, reason="patient called", now=NOW)

    starts = {s.start for s in slots_for(clinic, clinic.dr_alvarez)}
    assert clinic.at(MONDAY, 9) not in starts  # a live hold occupies
    assert clinic.at(MONDAY, 10) in starts

    Appointment.objects.filter(pk=held.pk).update(hold_expires_at=NOW - timedelta(seconds=1))
    assert clinic.at(MONDAY, 9) in {s.start for s in slots_for(clinic, clinic.dr_alvarez)}


def test_a_visit_at_another_location_blocks_the_provider_here(clinic):
    elsewhere = make_location(name="Northside", timezone="America/New_York")
    clinic.dr_alvarez.locations.add(elsewhere)
    Appointment.objects.create(
        patient=clinic.bob,
        provider=clinic.dr_alvarez,
        location=elsewhere,
        visit_type=clinic.tpi,
        start=clinic.at(MONDAY, 10),
        end=clinic.at(MONDAY, 10, 30),
        block_start=clinic.at(MONDAY, 10),
        block_end=clinic.at(MONDAY, 10, 30),
        status=Status.BOOKED,
    )
    assert clinic.at(MONDAY, 10) not in {s.start for s in slots_for(clinic, clinic.dr_alvarez)}


def test_rooms_limit_how_many_providers_see_patients_at_once(clinic):
    third = make_provider(
        display_name="Ana Ruiz", locations=[clinic.location], visit_types=[clinic.tpi, clinic.evaluation]
    )
    make_hours(third, clinic.location, weekday=MONDAY.weekday(), start=time(8), end=time(12))
    book(clinic, clinic.at(MONDAY, 9), clinic.dr_alvarez)
    book(clinic, clinic.at(MONDAY, 9), clinic.dr_chen, clinic.bob)

    nine = [s for s in slots_for(clinic) if s.start == clinic.at(MONDAY, 9)]
    assert nine == []  # both rooms are in use, so the third provider has no slot
    no_room_needed = clinic.evaluation
    no_room_needed.needs_room = False
    no_room_needed.save()
    at_nine = [s.provider_id for s in slots_for(clinic, visit_type=no_room_needed) if s.start == clinic.at(MONDAY, 9)]
    assert at_nine == [third.pk]


def test_closures_and_time_off_from_the_database_remove_days_and_hours(clinic):
    Closure.objects.create(location=clinic.location, start_date=MONDAY, end_date=MONDAY, reason="Staff training")
    TimeOff.objects.create(
        provider=clinic.dr_chen,
        start=clinic.at(MONDAY, 8) + timedelta(days=1),
        end=clinic.at(MONDAY, 17) + timedelta(days=1),
    )
    slots = slots_for(clinic, first=MONDAY, last=MONDAY + timedelta(days=1))

    assert all(s.start.astimezone(clinic.location.tz).date() != MONDAY for s in slots)
    assert {s.provider_id for s in slots} == {clinic.dr_alvarez.pk}


def test_providers_who_do_not_offer_the_visit_get_no_slots(clinic):
    clinic.dr_chen.visit_types.remove(clinic.tpi)
    assert {s.provider_id for s in slots_for(clinic)} == {clinic.dr_alvarez.pk}


def count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured)


def test_query_count_is_the_same_for_1_or_10_providers_and_1_or_30_days(clinic):
    for i in range(8):
        provider = make_provider(display_name=f"Provider {i}", locations=[clinic.location], visit_types=[clinic.tpi])
        for weekday in range(5):
            make_hours(provider, clinic.location, weekday=weekday, start=time(8), end=time(17))
        if i < 2:
            patient = make_patient(first_name=f"Patient {i}")
            book(clinic, clinic.at(MONDAY, 9), provider, patient, policy=STAFF_POLICY)
    last = MONDAY + timedelta(days=29)

    one_provider_one_day = count_queries(lambda: slots_for(clinic, clinic.dr_alvarez))
    one_provider_month = count_queries(lambda: slots_for(clinic, clinic.dr_alvarez, last=last))
    all_providers_one_day = count_queries(lambda: slots_for(clinic))
    all_providers_month = count_queries(lambda: slots_for(clinic, last=last))

    assert one_provider_one_day == one_provider_month == all_providers_one_day == all_providers_month
    assert all_providers_month == 1  # one round trip, whatever the range
