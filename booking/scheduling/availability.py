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
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from booking.models import OCCUPYING, Appointment
from clinic.models import Closure, Location, Provider, Room, TimeOff, VisitType, WorkingHours

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
        rooms[room_id] = _merge([*rooms[room_id], block])
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
    found: list[Slot] = []
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
    if _overlaps(_merge(provider.time_off), *block):
        return Reason.TIME_OFF, None
    if _overlaps(_merge(provider.appointments), *block):
        return Reason.SLOT_TAKEN, None
    if _overlaps(_merge(schedule.patient_visits), at, end):
        return Reason.PATIENT_BUSY, None
    room_id = None
    if rules.needs_room:
        room_id = _free_room(schedule, block)
        if room_id is None:
            return Reason.NO_ROOM, None
    return None, room_id


# --- loading ----------------------------------------------------------------------------------


# Integer conversions done by the database, per vendor: thousands of aware datetimes built in
# Python only to be turned back into numbers cost more than the whole slot sweep.
_SQL_INT = {
    "sqlite": {
        "epoch": "CAST(strftime('%%s', {}) AS INTEGER)",  # Django keeps SQLite datetimes as UTC text
        "seconds_of_day": "CAST(strftime('%%s', '1970-01-01 ' || {}) AS INTEGER)",
        "epoch_day": "CAST(julianday({}) - 2440587.5 AS INTEGER)",
    },
    "postgresql": {
        "epoch": "CAST(EXTRACT(EPOCH FROM {}) AS BIGINT)",
        "seconds_of_day": "CAST(EXTRACT(EPOCH FROM {}) AS BIGINT)",
        "epoch_day": "({} - DATE '1970-01-01')",
    },
}
_EPOCH_DAY_ZERO = date(1970, 1, 1).toordinal()


def _schedule_sql(vendor: str, provider_count: int, with_rooms: bool, excluding: int, for_patient: bool) -> str:
    """One round trip for everything a schedule needs; each row is (kind, six integers).

    h: provider, weekday, start and end second of the day     t: provider, start, end (time off)
    r: room                                                    c: first and last closed day
    a: appointment, provider, room, block start and end, hold expiry (occupying statuses)
    p: the patient's own visits: appointment, start, end, hold expiry
    """
    f = {name: template.format for name, template in _SQL_INT[vendor].items()}
    q = connection.ops.quote_name
    provider = Provider._meta.db_table
    served = Provider.locations.through._meta.db_table
    offered = Provider.visit_types.through._meta.db_table
    only = f" AND p.id IN ({', '.join(['%s'] * provider_count)})" if provider_count else ""
    rooms_cte = (
        f", free_rooms AS (SELECT id FROM {Room._meta.db_table} WHERE location_id = %s AND is_active)"  # noqa: S608
        if with_rooms
        else ""
    )
    room_rows = "UNION ALL SELECT 'r', id, NULL, NULL, NULL, NULL, NULL FROM free_rooms" if with_rooms else ""
    room_match = " OR a.room_id IN (SELECT id FROM free_rooms)" if with_rooms else ""
    excluded = f" AND a.id NOT IN ({', '.join(['%s'] * excluding)})" if excluding else ""
    statuses = ", ".join(["%s"] * len(OCCUPYING))
    end = q("end")
    patient_rows = (
        f"""UNION ALL
SELECT 'p', a.id, {f["epoch"]("a.start")}, {f["epoch"]("a." + end)}, {f["epoch"]("a.hold_expires_at")}, NULL, NULL
FROM {Appointment._meta.db_table} a
WHERE a.patient_id = %s AND a.status IN ({statuses}) AND a.start < %s AND a.{end} > %s{excluded}"""  # noqa: S608
        if for_patient
        else ""
    )
    hours_cols = f"{f['seconds_of_day']('w.start')}, {f['seconds_of_day']('w.' + end)}"
    off_cols = f"{f['epoch']('t.start')}, {f['epoch']('t.' + end)}"
    # Only table and column names from the models and placeholders go into the text; values are
    # always parameters.
    return f"""
WITH offering AS (
    SELECT p.id FROM {provider} p
    WHERE p.is_active{only}
      AND EXISTS (SELECT 1 FROM {served} s WHERE s.provider_id = p.id AND s.location_id = %s)
      AND EXISTS (SELECT 1 FROM {offered} o WHERE o.provider_id = p.id AND o.visittype_id = %s)
){rooms_cte}
SELECT 'h', w.provider_id, w.weekday, {hours_cols}, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)
FROM {WorkingHours._meta.db_table} w
WHERE w.location_id = %s AND w.provider_id IN (SELECT id FROM offering)
UNION ALL
SELECT 't', t.provider_id, {off_cols}, NULL, NULL, NULL
FROM {TimeOff._meta.db_table} t
WHERE t.provider_id IN (SELECT id FROM offering) AND t.start < %s AND t.{end} > %s
UNION ALL
SELECT 'c', {f["epoch_day"]("c.start_date")}, {f["epoch_day"]("c.end_date")}, NULL, NULL, NULL, NULL
FROM {Closure._meta.db_table} c
WHERE c.location_id = %s AND c.start_date <= %s AND c.end_date >= %s
UNION ALL
SELECT 'a', a.id, a.provider_id, a.room_id, {f["epoch"]("a.block_start")}, {f["epoch"]("a.block_end")},
       {f["epoch"]("a.hold_expires_at")}
FROM {Appointment._meta.db_table} a
WHERE a.status IN ({statuses}) AND a.block_start < %s AND a.block_end > %s{excluded}
  AND (a.provider_id IN (SELECT id FROM offering){room_match})
{room_rows}
{patient_rows}
"""  # noqa: S608


