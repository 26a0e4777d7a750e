"""The booking service: the only write path for appointments."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from booking import services
from booking.errors import BookingError, InvalidTransition, SlotTaken
from booking.models import Appointment, AppointmentEvent, EventAction, Status
from booking.scheduling.availability import STAFF_POLICY
from booking.services import write_path
from clinic.models import Closure, TimeOff
from tests.conftest import MONDAY, NOW

pytestmark = pytest.mark.django_db


def book(clinic, start, provider=None, patient=None, **kwargs):
    kwargs.setdefault("now", NOW)
    return services.book_appointment(
        patient=patient or clinic.alice,
        provider=provider or clinic.dr_alvarez,
        visit_type=kwargs.pop("visit_type", clinic.tpi),
        location=clinic.location,
        start=start,
        by=kwargs.pop("by", None),
        **kwargs,
    )


def refusal(fn) -> str:
    with pytest.raises(BookingError) as caught:
        fn()
    return caught.value.code


def test_booking_stores_utc_instants_the_buffered_span_a_room_and_who_booked(clinic, desk_user):
    appointment = book(clinic, clinic.at(MONDAY, 9), by=desk_user)

    assert appointment.status == Status.BOOKED
    assert appointment.start == clinic.at(MONDAY, 9) and appointment.start.utcoffset() == timedelta(0)
    assert appointment.end - appointment.start == timedelta(minutes=30)
    assert appointment.block_end - appointment.end == timedelta(minutes=5)
    assert appointment.room in clinic.rooms
    event = appointment.events.get()
    assert (event.action, event.by, event.at, event.to_status) == (EventAction.BOOKED, desk_user, NOW, Status.BOOKED)


def test_back_to_back_sessions_do_not_conflict(clinic):
    first = book(clinic, clinic.at(MONDAY, 9))
    second = book(clinic, clinic.at(MONDAY, 9, 35), patient=clinic.bob, policy=STAFF_POLICY)

    assert second.block_start == first.block_end


def test_overlapping_booking_is_refused_with_alternatives(clinic):
    book(clinic, clinic.at(MONDAY, 9))

    with pytest.raises(SlotTaken) as caught:
        book(clinic, clinic.at(MONDAY, 9), patient=clinic.bob)

    alternatives = caught.value.alternatives
    same_provider = [a for a in alternatives if a["kind"] == "same_provider"]
    other_provider = [a for a in alternatives if a["kind"] == "other_provider"]
    assert same_provider[0]["start"] == "2026-12-07T09:45:00-05:00"
    assert all(a["provider"] == clinic.dr_alvarez.pk for a in same_provider)
    assert [(a["start"], a["provider"]) for a in other_provider] == [("2026-12-07T09:00:00-05:00", clinic.dr_chen.pk)]
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize(
    ("when", "code"),
    [
        ("past", "in_past"),
        ("notice", "min_notice"),
        ("evening", "outside_working_hours"),
        ("lunch", "outside_working_hours"),
        ("closure", "location_closed"),
        ("time_off", "provider_time_off"),
        ("off_grid", "off_slot_grid"),
        ("horizon", "beyond_horizon"),
    ],
)
def test_a_booking_against_the_rules_is_refused_with_a_specific_reason(clinic, when, code):
    tuesday = MONDAY + timedelta(days=1)
    Closure.objects.create(location=clinic.location, start_date=tuesday, end_date=tuesday, reason="Holiday")
    TimeOff.objects.create(provider=clinic.dr_alvarez, start=clinic.at(MONDAY, 14), end=clinic.at(MONDAY, 17))
    starts = {
        "past": NOW - timedelta(hours=1),
        "notice": NOW + timedelta(hours=1),
        "evening": clinic.at(MONDAY, 18),
        "lunch": clinic.at(MONDAY, 12),
        "closure": clinic.at(tuesday, 9),
        "time_off": clinic.at(MONDAY, 15),
        "off_grid": clinic.at(MONDAY, 9, 10),
        "horizon": clinic.at(MONDAY + timedelta(days=100), 9),
    }

    assert refusal(lambda: book(clinic, starts[when].replace(second=0, microsecond=0))) == code
    assert Appointment.objects.count() == 0


def test_staff_may_book_off_the_grid_and_past_the_horizon_but_never_over_a_visit(clinic):
    book(clinic, clinic.at(MONDAY, 9, 10), policy=STAFF_POLICY)
    book(clinic, clinic.at(MONDAY + timedelta(days=120), 9), policy=STAFF_POLICY)

    assert refusal(lambda: book(clinic, clinic.at(MONDAY, 9, 30), patient=clinic.bob, policy=STAFF_POLICY)) == (
        "slot_taken"
    )


def test_visits_not_bookable_online_are_refused_to_patients_only(clinic):
    clinic.tpi.bookable_online = False
    clinic.tpi.save()

    assert refusal(lambda: book(clinic, clinic.at(MONDAY, 9))) == "not_bookable_online"
    assert book(clinic, clinic.at(MONDAY, 9), policy=STAFF_POLICY).status == Status.BOOKED


def test_a_provider_who_does_not_offer_the_visit_is_refused(clinic):
    clinic.dr_chen.visit_types.clear()
    assert refusal(lambda: book(clinic, clinic.at(MONDAY, 9), clinic.dr_chen)) == "not_offered"


def test_seconds_and_naive_times_are_refused(clinic):
    assert refusal(lambda: book(clinic, clinic.at(MONDAY, 9).replace(second=30))) == "invalid_start"
    assert refusal(lambda: book(clinic, clinic.at(MONDAY, 9).replace(tzinfo=None))) == "invalid_start"


def test_the_last_free_room_goes_to_one_provider_only(clinic):
    clinic.rooms[1].is_active = False
    clinic.rooms[1].save()
    book(clinic, clinic.at(MONDAY, 9))

    with pytest.raises(SlotTaken) as caught:
        book(clinic, clinic.at(MONDAY, 9), clinic.dr_chen, clinic.bob)
    assert "room" in caught.value.detail


def test_a_hold_occupies_the_slot_until_it_expires(clinic, settings):
    settings.BOOKING_HOLD_MINUTES = 10
    hold = book(clinic, clinic.at(MONDAY, 9), hold=True)
    assert hold.status == Status.HELD and hold.hold_expires_at == NOW + timedelta(minutes=10)

    assert refusal(lambda: book(clinic, clinic.at(MONDAY, 9), patient=clinic.bob)) == "slot_taken"

    later = NOW + timedelta(minutes=11)
    taken = book(clinic, clinic.at(MONDAY, 9), patient=clinic.bob, now=later)
    hold.refresh_from_db()
    assert hold.status == Status.EXPIRED
    assert taken.status == Status.BOOKED
    assert hold.events.last().action == EventAction.EXPIRED


def test_a_live_hold_is_confirmed_once_and_an_expired_one_must_be_picked_again(clinic):
    hold = book(clinic, clinic.at(MONDAY, 9), hold=True)
    confirmed = services.confirm_hold(appointment=hold, by=None, now=NOW + timedelta(minutes=1))
    assert confirmed.status == Status.BOOKED and confirmed.hold_expires_at is None
    assert services.confirm_hold(appointment=hold, by=None, now=NOW + timedelta(minutes=2)).status == Status.BOOKED

    stale = book(clinic, clinic.at(MONDAY, 10), hold=True)
    with pytest.raises(BookingError) as caught:
        services.confirm_hold(appointment=stale, by=None, now=NOW + timedelta(hours=1))
    assert caught.value.code == "hold_expired"


def test_expire_holds_sweeps_only_holds_that_ran_out(clinic):
    stale = book(clinic, clinic.at(MONDAY, 9), hold=True)
    fresh = book(clinic, clinic.at(MONDAY, 10), hold=True, now=NOW + timedelta(minutes=8))

    assert services.expire_holds(now=NOW + timedelta(minutes=11)) == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (Status.EXPIRED, Status.HELD)


def test_move_changes_time_and_provider_and_records_from_and_to(clinic, desk_user):
    appointment = book(clinic, clinic.at(MONDAY, 9))
    moved = services.move_appointment(
        appointment=appointment,
        start=clinic.at(MONDAY, 14),
        provider=clinic.dr_chen,
        by=desk_user,
        reason="patient asked",
        now=NOW,
    )

    assert (moved.start, moved.provider) == (clinic.at(MONDAY, 14), clinic.dr_chen)
    event = moved.events.last()
    assert (event.action, event.by, event.from_start, event.to_start) == (
        EventAction.MOVED,
        desk_user,
        clinic.at(MONDAY, 9),
        clinic.at(MONDAY, 14),
    )
    assert (event.from_provider_id, event.to_provider_id) == (clinic.dr_alvarez.pk, clinic.dr_chen.pk)
    # The old time is free again.
    assert book(clinic, clinic.at(MONDAY, 9), patient=clinic.bob).status == Status.BOOKED


def test_moving_a_visit_a_little_later_does_not_conflict_with_itself(clinic):
    appointment = book(clinic, clinic.at(MONDAY, 9))
    moved = services.move_appointment(appointment=appointment, start=clinic.at(MONDAY, 9, 15), by=None, now=NOW)
    assert moved.start == clinic.at(MONDAY, 9, 15)


def test_moving_onto_a_taken_slot_is_refused_and_changes_nothing(clinic):
    mine = book(clinic, clinic.at(MONDAY, 9))
    book(clinic, clinic.at(MONDAY, 11), patient=clinic.bob)

    with pytest.raises(SlotTaken) as caught:
        services.move_appointment(appointment=mine, start=clinic.at(MONDAY, 11), by=None, now=NOW)

    assert caught.value.alternatives
    mine.refresh_from_db()
    assert mine.start == clinic.at(MONDAY, 9)
    assert mine.events.count() == 1


def test_cancel_frees_the_slot_keeps_the_reason_and_cannot_happen_twice(clinic, desk_user):
    appointment = book(clinic, clinic.at(MONDAY, 9))
    cancelled = services.cancel_appointment(appointment=appointment, by=desk_user, reason="  sick  ", now=NOW)

    assert (cancelled.status, cancelled.cancel_reason) == (Status.CANCELLED, "sick")
    assert cancelled.events.last().by == desk_user
    assert book(clinic, clinic.at(MONDAY, 9), patient=clinic.bob).status == Status.BOOKED
    with pytest.raises(InvalidTransition):
        services.cancel_appointment(appointment=appointment, by=desk_user, reason="again", now=NOW)
    with pytest.raises(InvalidTransition):
        services.move_appointment(appointment=appointment, start=clinic.at(MONDAY, 14), by=None, now=NOW)


def test_cancel_needs_a_reason(clinic):
    appointment = book(clinic, clinic.at(MONDAY, 9))
    assert refusal(lambda: services.cancel_appointment(appointment=appointment, by=None, reason=" ", now=NOW)) == (
        "reason_required"
    )


def test_check_in_on_the_day_then_complete(clinic, desk_user):
    appointment = book(clinic, clinic.at(MONDAY, 9))
    the_day = clinic.at(MONDAY, 8, 50)

    assert refusal(lambda: services.check_in(appointment=appointment, by=desk_user, now=NOW)) == "not_today"
    services.check_in(appointment=appointment, by=desk_user, now=the_day)
    with pytest.raises(InvalidTransition):
        services.check_in(appointment=appointment, by=desk_user, now=the_day)
    done = services.complete_appointment(appointment=appointment, by=desk_user, now=clinic.at(MONDAY, 9, 30))
    assert done.status == Status.COMPLETED
    assert [e.action for e in done.events.all()] == ["booked", "checked_in", "completed"]
    # A completed visit still occupies its time.
    assert refusal(lambda: book(clinic, clinic.at(MONDAY, 9), patient=clinic.bob, policy=STAFF_POLICY)) == (
        "slot_taken"
    )


def test_no_show_only_after_the_start_and_it_frees_nothing_twice(clinic, desk_user):
    appointment = book(clinic, clinic.at(MONDAY, 9))

    assert refusal(lambda: services.mark_no_show(appointment=appointment, by=desk_user, now=NOW)) == "not_started"
    marked = services.mark_no_show(appointment=appointment, by=desk_user, now=clinic.at(MONDAY, 9, 20))
    assert marked.status == Status.NO_SHOW
    with pytest.raises(InvalidTransition):
        services.check_in(appointment=appointment, by=desk_user, now=clinic.at(MONDAY, 9, 21))


def test_the_database_itself_refuses_overlapping_rows_written_around_the_service(clinic):
    first = book(clinic, clinic.at(MONDAY, 9))

    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Appointment.objects.create(
            patient=clinic.bob,
            provider=clinic.dr_alvarez,
            location=clinic.location,
            visit_type=clinic.tpi,
            start=first.start + timedelta(minutes=15),
            end=first.end + timedelta(minutes=15),
            block_start=first.start + timedelta(minutes=15),
            block_end=first.end + timedelta(minutes=15),
            status=Status.BOOKED,
        )
    assert "no_provider_overlap" in str(caught.value)


def test_the_database_refuses_two_visits_in_one_room(clinic):
    first = book(clinic, clinic.at(MONDAY, 9))

    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Appointment.objects.create(
            patient=clinic.bob,
            provider=clinic.dr_chen,
            location=clinic.location,
            visit_type=clinic.tpi,
            room=first.room,
            start=first.start,
            end=first.end,
            block_start=first.block_start,
            block_end=first.block_end,
            status=Status.BOOKED,
        )
    assert "no_room_overlap" in str(caught.value)


def test_a_crash_after_the_insert_leaves_no_appointment_behind(clinic, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("power cut between the insert and the audit row")

    monkeypatch.setattr(write_path, "record", crash)
    with pytest.raises(RuntimeError):
        book(clinic, clinic.at(MONDAY, 9))

    assert Appointment.objects.count() == 0
    assert AppointmentEvent.objects.count() == 0


def test_a_patient_cannot_be_in_two_visits_at_once(clinic):
    book(clinic, clinic.at(MONDAY, 9))

    assert refusal(lambda: book(clinic, clinic.at(MONDAY, 9, 15), clinic.dr_chen)) == "patient_has_visit"
    assert book(clinic, clinic.at(MONDAY, 9, 30), clinic.dr_chen).status == Status.BOOKED  # right after is fine


def test_moving_a_visit_checks_the_patients_other_visits_but_not_itself(clinic):
    first = book(clinic, clinic.at(MONDAY, 9))
    book(clinic, clinic.at(MONDAY, 11), clinic.dr_chen)

    assert services.move_appointment(appointment=first, start=clinic.at(MONDAY, 9, 15), by=None, now=NOW)
    with pytest.raises(BookingError) as caught:
        services.move_appointment(appointment=first, start=clinic.at(MONDAY, 11), by=None, now=NOW)
    assert caught.value.code == "patient_has_visit"
