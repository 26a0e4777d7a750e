"""The series planner as a pure function: local wall time across DST, tolerance, needs_choice.

No database: each test builds a Schedule by hand. Providers work every day of the week, so only
what a test sets (closures, time off, taken slots) stands in a session's way.
"""

import os
import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.scheduling.availability import STAFF_POLICY, ProviderSchedule, Schedule, VisitRules, check_start
from booking.scheduling.series import (
    AlternativeKind,
    PlannedSession,
    SeriesRules,
    SessionChoice,
    SessionStatus,
    TimeNote,
    day_offsets,
    plan,
    planning_window,
)

ALVAREZ, CHEN = 1, 2
ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata"]
YEARS = range(2026, 2031)
LONG_AGO = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
# A 30-minute session with 5 minutes to tidy up, on a 15-minute grid; no room needed.
SESSION = VisitRules(
    duration=30 * 60,
    buffer_before=0,
    buffer_after=5 * 60,
    step=15 * 60,
    min_notice=0,
    horizon_days=90,
    needs_room=False,
)
DAY_HOURS = (time(7), time(20))
ALL_DAY = (time(0), time(23, 59))


def rules(first_date: date, **overrides) -> SeriesRules:
    values = {
        "sessions": 6,
        "first_date": first_date,
        "gap_days": 14,
        "tolerance_days": 2,
        "preferred_time": time(9),
        **overrides,
    }
    return SeriesRules(**values)


def schedule(zone: str, first_day: date, last_day: date, *, hours=DAY_HOURS, closed=(), busy=None) -> Schedule:
    """Two providers working `hours` every day; `busy` maps a provider to (start, end) datetimes."""
    busy = busy or {}
    providers = [
        ProviderSchedule(
            pid,
            {weekday: [hours] for weekday in range(7)},
            appointments=[(int(s.timestamp()), int(e.timestamp())) for s, e in busy.get(pid, ())],
        )
        for pid in (ALVAREZ, CHEN)
    ]
    return Schedule(
        tz=ZoneInfo(zone),
        rules=SESSION,
        first_day=first_day,
        last_day=last_day,
        now=LONG_AGO,
        closed_days=frozenset(closed),
        providers=providers,
        rooms={},
    )


def plan_in(zone: str, series: SeriesRules, *, choices=None, **schedule_kwargs) -> list[PlannedSession]:
    first_day, last_day = planning_window(series, ZoneInfo(zone), choices)
    return plan(
        schedule(zone, first_day, last_day, **schedule_kwargs),
        series,
        provider_id=ALVAREZ,
        policy=STAFF_POLICY,
        choices=choices,
    )


def local(session: PlannedSession, zone: str) -> datetime:
    assert session.start is not None
    return session.start.astimezone(ZoneInfo(zone))


def transitions(zone: str, year: int) -> list[date]:
    """Local dates on which the zone's UTC offset changes (early in the morning) during `year`."""
    tz = ZoneInfo(zone)
    days = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
    offsets = [datetime.combine(d, time(12), tzinfo=tz).utcoffset() for d in days]
    return [days[i] for i in range(1, len(days)) if offsets[i] != offsets[i - 1] and days[i].year == year]


def dst_cases() -> Iterator[tuple[str, date]]:
    for zone in ZONES:
        for year in YEARS:
            found = transitions(zone, year)
            if zone == "Asia/Kolkata":
                assert not found
                found = [date(year, 3, 29), date(year, 10, 25)]  # no DST: the same dates as London
            else:
                assert len(found) == 2, (zone, year, found)
            for day in found:
                yield zone, day


# --- local wall time across DST -------------------------------------------------------------------


