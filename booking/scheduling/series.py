"""Plan a treatment series in the location's local wall time: pure functions over a Schedule.

The planner never reads the database. Its input is one `availability.Schedule` covering the whole
planning window (every provider who offers the visit type, so alternatives come from the same
data) and plain values; its output is one `PlannedSession` per session. Slots come from
`availability.free_slots` and choices are checked with `availability.check_start`, so the plan
proposes only what the booking service accepts. The rules are described in docs/series.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from booking.scheduling.availability import (
    STAFF_POLICY,
    Policy,
    Reason,
    Schedule,
    Slot,
    check_start,
    free_slots,
    with_visit,
)

# How far past the tolerance the planner looks for the "nearest date outside the tolerance".
OUTSIDE_SEARCH_DAYS = 7
# Other-provider alternatives offered for one session.
OTHER_PROVIDER_LIMIT = 3


class SessionStatus:
    FITS = "fits"  # on the target date
    MOVED = "moved"  # inside the tolerance, `day_offset` days from the target date
    CHOSEN = "chosen"  # a caller's choice outside the tolerance or with another provider
    NEEDS_CHOICE = "needs_choice"  # nothing inside the tolerance: a person must choose


class TimeNote:
    NONEXISTENT = "nonexistent_time"  # the preferred local time does not exist that day (DST gap)
    AMBIGUOUS = "ambiguous_time"  # it happens twice that day (DST fold); the first is used


class Problem:
    """Why a choice cannot be used, besides the availability.Reason codes."""

    OUT_OF_ORDER = "out_of_order"  # not after the previous session, or overlapping another session
    OUTSIDE_WINDOW = "outside_planning_window"  # no calendar data was loaded for that date


class AlternativeKind:
    WITHIN_TOLERANCE = "within_tolerance"  # what the planner would pick, when a choice failed
    OTHER_PROVIDER = "other_provider"
    OUTSIDE_TOLERANCE = "outside_tolerance"


@dataclass(frozen=True)
class SeriesRules:
    """What to plan: `sessions` sessions numbered from `first_number`, the first on `first_date`."""

    sessions: int
    first_date: date
    gap_days: int
    tolerance_days: int
    preferred_time: time
    taper_days: tuple[int, ...] = ()
    first_number: int = 1
    # Sessions must fall on a later date than this one (the series' previous session, if any).
    after_date: date | None = None

    def gap_after(self, number: int) -> int:
        """Days from session `number` to the next: the taper while it lasts, then its last gap."""
        if not self.taper_days:
            return self.gap_days
        return self.taper_days[min(number, len(self.taper_days)) - 1]

    @property
    def numbers(self) -> range:
        return range(self.first_number, self.first_number + self.sessions)


@dataclass(frozen=True)
class SessionChoice:
    """A start picked by a person for one session; provider None means the series' provider."""

    start: datetime
    provider_id: int | None = None


@dataclass(frozen=True)
class Alternative:
    kind: str
    start: datetime
    end: datetime
    provider_id: int
    room_id: int | None
    day_offset: int

    def as_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start.astimezone(tz).isoformat(),
            "end": self.end.astimezone(tz).isoformat(),
            "provider": self.provider_id,
            "room": self.room_id,
            "day_offset": self.day_offset,
        }


@dataclass
class PlannedSession:
    number: int
    target_date: date
    status: str
    provider_id: int
    # Aware UTC instants (compare and subtract safely; show in the location's zone). None when
    # the session needs a choice.
    start: datetime | None = None
    end: datetime | None = None
    room_id: int | None = None
    day_offset: int = 0
    time_note: str = ""
    pinned: bool = False  # placed where a caller's choice said
    problem: str = ""  # why a choice could not be used: an availability.Reason or a Problem code
    clash: bool = False  # the time was taken by someone else before the series was booked
    alternatives: list[Alternative] = field(default_factory=list)

    @property
    def date(self) -> date:
        """The local date the next target is counted from: the chosen date, else the target date."""
        return self.target_date + timedelta(days=self.day_offset)

    def as_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "session_number": self.number,
            "target_date": self.target_date.isoformat(),
            "status": self.status,
            "day_offset": self.day_offset,
            "start": self.start.astimezone(tz).isoformat() if self.start else None,
            "end": self.end.astimezone(tz).isoformat() if self.end else None,
            "provider": self.provider_id,
            "room": self.room_id,
            "time_note": self.time_note,
            "pinned": self.pinned,
            "problem": self.problem,
            "clash": self.clash,
            "alternatives": [a.as_dict(tz) for a in self.alternatives],
        }


