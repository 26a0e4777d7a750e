"""Loading availability's input in one round trip, and the lookups the pages and the API call.

`load_schedule` reads hours, time off, closures and occupying visits for a location, visit type
and date range in a fixed number of queries; `find_slots` and `slots_for_move` load and then run
the pure sweep in `booking.scheduling.availability`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from booking.models import OCCUPYING, Appointment
from booking.scheduling.availability import (
    MAX_RANGE_DAYS,
    PATIENT_POLICY,
    Interval,
    Policy,
    ProviderSchedule,
    Schedule,
    Slot,
    StaleHold,
    VisitRules,
    each_day,
    free_slots,
    merged,
    overlaps_any,
)
from clinic.models import Closure, Location, Provider, Room, TimeOff, VisitType, WorkingHours

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
            closed.update(each_day(max(first, first_day), min(last, last_day)))
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
        rooms={room_id: merged(spans) for room_id, spans in sorted(rooms.items())},
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
    busy = merged(schedule.patient_visits)
    return [slot for slot in free_slots(schedule, policy) if not overlaps_any(busy, slot.start_ts, slot.end_ts)]
