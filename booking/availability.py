"""Free slots: which (provider, room, start) a visit type can be booked at.

Two layers:
- `load_schedule` reads everything for a location, visit type and date range in a fixed number
  of queries (whatever the number of days and providers);
- `free_slots` and `check_start` are pure functions over that data. The patient pages, the desk
  calendar, the API, the booking service's own check and the 409 alternatives all use them, so a
  slot that is shown is a slot the service accepts.

Inside the pure layer, instants are integer UTC epoch seconds: it keeps the sweep cheap.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from booking.models import Appointment
from clinic.models import Closure, Location, Room, TimeOff, VisitType, WorkingHours

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
        self.busy = _merge([*self.time_off, *self.appointments])


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


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    provider_id: int
    room_id: int | None


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


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _overlaps(busy: list[Interval], start: int, end: int) -> bool:
    """Whether [start, end) meets any span of the merged, sorted `busy` list."""
    i = bisect.bisect_right(busy, (start, float("inf"))) - 1  # last span starting at or before start
    if i >= 0 and busy[i][1] > start:
        return True
    return i + 1 < len(busy) and busy[i + 1][0] < end


def _epoch(day: date, wall: time, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, wall, tzinfo=tz).timestamp())


def _days(first: date, last: date) -> Iterable[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def _free_room(schedule: Schedule, block: Interval) -> int | None:
    for room_id, busy in schedule.rooms.items():
        if not _overlaps(busy, *block):
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
    found: list[tuple[int, int, int | None]] = []
    for day in _days(schedule.first_day, last_day):
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
    return [
        Slot(datetime.fromtimestamp(s, UTC), datetime.fromtimestamp(s + rules.duration, UTC), p, r) for s, p, r in found
    ]


def _sweep_range(
    schedule: Schedule,
    provider: ProviderSchedule,
    range_start: int,
    range_end: int,
    earliest: int,
    found: list[tuple[int, int, int | None]],
) -> None:
    """Walk the grid of one working range, jumping past busy spans instead of testing each step."""
    rules = schedule.rules
    step, busy = rules.step, provider.busy
    start = range_start
    if start < earliest:
        start = range_start + -(-(earliest - range_start) // step) * step
    last_start = range_end - rules.duration
    i = 0
    while start <= last_start:
        block_start, block_end = rules.block(start)
        while i < len(busy) and busy[i][1] <= block_start:
            i += 1
        if i < len(busy) and busy[i][0] < block_end:
            # Next grid start whose buffered span begins at or after this busy span ends.
            free_from = busy[i][1] + rules.buffer_before
            start = range_start + -(-(free_from - range_start) // step) * step
            continue
        room_id = None
        if rules.needs_room:
            room_id = _free_room(schedule, (block_start, block_end))
            if room_id is None:
                start += step
                continue
        found.append((start, provider.provider_id, room_id))
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
    if _overlaps(_merge(provider.time_off), *block):
        return Reason.TIME_OFF, None
    if _overlaps(_merge(provider.appointments), *block):
        return Reason.SLOT_TAKEN, None
    room_id = None
    if rules.needs_room:
        room_id = _free_room(schedule, block)
        if room_id is None:
            return Reason.NO_ROOM, None
    return None, room_id


# --- loading ----------------------------------------------------------------------------------


def load_schedule(
    *,
    visit_type: VisitType,
    location: Location,
    first_day: date,
    last_day: date,
    provider_ids: Sequence[int] | None = None,
    now: datetime | None = None,
    exclude_appointment_id: int | None = None,
) -> Schedule:
    """Read hours, time off, closures, rooms and occupying appointments for the range: 4–5 queries."""
    now = now or timezone.now()
    tz = location.tz
    # One day of margin each side covers buffers and ranges that cross midnight in UTC.
    range_start = datetime.combine(first_day - timedelta(days=1), time(0), tzinfo=tz)
    range_end = datetime.combine(last_day + timedelta(days=2), time(0), tzinfo=tz)

    hours_qs = WorkingHours.objects.filter(
        location=location,
        provider__is_active=True,
        provider__locations=location,
        provider__visit_types=visit_type,
    )
    if provider_ids is not None:
        hours_qs = hours_qs.filter(provider_id__in=provider_ids)
    hours: dict[int, dict[int, list[tuple[time, time]]]] = defaultdict(lambda: defaultdict(list))
    for provider_id, weekday, start, end in hours_qs.values_list("provider_id", "weekday", "start", "end"):
        hours[provider_id][weekday].append((start, end))
    ids = sorted(hours)

    time_off: dict[int, list[Interval]] = defaultdict(list)
    busy: dict[int, list[Interval]] = defaultdict(list)
    rooms: dict[int, list[Interval]] = {}
    if ids:
        for provider_id, start, end in TimeOff.objects.filter(
            provider_id__in=ids, start__lt=range_end, end__gt=range_start
        ).values_list("provider_id", "start", "end"):
            time_off[provider_id].append((int(start.timestamp()), int(end.timestamp())))

    if visit_type.needs_room:
        rooms = {
            room_id: []
            for room_id in Room.objects.filter(location=location, is_active=True)
            .order_by("id")
            .values_list("id", flat=True)
        }
    who = Q(provider_id__in=ids)
    if rooms:
        who |= Q(room_id__in=list(rooms))
    if ids or rooms:
        taken = Appointment.objects.occupying(now).overlapping(range_start, range_end).filter(who)
        if exclude_appointment_id is not None:
            taken = taken.exclude(pk=exclude_appointment_id)
        for provider_id, room_id, start, end in taken.values_list("provider_id", "room_id", "block_start", "block_end"):
            span = (int(start.timestamp()), int(end.timestamp()))
            if provider_id in hours:
                busy[provider_id].append(span)
            if room_id in rooms:
                rooms[room_id].append(span)
    rooms = {room_id: _merge(spans) for room_id, spans in rooms.items()}

    closed: set[date] = set()
    for closure_start, closure_end in Closure.objects.filter(
        location=location, start_date__lte=last_day, end_date__gte=first_day
    ).values_list("start_date", "end_date"):
        closed.update(_days(max(closure_start, first_day), min(closure_end, last_day)))

    return Schedule(
        tz=tz,
        rules=VisitRules.of(visit_type),
        first_day=first_day,
        last_day=last_day,
        now=int(now.timestamp()),
        closed_days=frozenset(closed),
        providers=[
            ProviderSchedule(pid, dict(hours[pid]), time_off=time_off[pid], appointments=busy[pid]) for pid in ids
        ],
        rooms=rooms,
    )


def find_slots(
    *,
    visit_type: VisitType,
    location: Location,
    first_day: date,
    last_day: date,
    provider_ids: Sequence[int] | None = None,
    policy: Policy = PATIENT_POLICY,
    now: datetime | None = None,
) -> list[Slot]:
    """Free slots for a visit type at a location over local dates [first_day, last_day]."""
    if last_day < first_day:
        raise ValueError("last_day is before first_day")
    if (last_day - first_day).days >= MAX_RANGE_DAYS:
        raise ValueError(f"a range covers at most {MAX_RANGE_DAYS} days")
    schedule = load_schedule(
        visit_type=visit_type,
        location=location,
        first_day=first_day,
        last_day=last_day,
        provider_ids=provider_ids,
        now=now,
    )
    return free_slots(schedule, policy)