def _time_of_day(seconds: int) -> time:
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def load_schedule(
    *,
    visit_type: VisitType,
    location: Location,
    first_day: date,
    last_day: date,
    provider_ids: Sequence[int] | None = None,
    now: datetime | None = None,
    exclude_appointment_id: int | None = None,
    patient_id: int | None = None,
    exclude_appointment_ids: Collection[int] = (),
) -> Schedule:
    """Read hours, time off, closures, rooms and occupying appointments for the range in ONE query.

    Only providers who are active and offer the visit type at the location get a schedule. The
    excluded appointments are read as if they were not there (a visit being moved, and the later
    sessions of its series that step aside for a re-plan).
    """
    now = now or timezone.now()
    now_ts = int(now.timestamp())
    tz = location.tz
    # One day of margin each side covers buffers and ranges that cross midnight in UTC.
    range_start = datetime.combine(first_day - timedelta(days=1), time(0), tzinfo=tz)
    range_end = datetime.combine(last_day + timedelta(days=2), time(0), tzinfo=tz)
    ops = connection.ops
    excluded = sorted({*exclude_appointment_ids, *([] if exclude_appointment_id is None else [exclude_appointment_id])})
    ids = list(provider_ids or [])
    if provider_ids is not None and not ids:
        ids = [-1]  # an empty choice matches no provider
    params: list[Any] = [*ids, location.pk, visit_type.pk]
    if visit_type.needs_room:
        params.append(location.pk)
    params += [location.pk]
    params += [ops.adapt_datetimefield_value(range_end), ops.adapt_datetimefield_value(range_start)]
    params += [location.pk, ops.adapt_datefield_value(last_day), ops.adapt_datefield_value(first_day)]
    params += [s.value for s in OCCUPYING]
    params += [ops.adapt_datetimefield_value(range_end), ops.adapt_datetimefield_value(range_start)]
    params += excluded
    if patient_id is not None:
        params += [patient_id, *(s.value for s in OCCUPYING)]
        params += [ops.adapt_datetimefield_value(range_end), ops.adapt_datetimefield_value(range_start)]
        params += excluded
    sql = _schedule_sql(connection.vendor, len(ids), visit_type.needs_room, len(excluded), patient_id is not None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()

    hours: dict[int, dict[int, list[tuple[time, time]]]] = defaultdict(lambda: defaultdict(list))
    time_off: dict[int, list[Interval]] = defaultdict(list)
    busy: dict[int, list[Interval]] = defaultdict(list)
    rooms: dict[int, list[Interval]] = {}
    closed: set[date] = set()
    appointment_rows = []
    patient_visits: list[Interval] = []
    for kind, a, b, c, d, e, f in rows:
        if kind == "h":
            hours[a][b].append((_time_of_day(c), _time_of_day(d)))
        elif kind == "t":
            time_off[a].append((b, c))
        elif kind == "r":
            rooms[a] = []
        elif kind == "p":
            if d is None or d > now_ts:  # a hold that ran out no longer keeps the patient busy
                patient_visits.append((b, c))
        elif kind == "c":
            first = date.fromordinal(_EPOCH_DAY_ZERO + a)
            last = date.fromordinal(_EPOCH_DAY_ZERO + b)
            closed.update(_days(max(first, first_day), min(last, last_day)))
        else:
            appointment_rows.append((a, b, c, d, e, f))
    stale: list[StaleHold] = []
    for pk, provider_id, room_id, start, end, hold_expires in appointment_rows:
        if hold_expires is not None and hold_expires <= now_ts:
            stale.append(StaleHold(pk, provider_id, room_id, start, end))
            continue
        if provider_id in hours:
            busy[provider_id].append((start, end))
        if room_id in rooms:
            rooms[room_id].append((start, end))
    for spans in hours.values():
        for ranges in spans.values():
            ranges.sort()
    provider_order = sorted(hours)
    return Schedule(
        tz=tz,
        rules=VisitRules.of(visit_type),
        first_day=first_day,
        last_day=last_day,
        now=now_ts,
        closed_days=frozenset(closed),
        providers=[
            ProviderSchedule(pid, dict(hours[pid]), time_off=time_off[pid], appointments=busy[pid])
            for pid in provider_order
        ],
        rooms={room_id: _merge(spans) for room_id, spans in sorted(rooms.items())},
        stale_holds=stale,
        patient_visits=patient_visits,
    )


def _local_iso(slots: Sequence[Slot], tz: ZoneInfo) -> dict[int, str]:
    """ISO 8601 text with the location's offset for every instant; providers share start times,
    so each instant is formatted once."""
    stamps = {s.start_ts for s in slots} | {s.end_ts for s in slots}
    return {ts: datetime.fromtimestamp(ts, tz).isoformat() for ts in stamps}


def slots_json(slots: Sequence[Slot], tz: ZoneInfo) -> str:
    """The slots as a JSON array, written directly: thousands of dicts through json.dumps cost
    more than finding the slots. Every value is an ISO date-time or an integer, so nothing needs
    escaping."""
    text = _local_iso(slots, tz)
    items = (
        f'{{"start":"{text[s[0]]}","end":"{text[s[1]]}","provider":{s[2]},"room":{"null" if s[3] is None else s[3]}}}'
        for s in slots
    )
    return "[" + ",".join(items) + "]"


def slots_as_dicts(slots: Iterable[Slot], tz: ZoneInfo, kind: str | None = None) -> list[dict[str, Any]]:
    """Slots as JSON-ready dicts, times in ISO 8601 with the location's offset."""
    slots = list(slots)
    text = _local_iso(slots, tz)
    out: list[dict[str, Any]] = [
        {"start": text[s[0]], "end": text[s[1]], "provider": s[2], "room": s[3]} for s in slots
    ]
    if kind:
        for item in out:
            item["kind"] = kind
    return out


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


def slots_for_move(
    *,
    appointment: Appointment,
    first_day: date,
    last_day: date,
    provider_ids: Sequence[int] | None,
    policy: Policy = PATIENT_POLICY,
    now: datetime | None = None,
) -> list[Slot]:
    """Free slots an existing appointment can move to: its own time counts as free, and times the
    patient is in another visit are left out, exactly as the move service will check them."""
    if last_day < first_day:
        raise ValueError("last_day is before first_day")
    if (last_day - first_day).days >= MAX_RANGE_DAYS:
        raise ValueError(f"a range covers at most {MAX_RANGE_DAYS} days")
    schedule = load_schedule(
        visit_type=appointment.visit_type,
        location=appointment.location,
        first_day=first_day,
        last_day=last_day,
        provider_ids=provider_ids,
        now=now,
        exclude_appointment_id=appointment.pk,
        patient_id=appointment.patient_id,
    )
    busy = _merge(schedule.patient_visits)
    return [slot for slot in free_slots(schedule, policy) if not _overlaps(busy, slot.start_ts, slot.end_ts)]