@pytest.mark.parametrize("preferred", [time(9), time(18, 45)], ids=["0900", "1845"])
@pytest.mark.parametrize("gap", [7, 14])
@pytest.mark.parametrize(("zone", "transition"), list(dst_cases()), ids=lambda v: str(v))
def test_every_session_keeps_its_local_wall_time_across_each_dst_change(zone, transition, gap, preferred):
    # Session 4 falls on the day of the change itself, so the change lies between sessions 3 and 4.
    first = transition - timedelta(days=3 * gap)
    sessions = plan_in(zone, rules(first, gap_days=gap, preferred_time=preferred))

    assert [s.status for s in sessions] == [SessionStatus.FITS] * 6
    for k, session in enumerate(sessions):
        assert local(session, zone).date() == first + timedelta(days=k * gap)
        assert local(session, zone).time() == preferred
        assert session.time_note == ""
    changes = 0
    for before, after in zip(sessions, sessions[1:], strict=False):
        shift = local(after, zone).utcoffset() - local(before, zone).utcoffset()
        # Elapsed time between UTC instants (subtracting two datetimes in one zone is wall-clock time).
        assert after.start.astimezone(UTC) - before.start.astimezone(UTC) == timedelta(days=gap) - shift
        if shift:
            changes += 1
            assert abs(shift) == timedelta(hours=1)
    assert changes == (0 if zone == "Asia/Kolkata" else 1)


def test_a_local_time_that_does_not_exist_is_never_booked():
    # New York springs forward at 02:00 on 8 March 2026: 02:30 does not exist that day.
    zone = "America/New_York"
    sessions = plan_in(zone, rules(date(2026, 3, 8), sessions=3, gap_days=7, preferred_time=time(2, 30)), hours=ALL_DAY)

    first = local(sessions[0], zone)
    assert sessions[0].status == SessionStatus.FITS and sessions[0].time_note == TimeNote.NONEXISTENT
    # Read with the offset before the change (fold=0, as RFC 5545 does): 02:30 EST is 03:30 EDT.
    assert (first.date(), first.time(), first.utcoffset()) == (date(2026, 3, 8), time(3, 30), timedelta(hours=-4))
    for session in sessions[1:]:
        assert local(session, zone).time() == time(2, 30) and session.time_note == ""
    # Every start is a real instant: its wall time round-trips through UTC.
    for session in sessions:
        wall = local(session, zone)
        assert wall.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) == wall.replace(tzinfo=None)


def test_an_ambiguous_local_time_is_its_first_occurrence():
    # New York falls back at 02:00 on 1 November 2026: 01:30 happens at -04:00, then at -05:00.
    zone = "America/New_York"
    sessions = plan_in(zone, rules(date(2026, 11, 1), sessions=2, preferred_time=time(1, 30)), hours=ALL_DAY)

    first = local(sessions[0], zone)
    assert sessions[0].time_note == TimeNote.AMBIGUOUS
    assert (first.time(), first.utcoffset(), first.fold) == (time(1, 30), timedelta(hours=-4), 0)
    assert sessions[0].start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_london_ambiguous_time_is_resolved_the_same_way():
    zone = "Europe/London"
    sessions = plan_in(zone, rules(date(2026, 10, 25), sessions=1, preferred_time=time(1, 30)), hours=ALL_DAY)

    assert sessions[0].start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST, not 01:30 GMT


# --- tolerance, closures and needs_choice -----------------------------------------------------------

MONDAY = date(2026, 12, 7)
NY = "America/New_York"


def test_the_search_order_is_nearest_day_first_and_later_before_earlier():
    assert day_offsets(0) == [0]
    assert day_offsets(2) == [0, 1, -1, 2, -2]


def test_a_closure_inside_the_tolerance_moves_the_session_to_the_nearest_open_day():
    closed_day = MONDAY + timedelta(days=14)
    sessions = plan_in(NY, rules(MONDAY, sessions=3), closed={closed_day})

    moved = sessions[1]
    assert (moved.status, moved.day_offset) == (SessionStatus.MOVED, 1)
    assert local(moved, NY).date() == closed_day + timedelta(days=1)
    assert local(moved, NY).time() == time(9)
    # The next target counts from where the session went.
    assert sessions[2].target_date == closed_day + timedelta(days=15)
    assert sessions[2].status == SessionStatus.FITS


def test_when_the_later_day_is_closed_too_the_earlier_day_wins_over_two_days_later():
    target = MONDAY + timedelta(days=14)
    sessions = plan_in(NY, rules(MONDAY, sessions=2), closed={target, target + timedelta(days=1)})

    assert (sessions[1].status, sessions[1].day_offset) == (SessionStatus.MOVED, -1)


