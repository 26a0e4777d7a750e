"""What a patient's change pages share: the slot picker for a move, and errors in their words.

Used by the patient's own pages (patients_manage.py) and by the pages behind a link in a
message (manage_link.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.http import QueryDict
from django.utils import dateformat, timezone
from django.utils.translation import gettext_lazy as _

from booking.errors import BookingError
from booking.models import Appointment
from booking.scheduling.availability import PATIENT_POLICY, Reason
from booking.scheduling.loading import slots_for_move
from clinic.localtime import local_text
from clinic.models import Provider

WINDOW_DAYS = 14

PATIENT_MESSAGES = {
    Reason.IN_PAST: _("That time is in the past. Please choose one of the free times below."),
    Reason.MIN_NOTICE: _("That time is too soon to book. Please choose a later time."),
    Reason.BEYOND_HORIZON: _("That date is too far ahead to book yet."),
    Reason.CLOSED: _("The clinic is closed that day. Please choose another day."),
    Reason.OUTSIDE_HOURS: _("There are no visits at that time. Please choose one of the free times below."),
    Reason.TIME_OFF: _("The provider is away at that time. Please choose another time."),
    Reason.OFF_GRID: _("Please choose one of the times shown."),
    Reason.SLOT_TAKEN: _("Sorry, that time has just been taken. Here are other free times."),
    Reason.NO_ROOM: _("Sorry, that time has just been taken. Here are other free times."),
    Reason.PATIENT_BUSY: _("You already have another visit at that time."),
    "invalid_status": _("This appointment can no longer be changed online."),
    "invalid_start": _("Please choose one of the times shown."),
    "busy": _("The calendar is busy right now; please try again in a moment."),
    "reason_required": _("Please say why you are cancelling."),
}


def patient_message(exc: BookingError) -> str:
    """The error in the patient's language (the cutoff's message is already translated)."""
    if exc.code == "past_cutoff":
        return exc.detail
    return str(PATIENT_MESSAGES.get(exc.code, exc.detail))


@dataclass
class SlotChoice:
    value: str
    time: str
    provider: str


@dataclass
class DayChoice:
    day: date
    label: str
    count: int
    query: str


@dataclass
class Picker:
    """Free slots to move to: days with room in a two-week window, and the times of one day."""

    days: list[DayChoice]
    day: date | None
    day_label: str
    slots: list[SlotChoice]
    any_provider: bool
    can_choose_provider: bool
    earlier_query: str
    later_query: str
    alternatives: list[SlotChoice] = field(default_factory=list)


def can_choose_provider(appointment: Appointment) -> bool:
    """A single visit may go to any provider at the location; a series session stays with its own."""
    return appointment.series_id is None


def movable_provider_ids(appointment: Appointment, any_provider: bool) -> set[int]:
    if not (any_provider and can_choose_provider(appointment)):
        return {appointment.provider_id}
    return set(
        Provider.objects.filter(
            is_active=True, locations=appointment.location_id, visit_types=appointment.visit_type_id
        ).values_list("pk", flat=True)
    )


def _parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _query(**values: Any) -> str:
    query = QueryDict(mutable=True)
    query.update({k: v for k, v in values.items() if v not in (None, "", False)})
    return "?" + query.urlencode() if query else "?"


def _slot_value(provider_id: int, start: datetime) -> str:
    return f"{provider_id}@{start.isoformat()}"


def picker(
    appointment: Appointment, params: QueryDict, *, allow_any: bool = True, now: datetime | None = None
) -> Picker:
    """The slot picker for `appointment`, from the page's query (?from=, ?day=, ?any=1)."""
    now = now or timezone.now()
    tz = appointment.location.tz
    today = timezone.localtime(now, tz).date()
    choosable = allow_any and can_choose_provider(appointment)
    any_provider = params.get("any") == "1" and choosable
    first = max(_parse_day(params.get("from")) or today, today)
    first = min(first, today + timedelta(days=appointment.visit_type.horizon_days))
    last = first + timedelta(days=WINDOW_DAYS - 1)
    provider_ids = None if any_provider else [appointment.provider_id]
    slots = slots_for_move(
        appointment=appointment,
        first_day=first,
        last_day=last,
        provider_ids=provider_ids,
        policy=PATIENT_POLICY,
        now=now,
    )
    by_day: dict[date, list[Any]] = defaultdict(list)
    for slot in slots:
        by_day[slot.start.astimezone(tz).date()].append(slot)
    chosen = _parse_day(params.get("day"))
    if chosen not in by_day:
        chosen = min(by_day) if by_day else None
    chosen_slots = by_day[chosen] if chosen is not None else []
    names = {p.pk: str(p) for p in Provider.objects.filter(pk__in={s.provider_id for s in chosen_slots})}
    keep = {"from": first.isoformat(), "any": "1" if any_provider else ""}
    return Picker(
        days=[
            DayChoice(d, dateformat.format(d, "D j M"), len(day_slots), _query(**keep, day=d.isoformat()))
            for d, day_slots in sorted(by_day.items())
        ],
        day=chosen,
        day_label=dateformat.format(chosen, "l j F Y") if chosen else "",
        slots=[
            SlotChoice(
                _slot_value(s.provider_id, s.start.astimezone(tz)),
                local_text(s.start, tz, "H:i T"),
                names.get(s.provider_id, ""),
            )
            for s in chosen_slots
        ],
        any_provider=any_provider,
        can_choose_provider=choosable,
        earlier_query=_query(**{**keep, "from": (first - timedelta(days=WINDOW_DAYS)).isoformat()})
        if first > today
        else "",
        later_query=_query(**{**keep, "from": (last + timedelta(days=1)).isoformat()}),
    )


def alternatives_of(exc: BookingError, appointment: Appointment, provider_ids: set[int]) -> list[SlotChoice]:
    """The free alternatives a SlotTaken carries (with providers the patient may pick), as choices."""
    tz = appointment.location.tz
    found = [a for a in getattr(exc, "alternatives", []) or [] if a["provider"] in provider_ids]
    names = {p.pk: str(p) for p in Provider.objects.filter(pk__in={a["provider"] for a in found})}
    choices = []
    for alternative in found:
        start = datetime.fromisoformat(alternative["start"])
        choices.append(
            SlotChoice(
                _slot_value(alternative["provider"], start),
                local_text(start, tz),
                names.get(alternative["provider"], ""),
            )
        )
    return choices