def plan_as_dict(plan: Sequence[PlannedSession], tz: ZoneInfo) -> dict[str, Any]:
    """The plan as JSON-ready data, times in the location's zone with their offsets."""
    return {
        "timezone": tz.key,
        "bookable": is_bookable(plan),
        "sessions": [session.as_dict(tz) for session in plan],
    }


def is_bookable(plan: Sequence[PlannedSession]) -> bool:
    return all(session.start is not None for session in plan)


# --- local wall time --------------------------------------------------------------------------


def wall_instant(day: date, wall: time, tz: ZoneInfo) -> tuple[datetime, str]:
    """`wall` on `day` in `tz`, with fold=0, and a note when that local time is missing or doubled.

    fold=0 means: an ambiguous time (DST fold) is its first occurrence; a nonexistent one (DST
    gap) is read with the offset before the change, i.e. pushed forward by the gap (as RFC 5545
    reads such times). The planner never books the nonexistent wall time itself.
    """
    local = datetime.combine(day, wall, tzinfo=tz)
    naive = local.replace(tzinfo=None)
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return local, TimeNote.NONEXISTENT
    if local.replace(fold=1).utcoffset() != local.utcoffset():
        return local, TimeNote.AMBIGUOUS
    return local, ""


def planning_window(
    rules: SeriesRules, tz: ZoneInfo, choices: Mapping[int, SessionChoice] | None = None
) -> tuple[date, date]:
    """The local dates a plan can look at (with alternatives): load the Schedule for these."""
    choices = choices or {}
    tolerance = rules.tolerance_days
    reach = tolerance + OUTSIDE_SEARCH_DAYS
    low = high = rules.first_date  # earliest and latest possible target of the current session
    first_day, last_day = low - timedelta(days=reach), high + timedelta(days=reach)
    for number in rules.numbers:
        first_day = min(first_day, low - timedelta(days=reach))
        last_day = max(last_day, high + timedelta(days=reach))
        choice = choices.get(number)
        if choice is not None:
            low = high = choice.start.astimezone(tz).date()
            first_day, last_day = min(first_day, low), max(last_day, high)
        else:
            low, high = low - timedelta(days=tolerance), high + timedelta(days=tolerance)
        gap = timedelta(days=rules.gap_after(number))
        low, high = low + gap, high + gap
    return first_day, last_day


# --- the planner ------------------------------------------------------------------------------


def day_offsets(tolerance: int) -> list[int]:
    """Search order inside the tolerance: the target, then nearer days first, later before earlier."""
    return [0, *(offset for distance in range(1, tolerance + 1) for offset in (distance, -distance))]