def test_a_closure_over_the_whole_tolerance_needs_a_choice_and_is_never_moved_outside_it():
    target = MONDAY + timedelta(days=14)
    closed = {target + timedelta(days=offset) for offset in range(-2, 3)}
    sessions = plan_in(NY, rules(MONDAY, sessions=3), closed=closed)

    blocked = sessions[1]
    assert blocked.status == SessionStatus.NEEDS_CHOICE
    assert (blocked.start, blocked.room_id, blocked.target_date) == (None, None, target)
    outside = [(a.kind, a.day_offset, a.start.astimezone(ZoneInfo(NY)).time()) for a in blocked.alternatives]
    assert outside == [
        (AlternativeKind.OUTSIDE_TOLERANCE, 3, time(9)),
        (AlternativeKind.OUTSIDE_TOLERANCE, -3, time(9)),
    ]
    # The next session counts from the target date, and still fits.
    assert sessions[2].target_date == target + timedelta(days=14)
    assert sessions[2].status == SessionStatus.FITS


def test_a_provider_away_for_the_whole_tolerance_offers_another_provider_on_the_target_day():
    target = MONDAY + timedelta(days=14)
    tz = ZoneInfo(NY)
    away = (
        datetime.combine(target - timedelta(days=2), time(0), tzinfo=tz),
        datetime.combine(target + timedelta(days=3), time(0), tzinfo=tz),
    )
    sessions = plan_in(NY, rules(MONDAY, sessions=2), busy={ALVAREZ: [away]})

    blocked = sessions[1]
    assert blocked.status == SessionStatus.NEEDS_CHOICE and blocked.provider_id == ALVAREZ
    other = blocked.alternatives[0]
    assert (other.kind, other.provider_id, other.day_offset) == (AlternativeKind.OTHER_PROVIDER, CHEN, 0)
    assert other.start.astimezone(tz).time() == time(9)
    assert [a.kind for a in blocked.alternatives[1:]] == [AlternativeKind.OUTSIDE_TOLERANCE] * 2


def test_a_taken_preferred_time_takes_the_nearest_time_on_the_same_day():
    tz = ZoneInfo(NY)
    taken = (datetime.combine(MONDAY, time(8, 45), tzinfo=tz), datetime.combine(MONDAY, time(9, 20), tzinfo=tz))
    sessions = plan_in(NY, rules(MONDAY, sessions=1), busy={ALVAREZ: [taken]})

    # 08:00 ends (with its 5-minute buffer) at 08:35, 09:30 is the first start after 09:20:
    # 09:30 is 30 minutes away, 08:00 is 60.
    assert sessions[0].status == SessionStatus.FITS
    assert local(sessions[0], NY).time() == time(9, 30)


def test_tolerance_zero_never_moves_a_session():
    target = MONDAY + timedelta(days=14)
    sessions = plan_in(NY, rules(MONDAY, sessions=2, tolerance_days=0), closed={target})

    assert sessions[1].status == SessionStatus.NEEDS_CHOICE


def test_taper_gaps_grow_then_keep_the_last_gap():
    sessions = plan_in(NY, rules(MONDAY, sessions=5, taper_days=(14, 21, 28)))

    gaps = [(b.target_date - a.target_date).days for a, b in zip(sessions, sessions[1:], strict=False)]
    assert gaps == [14, 21, 28, 28]


def test_sessions_of_one_plan_never_share_a_day_even_when_the_tolerance_exceeds_the_gap():
    sessions = plan_in(NY, rules(MONDAY, sessions=5, gap_days=1, tolerance_days=3), closed={MONDAY + timedelta(days=1)})

    days = [local(s, NY).date() for s in sessions]
    assert days == sorted(set(days))
    ends = [s.end for s in sessions]
    assert all(end <= later.start for end, later in zip(ends, sessions[1:], strict=False))


def test_a_choice_outside_the_tolerance_is_used_and_marked_chosen():
    tz = ZoneInfo(NY)
    target = MONDAY + timedelta(days=14)
    closed = {target + timedelta(days=offset) for offset in range(-2, 3)}
    pick = datetime.combine(target + timedelta(days=3), time(10), tzinfo=tz)
    sessions = plan_in(NY, rules(MONDAY, sessions=3), closed=closed, choices={2: SessionChoice(pick)})

    assert (sessions[1].status, sessions[1].start, sessions[1].pinned) == (SessionStatus.CHOSEN, pick, True)
    assert sessions[2].target_date == target + timedelta(days=17)


