"""Free slots: which (provider, room, start) a visit type can be booked at.

Two layers:
- `booking.scheduling.loading.load_schedule` reads everything for a location, visit type and
  date range in a fixed number of queries (whatever the number of days and providers);
- `free_slots` and `check_start` here are pure functions over that data. The patient pages, the desk
  calendar, the API, the booking service's own check and the 409 alternatives all use them, so a
  slot that is shown is a slot the service accepts.

Inside the pure layer, instants are integer UTC epoch seconds: it keeps the sweep cheap.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from clinic.models import VisitType

MAX_RANGE_DAYS = 90
Interval = tuple[int, int]  # [start, end) in UTC epoch seconds


class Reason:
    """Why a start cannot be booked; the API returns these codes."""

    IN_PAST = "in_past"
    MIN_NOTICE = "min_notice"
    BEYOND_HORIZON = "beyond_horizon"
    CLOSED = "location_closed"
    OUTSIDE_HOURS = "outside_working_hours"
    TIME_OFF = "provider_time_off"
    OFF_GRID = "off_slot_grid"
    SLOT_TAKEN = "slot_taken"
    NO_ROOM = "no_room_free"
    PATIENT_BUSY = "patient_has_visit"


@dataclass(frozen=True)
class VisitRules:
    duration: int  # seconds
    buffer_before: int
    buffer_after: int
    step: int
    min_notice: int
    horizon_days: int
    needs_room: bool

    @classmethod
    def of(cls, visit_type: VisitType) -> VisitRules:
        return cls(
            duration=visit_type.duration_minutes * 60,
            buffer_before=visit_type.buffer_before_minutes * 60,
            buffer_after=visit_type.buffer_after_minutes * 60,
            step=visit_type.slot_step_minutes * 60,
            min_notice=visit_type.min_notice_minutes * 60,
            horizon_days=visit_type.horizon_days,
            needs_room=visit_type.needs_room,
        )

    def block(self, start: int) -> Interval:
        """The span a visit starting at `start` keeps from others: the visit plus its buffers."""
        return start - self.buffer_before, start + self.duration + self.buffer_after


@dataclass
class ProviderSchedule:
    provider_id: int
    hours: dict[int, list[tuple[time, time]]]  # weekday -> local ranges
    time_off: list[Interval] = field(default_factory=list)
    appointments: list[Interval] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.busy = merged([*self.time_off, *self.appointments])


@dataclass
class Schedule:
    """Everything availability needs for one location, visit type and range of local dates."""

    tz: ZoneInfo
    rules: VisitRules
    first_day: date
    last_day: date
    now: int
    closed_days: frozenset[date]
    providers: list[ProviderSchedule]
    rooms: dict[int, list[Interval]]  # room id -> busy spans (only when the visit needs a room)
    # Holds that ran out but are still 'held' in the table: free for availability, yet the
    # database constraint still sees them, so a booking over one must release it first.
    stale_holds: list[StaleHold] = field(default_factory=list)
    # The patient's own visits (start to end), when a booking is checked for one patient.
    patient_visits: list[Interval] = field(default_factory=list)

    def stale_holds_in_the_way(self, provider_id: int, room_id: int | None, block: Interval) -> list[int]:
        return [
            hold.appointment_id
            for hold in self.stale_holds
            if (hold.provider_id == provider_id or (room_id is not None and hold.room_id == room_id))
            and hold.start < block[1]
            and hold.end > block[0]
        ]


def with_visit(schedule: Schedule, provider_id: int, room_id: int | None, block: Interval) -> Schedule:
    """`schedule` with one more visit keeping `block` of the provider and the room, as load_schedule
    would read it back once written (a preview of a move plans around the moved session)."""
    providers = [
        replace(p, appointments=[*p.appointments, block]) if p.provider_id == provider_id else p
        for p in schedule.providers
    ]
    rooms = dict(schedule.rooms)
    if room_id in rooms:
        rooms[room_id] = merged([*rooms[room_id], block])
    return replace(schedule, providers=providers, rooms=rooms)


@dataclass(frozen=True)
class StaleHold:
    appointment_id: int
    provider_id: int
    room_id: int | None
    start: int
    end: int


class Slot(NamedTuple):
    """A free (provider, room, time); instants kept as epoch seconds, datetimes made on demand.

    A tuple, so that thousands are cheap to make and sort by (start, end, provider).
    """

    start_ts: int
    end_ts: int
    provider_id: int
    room_id: int | None

    @classmethod
    def between(cls, start: datetime, end: datetime, provider_id: int, room_id: int | None) -> Slot:
        return cls(int(start.timestamp()), int(end.timestamp()), provider_id, room_id)

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ts, UTC)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_ts, UTC)


@dataclass(frozen=True)
class Policy:
    """What a booking must respect beyond the hard rules, which differ for patients and staff."""

    on_grid: bool = True
    within_horizon: bool = True
    online_only: bool = True  # only visit types marked bookable online


PATIENT_POLICY = Policy(on_grid=True, within_horizon=True, online_only=True)
# Staff may book off the grid and past the online horizon (a long series), never over a visit.
STAFF_POLICY = Policy(on_grid=False, within_horizon=False, online_only=False)


# --- pure layer -------------------------------------------------------------------------------


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def overlaps_any(busy: list[Interval], start: int, end: int) -> bool:
    """Whether [start, end) meets any span of the merged, sorted `busy` list."""
    i = bisect.bisect_right(busy, (start, float("inf"))) - 1  # last span starting at or before start
    if i >= 0 and busy[i][1] > start:
        return True
    return i + 1 < len(busy) and busy[i + 1][0] < end


def _epoch(day: date, wall: time, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, wall, tzinfo=tz).timestamp())


def each_day(first: date, last: date) -> Iterable[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def _free_room(schedule: Schedule, block: Interval) -> int | None:
    for room_id, busy in schedule.rooms.items():
        if not overlaps_any(busy, *block):
            return room_id
    return None


def _last_bookable_day(schedule: Schedule) -> date:
    today = datetime.fromtimestamp(schedule.now, schedule.tz).date()
    return today + timedelta(days=schedule.rules.horizon_days)


def free_slots(schedule: Schedule, policy: Policy = PATIENT_POLICY) -> list[Slot]:
    """All free slots on the grid, sorted by start then provider."""
    rules = schedule.rules
    earliest = schedule.now + max(rules.min_notice, 1)  # never now or earlier
    last_day = schedule.last_day
    if policy.within_horizon:
        last_day = min(last_day, _last_bookable_day(schedule))
    if rules.needs_room and not schedule.rooms:
        return []
    found: list[Slot] = []
    for day in each_day(schedule.first_day, last_day):
        if day in schedule.closed_days:
            continue
        weekday = day.weekday()
        for provider in schedule.providers:
            for wall_start, wall_end in provider.hours.get(weekday, ()):
                _sweep_range(
                    schedule,
                    provider,
                    _epoch(day, wall_start, schedule.tz),
                    _epoch(day, wall_end, schedule.tz),
                    earliest,
                    found,
                )
    found.sort()
    return found


def _sweep_range(
    schedule: Schedule,
    provider: ProviderSchedule,
    range_start: int,
    range_end: int,
    earliest: int,
    found: list[Slot],
) -> None:
    """Walk the grid of one working range: jump past busy spans, take free stretches whole."""
    rules = schedule.rules
    step, busy, provider_id = rules.step, provider.busy, provider.provider_id
    before, duration = rules.buffer_before, rules.duration
    reach = duration + rules.buffer_after  # how far past its start a visit keeps the provider
    start = range_start
    if start < earliest:
        start = range_start + -(-(earliest - range_start) // step) * step
    last_start = range_end - duration
    count = len(busy)
    i = max(bisect.bisect_left(busy, (start - before - reach, 0)) - 1, 0)
    while start <= last_start:
        while i < count and busy[i][1] <= start - before:
            i += 1
        if i < count and busy[i][0] < start + reach:
            # Next grid start whose buffered span begins at or after this busy span ends.
            free_from = busy[i][1] + before
            start = range_start + -(-(free_from - range_start) // step) * step
            continue
        # Every grid start up to `last_free` keeps clear of busy span i (or there is none left).
        last_free = last_start if i >= count else min(last_start, busy[i][0] - reach)
        if not rules.needs_room:
            found.extend(Slot(s, s + duration, provider_id, None) for s in range(start, last_free + 1, step))
            start += ((last_free - start) // step + 1) * step
            continue
        room_id = _free_room(schedule, (start - before, start + reach))
        if room_id is not None:
            found.append(Slot(start, start + duration, provider_id, room_id))
        start += step


def check_start(
    schedule: Schedule, provider_id: int, start: datetime, policy: Policy = PATIENT_POLICY
) -> tuple[str | None, int | None]:
    """Whether `provider_id` can see this visit at `start`: (reason it cannot, or None; room id)."""
    rules = schedule.rules
    at = int(start.timestamp())
    local = start.astimezone(schedule.tz)
    if at <= schedule.now:
        return Reason.IN_PAST, None
    if at < schedule.now + rules.min_notice:
        return Reason.MIN_NOTICE, None
    if policy.within_horizon and local.date() > _last_bookable_day(schedule):
        return Reason.BEYOND_HORIZON, None
    if local.date() in schedule.closed_days:
        return Reason.CLOSED, None
    provider = next((p for p in schedule.providers if p.provider_id == provider_id), None)
    end = at + rules.duration
    containing = None
    if provider is not None:
        for wall_start, wall_end in provider.hours.get(local.weekday(), ()):
            range_start = _epoch(local.date(), wall_start, schedule.tz)
            if range_start <= at and end <= _epoch(local.date(), wall_end, schedule.tz):
                containing = range_start
                break
    if provider is None or containing is None:
        return Reason.OUTSIDE_HOURS, None
    if policy.on_grid and (at - containing) % rules.step:
        return Reason.OFF_GRID, None
    block = rules.block(at)
    if overlaps_any(merged(provider.time_off), *block):
        return Reason.TIME_OFF, None
    if overlaps_any(merged(provider.appointments), *block):
        return Reason.SLOT_TAKEN, None
    if overlaps_any(merged(schedule.patient_visits), at, end):
        return Reason.PATIENT_BUSY, None
    room_id = None
    if rules.needs_room:
        room_id = _free_room(schedule, block)
        if room_id is None:
            return Reason.NO_ROOM, None
    return None, room_id