class _Planner:
    """One planning run: the schedule, a per-day cache of free slots and the sessions placed so far."""

    def __init__(self, schedule: Schedule, rules: SeriesRules, provider_id: int, policy: Policy) -> None:
        self.schedule = schedule
        self.rules = rules
        self.provider_id = provider_id
        self.policy = policy
        self.tz = schedule.tz
        self._slots: dict[date, list[Slot]] = {}
        self.placed: list[tuple[int, int]] = []  # buffered spans of sessions in this plan

    def slots_on(self, day: date) -> list[Slot]:
        """Free slots on one local date, from the same function the booking pages use."""
        if not self.schedule.first_day <= day <= self.schedule.last_day:
            return []  # outside the loaded data: unknown, so never proposed
        if day not in self._slots:
            self._slots[day] = free_slots(replace(self.schedule, first_day=day, last_day=day), self.policy)
        return self._slots[day]

    def clashes_with_plan(self, start: datetime) -> bool:
        block_start, block_end = self.schedule.rules.block(int(start.timestamp()))
        return any(block_start < end and start_ < block_end for start_, end in self.placed)

    def best_slot(self, day: date, provider_id: int) -> Slot | None:
        """The free slot of `provider_id` on `day` nearest the preferred time (earlier on a tie)."""
        preferred, _note = wall_instant(day, self.rules.preferred_time, self.tz)
        target = int(preferred.timestamp())
        best: Slot | None = None
        best_key: tuple[int, int] | None = None
        for slot in self.slots_on(day):
            if slot.provider_id != provider_id or self.clashes_with_plan(slot.start):
                continue
            at = int(slot.start.timestamp())
            key = (abs(at - target), at)
            if best_key is None or key < best_key:
                best, best_key = slot, key
        return best

    def allowed(self, day: date, after: date | None) -> bool:
        return after is None or day > after

    def session_at(self, number: int, target: date, slot: Slot, status: str, *, pinned: bool = False) -> PlannedSession:
        day = slot.start.astimezone(self.tz).date()
        _preferred, note = wall_instant(day, self.rules.preferred_time, self.tz)
        return PlannedSession(
            number=number,
            target_date=target,
            status=status,
            provider_id=slot.provider_id,
            start=slot.start.astimezone(UTC),
            end=slot.end.astimezone(UTC),
            room_id=slot.room_id,
            day_offset=(day - target).days,
            time_note="" if pinned else note,
            pinned=pinned,
        )

    def place(self, number: int, target: date, after: date | None) -> PlannedSession:
        """Same provider, nearest day inside the tolerance, then nearest time; else needs_choice."""
        for offset in day_offsets(self.rules.tolerance_days):
            day = target + timedelta(days=offset)
            if not self.allowed(day, after):
                continue
            slot = self.best_slot(day, self.provider_id)
            if slot is not None:
                return self.session_at(number, target, slot, SessionStatus.FITS if offset == 0 else SessionStatus.MOVED)
        _preferred, note = wall_instant(target, self.rules.preferred_time, self.tz)
        return PlannedSession(
            number=number,
            target_date=target,
            status=SessionStatus.NEEDS_CHOICE,
            provider_id=self.provider_id,
            time_note=note,
            alternatives=self.alternatives(target, after),
        )

    def alternatives(self, target: date, after: date | None) -> list[Alternative]:
        """Other providers inside the tolerance (target day first), then the nearest dates outside."""
        found: list[Alternative] = []
        for offset in day_offsets(self.rules.tolerance_days):
            day = target + timedelta(days=offset)
            if not self.allowed(day, after):
                continue
            others = {s.provider_id for s in self.slots_on(day) if s.provider_id != self.provider_id}
            picks = [slot for pid in sorted(others) if (slot := self.best_slot(day, pid)) is not None]
            if picks:
                preferred = int(wall_instant(day, self.rules.preferred_time, self.tz)[0].timestamp())
                picks.sort(key=lambda s: (abs(int(s.start.timestamp()) - preferred), s.start, s.provider_id))
                found += [self.alternative(AlternativeKind.OTHER_PROVIDER, target, s) for s in picks]
                break
        found = found[:OTHER_PROVIDER_LIMIT]
        first_outside = self.rules.tolerance_days + 1
        for direction in (1, -1):  # the nearest later date, then the nearest earlier date
            for distance in range(first_outside, first_outside + OUTSIDE_SEARCH_DAYS):
                day = target + timedelta(days=direction * distance)
                if not self.allowed(day, after):
                    break
                slot = self.best_slot(day, self.provider_id)
                if slot is not None:
                    found.append(self.alternative(AlternativeKind.OUTSIDE_TOLERANCE, target, slot))
                    break
        return found

    def alternative(self, kind: str, target: date, slot: Slot) -> Alternative:
        return Alternative(
            kind=kind,
            start=slot.start.astimezone(UTC),
            end=slot.end.astimezone(UTC),
            provider_id=slot.provider_id,
            room_id=slot.room_id,
            day_offset=(slot.start.astimezone(self.tz).date() - target).days,
        )

    def place_choice(self, number: int, target: date, after: date | None, choice: SessionChoice) -> PlannedSession:
        """Use a person's choice if the booking service would accept it; otherwise say why."""
        provider_id = choice.provider_id or self.provider_id
        start = choice.start.astimezone(UTC)
        day = start.astimezone(self.tz).date()
        problem: str | None
        room_id: int | None = None
        if not self.schedule.first_day <= day <= self.schedule.last_day:
            problem = Problem.OUTSIDE_WINDOW
        elif not self.allowed(day, after) or self.clashes_with_plan(start):
            problem = Problem.OUT_OF_ORDER
        else:
            problem, room_id = check_start(self.schedule, provider_id, start, self.policy)
        if problem is None:
            # In UTC: arithmetic on datetimes sharing a ZoneInfo is wall-clock arithmetic (PEP 495).
            end = start + timedelta(seconds=self.schedule.rules.duration)
            offset = (day - target).days
            if provider_id == self.provider_id and abs(offset) <= self.rules.tolerance_days:
                status = SessionStatus.FITS if offset == 0 else SessionStatus.MOVED
            else:
                status = SessionStatus.CHOSEN
            return self.session_at(number, target, Slot.between(start, end, provider_id, room_id), status, pinned=True)
        planned = self.place(number, target, after)
        alternatives = planned.alternatives
        if planned.start is not None and planned.end is not None:
            alternatives = [
                Alternative(
                    AlternativeKind.WITHIN_TOLERANCE,
                    planned.start,
                    planned.end,
                    planned.provider_id,
                    planned.room_id,
                    planned.day_offset,
                ),
                *self.alternatives(target, after),
            ]
        return PlannedSession(
            number=number,
            target_date=target,
            status=SessionStatus.NEEDS_CHOICE,
            provider_id=provider_id,
            time_note=planned.time_note,
            pinned=True,
            problem=problem,
            clash=problem in (Reason.SLOT_TAKEN, Reason.NO_ROOM),
            alternatives=alternatives,
        )