def test_a_choice_on_a_taken_time_is_marked_as_a_clash_with_alternatives():
    tz = ZoneInfo(NY)
    pick = datetime.combine(MONDAY, time(9), tzinfo=tz)
    sessions = plan_in(
        NY,
        rules(MONDAY, sessions=1),
        choices={1: SessionChoice(pick)},
        busy={ALVAREZ: [(pick, pick + timedelta(minutes=30))]},
    )

    clash = sessions[0]
    assert (clash.status, clash.clash, clash.problem, clash.start) == (
        SessionStatus.NEEDS_CHOICE,
        True,
        "slot_taken",
        None,
    )
    nearest = clash.alternatives[0]
    assert nearest.kind == AlternativeKind.WITHIN_TOLERANCE
    assert (nearest.provider_id, nearest.start.astimezone(tz).time()) == (ALVAREZ, time(9, 30))


def test_a_date_outside_the_loaded_schedule_is_never_proposed():
    series = rules(MONDAY, sessions=2)
    narrow = schedule(NY, MONDAY, MONDAY)
    sessions = plan(narrow, series, provider_id=ALVAREZ)

    assert [s.status for s in sessions] == [SessionStatus.FITS, SessionStatus.NEEDS_CHOICE]


# --- property-based ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, database=None)
@given(
    zone=st.sampled_from(ZONES),
    first=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    hour=st.integers(7, 19),
    quarter=st.sampled_from([0, 15, 30, 45]),
    gap=st.integers(7, 28),
    tolerance=st.integers(0, 3),
    count=st.integers(1, 8),
    closed_offsets=st.sets(st.integers(-3, 250), max_size=40),
)
def test_plan_properties(zone, first, hour, quarter, gap, tolerance, count, closed_offsets):
    preferred = time(hour, 0 if hour == 19 else quarter)
    closed = {first + timedelta(days=offset) for offset in closed_offsets}
    series = rules(first, sessions=count, gap_days=gap, tolerance_days=tolerance, preferred_time=preferred)
    window = planning_window(series, ZoneInfo(zone))
    built = schedule(zone, *window, closed=closed)
    sessions = plan(built, series, provider_id=ALVAREZ)

    assert [s.number for s in sessions] == list(range(1, count + 1))
    assert sessions[0].target_date == first
    previous = None
    for session in sessions:
        if previous is not None:
            assert session.target_date == previous.date + timedelta(days=gap)
        open_days = [o for o in day_offsets(tolerance) if session.target_date + timedelta(days=o) not in closed]
        if session.status == SessionStatus.NEEDS_CHOICE:
            assert session.start is None and not open_days
        else:
            # Placed on the nearest open day of the tolerance, at the preferred local time.
            assert session.day_offset == open_days[0]
            assert abs(session.day_offset) <= tolerance
            assert session.status == (SessionStatus.FITS if session.day_offset == 0 else SessionStatus.MOVED)
            assert local(session, zone).time() == preferred
            assert local(session, zone).date() == session.target_date + timedelta(days=session.day_offset)
            # What the plan proposes, the booking service's own check accepts.
            assert check_start(built, ALVAREZ, session.start, STAFF_POLICY)[0] is None
            if previous is not None and previous.start is not None:
                assert previous.end <= session.start
        previous = session


# --- the process time zone does not matter -----------------------------------------------------------


def _plan_under(process_zone: str) -> tuple[int, list]:
    """Plan in every zone with the process's own time zone set to `process_zone`, then restore it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = process_zone
    time_module.tzset()
    try:
        results = []
        for zone in ZONES:
            sessions = plan_in(zone, rules(date(2026, 3, 1), sessions=6, gap_days=14, preferred_time=time(9)))
            results.append([(s.status, s.start, s.room_id) for s in sessions])
        return time_module.timezone, results
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time_module.tzset()


def test_the_plan_is_the_same_whatever_the_server_time_zone():
    auckland_offset, in_auckland = _plan_under("Pacific/Auckland")
    utc_offset, in_utc = _plan_under("UTC")

    assert (auckland_offset, utc_offset) == (-12 * 3600, 0)  # the switch really happened
    assert in_auckland == in_utc
