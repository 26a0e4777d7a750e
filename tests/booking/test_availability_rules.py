"""The pure availability layer: slots from plain data, no database."""

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from booking.scheduling.availability import (
    PATIENT_POLICY,
    STAFF_POLICY,
    ProviderSchedule,
    Reason,
    Schedule,
    VisitRules,
    check_start,
    free_slots,
)
from booking.scheduling.availability import merged as _merge
from booking.scheduling.loading import slots_as_dicts, slots_json

NY = ZoneInfo("America/New_York")
MONDAY = date(2026, 12, 7)
NOW = int(datetime(2026, 12, 4, 15, 0, tzinfo=UTC).timestamp())
WEEKDAYS = {d: [(time(8), time(12)), (time(13), time(17))] for d in range(5)}


def rules(**overrides) -> VisitRules:
    values = {
        "duration": 30 * 60,
        "buffer_before": 0,
        "buffer_after": 0,
        "step": 15 * 60,
        "min_notice": 120 * 60,
        "horizon_days": 90,
        "needs_room": False,
    }
    values.update(overrides)
    return VisitRules(**values)


def local(day: date, hour: int, minute: int = 0, tz: ZoneInfo = NY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def span(day: date, start: tuple[int, int], end: tuple[int, int], tz: ZoneInfo = NY) -> tuple[int, int]:
    return int(local(day, *start, tz=tz).timestamp()), int(local(day, *end, tz=tz).timestamp())


def schedule(
    providers=None, *, first=MONDAY, last=MONDAY, now=NOW, closed=(), rooms=None, tz=NY, **rule_overrides
) -> Schedule:
    return Schedule(
        tz=tz,
        rules=rules(**rule_overrides),
        first_day=first,
        last_day=last,
        now=now,
        closed_days=frozenset(closed),
        providers=providers if providers is not None else [ProviderSchedule(1, WEEKDAYS)],
        rooms=rooms or {},
    )


def local_starts(slots) -> list[str]:
    return [s.start.astimezone(NY).strftime("%H:%M") for s in slots]


def test_slots_follow_the_grid_inside_each_working_range_and_skip_lunch():
    starts = local_starts(free_slots(schedule()))

    assert starts[:3] == ["08:00", "08:15", "08:30"]
    assert "11:30" in starts and "11:45" not in starts  # a 30-minute visit must end by 12:00
    assert "12:00" not in starts and "13:00" in starts
    assert starts[-1] == "16:30"
    assert len(starts) == 2 * 15


def test_slots_are_aware_utc_instants_at_the_local_wall_time():
    slot = free_slots(schedule())[0]

    assert slot.start.tzinfo is UTC
    assert slot.start == local(MONDAY, 8)
    assert slot.end - slot.start == timedelta(minutes=30)


def test_busy_time_removes_overlapping_slots_and_back_to_back_is_free():
    provider = ProviderSchedule(1, WEEKDAYS, appointments=[span(MONDAY, (9, 0), (9, 30))])
    starts = local_starts(free_slots(schedule([provider])))

    assert "08:30" in starts  # ends 09:00, back to back with the booked visit
    assert "08:45" not in starts and "09:00" not in starts and "09:15" not in starts
    assert "09:30" in starts


def test_buffers_widen_the_span_a_visit_keeps_from_others():
    provider = ProviderSchedule(1, WEEKDAYS, appointments=[span(MONDAY, (9, 0), (9, 35))])  # booked incl. buffer
    starts = local_starts(free_slots(schedule([provider], buffer_before=10 * 60)))

    assert "09:30" not in starts  # its 10-minute lead-in would start at 09:20
    assert "09:45" in starts


def test_time_off_and_closures_remove_slots():
    away = ProviderSchedule(1, WEEKDAYS, time_off=[span(MONDAY, (13, 0), (17, 0))])
    tuesday = MONDAY + timedelta(days=1)

    monday_starts = local_starts(free_slots(schedule([away])))
    assert monday_starts[-1] == "11:30"
    assert free_slots(schedule(closed={MONDAY}, last=tuesday))[0].start == local(tuesday, 8)


def test_minimum_notice_and_the_past_are_never_offered():
    now = int(local(MONDAY, 9, 5).timestamp())
    starts = local_starts(free_slots(schedule(now=now, min_notice=60 * 60)))

    assert starts[0] == "10:15"  # 09:05 + 60 minutes, rounded up to the grid


def test_horizon_limits_patients_but_not_staff():
    far = MONDAY + timedelta(days=95)
    sched = schedule(first=far, last=far + timedelta(days=3))

    assert free_slots(sched, PATIENT_POLICY) == []
    assert free_slots(sched, STAFF_POLICY) != []


def test_a_visit_that_needs_a_room_is_offered_only_with_a_free_room_and_names_it():
    both_taken = {10: [span(MONDAY, (8, 0), (9, 0))], 11: [span(MONDAY, (8, 0), (8, 30))]}
    slots = free_slots(schedule(rooms=both_taken, needs_room=True))
    by_time = {s.start.astimezone(NY).strftime("%H:%M"): s.room_id for s in slots}

    assert "08:00" not in by_time and "08:15" not in by_time
    assert by_time["08:30"] == 11  # room 10 is still busy until 09:00
    assert by_time["09:00"] == 10


def test_no_room_at_all_means_no_slots_for_a_room_visit():
    assert free_slots(schedule(needs_room=True)) == []


def test_several_providers_come_sorted_by_start_then_provider():
    slots = free_slots(schedule([ProviderSchedule(2, WEEKDAYS), ProviderSchedule(1, WEEKDAYS)]))

    assert [(local_starts([s])[0], s.provider_id) for s in slots[:4]] == [
        ("08:00", 1),
        ("08:00", 2),
        ("08:15", 1),
        ("08:15", 2),
    ]


def test_working_hours_keep_local_wall_time_on_daylight_saving_days():
    spring = date(2026, 3, 9)  # Monday after the US spring-forward (8 March)
    autumn = date(2026, 11, 2)  # Monday after fall-back (1 November)
    now = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    for day in (date(2026, 3, 2), spring, date(2026, 10, 26), autumn):
        first = free_slots(schedule(first=day, last=day, now=now), STAFF_POLICY)[0]
        assert first.start.astimezone(NY).time() == time(8)


def test_hours_on_the_transition_night_count_real_elapsed_time():
    sunday = date(2026, 3, 8)  # 02:00 jumps to 03:00
    night = ProviderSchedule(1, {6: [(time(1), time(4))]})
    now = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    slots = free_slots(schedule([night], first=sunday, last=sunday, now=now, step=30 * 60), STAFF_POLICY)

    # 01:00–04:00 on that night is two real hours: 01:00, 01:30, then 03:00, 03:30 local.
    assert [s.start.astimezone(NY).strftime("%H:%M") for s in slots] == ["01:00", "01:30", "03:00", "03:30"]


def test_check_start_gives_the_specific_reason():
    provider = ProviderSchedule(
        1,
        WEEKDAYS,
        appointments=[span(MONDAY, (9, 0), (9, 30))],
        time_off=[span(MONDAY, (15, 0), (17, 0))],
    )
    sched = schedule([provider], closed={MONDAY + timedelta(days=1)})
    cases = {
        local(date(2026, 12, 1), 9): Reason.IN_PAST,
        datetime.fromtimestamp(NOW + 3600, UTC): Reason.MIN_NOTICE,
        local(MONDAY + timedelta(days=1), 9): Reason.CLOSED,
        local(MONDAY, 12, 0): Reason.OUTSIDE_HOURS,
        local(MONDAY, 11, 45): Reason.OUTSIDE_HOURS,  # would end 12:15
        local(MONDAY, 8, 10): Reason.OFF_GRID,
        local(MONDAY, 15, 0): Reason.TIME_OFF,
        local(MONDAY, 9, 15): Reason.SLOT_TAKEN,
        local(MONDAY + timedelta(days=120), 9): Reason.BEYOND_HORIZON,
    }
    for start, reason in cases.items():
        assert check_start(sched, 1, start, PATIENT_POLICY)[0] == reason, start
    assert check_start(sched, 1, local(MONDAY, 9, 30), PATIENT_POLICY) == (None, None)


def test_staff_may_book_off_the_grid_but_not_over_a_visit():
    provider = ProviderSchedule(1, WEEKDAYS, appointments=[span(MONDAY, (9, 0), (9, 30))])
    sched = schedule([provider])

    assert check_start(sched, 1, local(MONDAY, 8, 10), STAFF_POLICY) == (None, None)
    assert check_start(sched, 1, local(MONDAY, 8, 40), STAFF_POLICY)[0] == Reason.SLOT_TAKEN


def test_every_listed_slot_passes_the_booking_check():
    provider = ProviderSchedule(
        1,
        WEEKDAYS,
        appointments=[span(MONDAY, (9, 5), (9, 50)), span(MONDAY, (14, 0), (14, 20))],
        time_off=[span(MONDAY, (16, 0), (16, 40))],
    )
    sched = schedule([provider], rooms={7: [span(MONDAY, (10, 0), (10, 30))]}, needs_room=True, buffer_after=300)
    slots = free_slots(sched)

    assert slots
    for slot in slots:
        assert check_start(sched, 1, slot.start, PATIENT_POLICY) == (None, slot.room_id)


busy_minutes = st.lists(
    st.tuples(st.integers(min_value=7 * 60, max_value=17 * 60), st.integers(min_value=5, max_value=120)), max_size=8
)


@settings(max_examples=150, deadline=None)
@given(
    appointments=busy_minutes,
    room_busy=busy_minutes,
    step=st.sampled_from([5, 10, 15, 30]),
    duration=st.sampled_from([15, 30, 45]),
    before=st.sampled_from([0, 5, 10]),
    after=st.sampled_from([0, 5]),
    needs_room=st.booleans(),
)
def test_slots_are_exactly_the_grid_starts_the_booking_check_accepts(
    appointments, room_busy, step, duration, before, after, needs_room
):
    def to_span(start_minute: int, length: int) -> tuple[int, int]:
        start = local(MONDAY, 0) + timedelta(minutes=start_minute)
        return int(start.timestamp()), int((start + timedelta(minutes=length)).timestamp())

    provider = ProviderSchedule(1, WEEKDAYS, appointments=[to_span(*a) for a in appointments])
    sched = schedule(
        [provider],
        rooms={3: sorted(to_span(*r) for r in room_busy)} if needs_room else None,
        needs_room=needs_room,
        step=step * 60,
        duration=duration * 60,
        buffer_before=before * 60,
        buffer_after=after * 60,
    )
    sched.rooms = {room: _merge(spans) for room, spans in sched.rooms.items()}
    listed = {s.start: s.room_id for s in free_slots(sched)}

    for wall_start, wall_end in WEEKDAYS[0]:
        start = local(MONDAY, wall_start.hour)
        while start + timedelta(minutes=duration) <= local(MONDAY, wall_end.hour):
            reason, room = check_start(sched, 1, start, PATIENT_POLICY)
            assert (reason is None) == (start in listed), (start, reason)
            if reason is None:
                assert listed[start] == room
            start += timedelta(minutes=step)


def test_the_fast_json_writer_says_exactly_what_json_dumps_would():
    with_rooms = free_slots(schedule(rooms={4: [span(MONDAY, (9, 0), (10, 0))], 5: []}, needs_room=True))
    without = free_slots(schedule())
    for slots in (with_rooms, without, []):
        assert json.loads(slots_json(slots, NY)) == slots_as_dicts(slots, NY)
    assert slots_as_dicts(without, NY)[0] == {
        "start": "2026-12-07T08:00:00-05:00",
        "end": "2026-12-07T08:30:00-05:00",
        "provider": 1,
        "room": None,
    }