def plan(
    schedule: Schedule,
    rules: SeriesRules,
    *,
    provider_id: int,
    policy: Policy = STAFF_POLICY,
    choices: Mapping[int, SessionChoice] | None = None,
) -> list[PlannedSession]:
    """Place each session of `rules` for `provider_id` in `schedule`; pure, reads no database.

    Session k+1's target date is session k's date (its target date if it needs a choice) plus the
    gap after k. A session is never placed outside its tolerance unless a choice says so.
    """
    choices = choices or {}
    planner = _Planner(schedule, rules, provider_id, policy)
    sessions: list[PlannedSession] = []
    target, after = rules.first_date, rules.after_date
    for number in rules.numbers:
        choice = choices.get(number)
        if choice is not None:
            session = planner.place_choice(number, target, after, choice)
        else:
            session = planner.place(number, target, after)
        if session.start is not None:
            planner.placed.append(schedule.rules.block(int(session.start.timestamp())))
        sessions.append(session)
        after = session.date
        target = session.date + timedelta(days=rules.gap_after(number))
    return sessions


# --- moving a session -------------------------------------------------------------------------


def moved_session(
    *, number: int, old_date: date, provider_id: int, start: datetime, end: datetime, room_id: int | None, tz: ZoneInfo
) -> PlannedSession:
    """A session a person moved to `start`: pinned there, counted from the date it had."""
    return PlannedSession(
        number=number,
        target_date=old_date,
        status=SessionStatus.CHOSEN,
        provider_id=provider_id,
        start=start,
        end=end,
        room_id=room_id,
        day_offset=(start.astimezone(tz).date() - old_date).days,
        pinned=True,
    )


def plan_after_move(
    schedule: Schedule, rules: SeriesRules, *, moved: PlannedSession, provider_id: int, policy: Policy = STAFF_POLICY
) -> list[PlannedSession]:
    """Re-plan the sessions after a moved one: `schedule` is read without them and without the
    moved session, which is put at its new time here, so the plan is what the move would book."""
    assert moved.start is not None
    block = schedule.rules.block(int(moved.start.timestamp()))
    return plan(
        with_visit(schedule, moved.provider_id, moved.room_id, block), rules, provider_id=provider_id, policy=policy
    )
