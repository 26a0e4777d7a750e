"""The calendar's grids for a day (by provider or by room) and a provider's week, loaded in a few queries.

The pure layout (cells, columns, rows) is `booking.desk.layout`; this module reads the day's
visits, hours, time off and closures and hands them to it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Q, Subquery
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from booking.desk.layout import (
    KIND_SHORT,
    MOVABLE,
    SHOWN,
    STATUS_ICONS,
    Column,
    Entry,
    Grid,
    Interval,
    build_grid,
    pk_url,
    subtract,
    wall_epoch,
    wall_range,
)
from booking.models import Appointment, Status
from clinic.models import Closure, Location, Provider, Room, TimeOff, VisitKind, WorkingHours
from patients.models import Screening


def entry_for(appointment: Appointment, tz: ZoneInfo, screening: Screening | None) -> Entry:
    start, end = appointment.start.astimezone(tz), appointment.end.astimezone(tz)
    series = appointment.series
    session = f"{appointment.session_number}/{series.sessions_planned}" if series and appointment.session_number else ""
    visit_type = appointment.visit_type
    return Entry(
        pk=appointment.pk,
        patient_id=appointment.patient_id,
        patient=appointment.patient.full_name,
        start=start,
        end=end,
        times=f"{start:%H:%M}–{end:%H:%M}",
        status=appointment.status,
        status_label=str(Status(appointment.status).label),
        status_icon=STATUS_ICONS.get(appointment.status, ""),
        kind=visit_type.kind,
        kind_label=str(VisitKind(visit_type.kind).label),
        kind_short=str(KIND_SHORT.get(visit_type.kind, "")),
        visit=visit_type.name,
        provider=str(appointment.provider),
        provider_id=appointment.provider_id,
        location=appointment.location.name,
        room=appointment.room.name if appointment.room is not None else "",
        session=session,
        flags=screening.flags if screening else [],
        review_pending=bool(screening and screening.blocks_online_booking),
        movable=appointment.status in MOVABLE,
        start_ts=int(appointment.start.timestamp()),
        end_ts=int(appointment.end.timestamp()),
        url=pk_url("booking:calendar_appointment", appointment.pk),
        move_url=pk_url("booking:calendar_move", appointment.pk),
    )


def _appointments(filters: Q) -> list[Appointment]:
    return list(
        Appointment.objects.filter(filters)
        .exclude(status=Status.EXPIRED)
        .select_related("patient", "provider", "visit_type", "room", "series", "location")
        .order_by("start", "pk")
    )


def _entries(appointments: list[Appointment], tz_of: Any) -> tuple[list[Entry], list[Entry]]:
    """(shown in the grid, cancelled), with the newest screening of each patient in one query."""
    screenings = Screening.objects.latest_per_patient({a.patient_id for a in appointments}) if appointments else {}
    shown: list[Entry] = []
    cancelled: list[Entry] = []
    for appointment in appointments:
        entry = entry_for(appointment, tz_of(appointment), screenings.get(appointment.patient_id))
        (shown if appointment.status in SHOWN else cancelled).append(entry)
    return shown, cancelled


def _day_bounds(day: date, tz: ZoneInfo, days: int = 1) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=days), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


# --- loading: the day at a location -----------------------------------------------------------


def day_grid(
    location: Location, day: date, *, now: datetime | None = None, week_url: Any = None, closed: str | None = None
) -> Grid:
    """One column per provider working at the location that day (or with a visit there).

    Five queries: hours, appointments, screenings, time off, closures; four when the caller
    already knows whether the location is closed that day (`closed`: the reason, or "").
    """
    now = now or timezone.now()
    tz = location.tz
    day_start, day_end = _day_bounds(day, tz)
    hours = list(
        WorkingHours.objects.filter(location=location, weekday=day.weekday(), provider__is_active=True)
        .select_related("provider")
        .order_by("start")
    )
    appointments = _appointments(Q(location=location, start__lt=day_end, end__gt=day_start))
    shown, cancelled = _entries(appointments, lambda a: tz)
    providers: dict[int, Provider] = {h.provider_id: h.provider for h in hours}
    for appointment in appointments:
        if appointment.status in SHOWN:
            providers.setdefault(appointment.provider_id, appointment.provider)
    off = _time_off(providers, day_start, day_end)
    closed = closure_reason(location, day) if closed is None else closed
    is_today = timezone.localtime(now, tz).date() == day
    columns: dict[int, Column] = {}
    for provider in sorted(providers.values(), key=lambda p: (p.display_name, p.pk)):
        columns[provider.pk] = Column(
            key=f"provider-{provider.pk}",
            title=str(provider),
            provider_id=provider.pk,
            url=week_url(provider.pk) if week_url else "",
            is_today=is_today,
            closed_reason=closed,
        )
    for h in hours:
        column = columns[h.provider_id]
        column.subtitle = ", ".join(filter(None, [column.subtitle, f"{h.start:%H:%M}–{h.end:%H:%M}"]))
        if not closed:
            span = (wall_epoch(day, h.start, tz), wall_epoch(day, h.end, tz))
            column.open_spans += [(s, e, location.pk) for s, e in subtract([span], off[h.provider_id])]
    for entry in shown:
        columns[entry.provider_id].entries.append(entry)
    walls = [(h.start, h.end) for h in hours] + [(e.start.time(), e.end.time()) for e in shown if e.start.date() == day]
    first, last = wall_range(walls)
    ordered = list(columns.values())
    return build_grid(
        ordered,
        tz=tz,
        first_wall=first,
        last_wall=last,
        day_of={c.key: day for c in ordered},
        now=now,
        cancelled=cancelled,
    )


def closure_reason(location: Location, day: date) -> str:
    closure = Closure.objects.filter(location=location, start_date__lte=day, end_date__gte=day).first()
    return closure.reason if closure else ""


def closure_today(day: date) -> Subquery:
    """For Location querysets: the reason the location is closed on `day`, or None."""
    closures = Closure.objects.filter(location=OuterRef("pk"), start_date__lte=day, end_date__gte=day)
    return Subquery(closures.order_by("start_date").values("reason")[:1])


def _time_off(providers: Any, start: datetime, end: datetime) -> dict[int, list[Interval]]:
    off: dict[int, list[Interval]] = defaultdict(list)
    if providers:
        for t in TimeOff.objects.filter(provider_id__in=list(providers), start__lt=end, end__gt=start):
            off[t.provider_id].append((int(t.start.timestamp()), int(t.end.timestamp())))
    return off


def rooms_grid(location: Location, day: date, *, now: datetime | None = None, closed: str | None = None) -> Grid:
    """One column per room; a room is open while any provider works at the location.

    Five queries: rooms, hours, appointments, screenings, closures.
    """
    now = now or timezone.now()
    tz = location.tz
    day_start, day_end = _day_bounds(day, tz)
    rooms = list(Room.objects.filter(location=location, is_active=True))
    hours = list(WorkingHours.objects.filter(location=location, weekday=day.weekday(), provider__is_active=True))
    appointments = _appointments(Q(location=location, start__lt=day_end, end__gt=day_start))
    shown, cancelled = _entries(appointments, lambda a: tz)
    closed = closure_reason(location, day) if closed is None else closed
    spans: list[tuple[int, int, int | None]] = []
    if not closed:
        spans = [(wall_epoch(day, h.start, tz), wall_epoch(day, h.end, tz), location.pk) for h in hours]
    is_today = timezone.localtime(now, tz).date() == day
    columns = [
        Column(
            key=f"room-{room.pk}",
            title=room.name,
            room_id=room.pk,
            is_today=is_today,
            open_spans=spans,
            closed_reason=closed,
        )
        for room in rooms
    ]
    by_room = {c.room_id: c for c in columns}
    without_room = Column(key="room-none", title=_("No room"), is_today=is_today)
    for appointment, entry in zip([a for a in appointments if a.status in SHOWN], shown, strict=True):
        (by_room.get(appointment.room_id) or without_room).entries.append(entry)
    if without_room.entries:
        columns.append(without_room)
    walls = [(h.start, h.end) for h in hours] + [(e.start.time(), e.end.time()) for e in shown if e.start.date() == day]
    first, last = wall_range(walls)
    return build_grid(
        columns,
        tz=tz,
        first_wall=first,
        last_wall=last,
        day_of={c.key: day for c in columns},
        now=now,
        cancelled=cancelled,
    )


# --- loading: a provider's week -------------------------------------------------------------


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_grid(provider_id: int, day: date, *, now: datetime | None = None) -> tuple[Provider, Grid, Location | None]:
    """Seven columns, Monday to Sunday, for one provider at every location they work at.

    Times are in the zone of the location where the provider has most hours. Five queries:
    hours (with the provider), appointments, screenings, time off, closures; one more for a
    provider without hours. Provider.DoesNotExist for an unknown one.
    """
    now = now or timezone.now()
    hours = list(
        WorkingHours.objects.filter(provider_id=provider_id)
        .select_related("location", "provider")
        .order_by("weekday", "start")
    )
    provider = hours[0].provider if hours else Provider.objects.get(pk=provider_id)
    monday = week_start(day)
    home = _home_location(provider, hours)
    tz = home.tz if home else timezone.get_current_timezone()
    week_from, week_to = _day_bounds(monday, tz, days=7)
    appointments = _appointments(Q(provider=provider, start__lt=week_to, end__gt=week_from))
    shown, cancelled = _entries(appointments, lambda a: tz)
    off = _time_off([provider.pk], week_from, week_to)[provider.pk]
    location_ids = {h.location_id for h in hours}
    closures = list(
        Closure.objects.filter(
            location_id__in=location_ids, start_date__lte=monday + timedelta(days=6), end_date__gte=monday
        )
    )
    today = timezone.localtime(now, tz).date()
    columns: list[Column] = []
    day_of: dict[str, date] = {}
    for offset in range(7):
        current = monday + timedelta(days=offset)
        key = f"day-{current.isoformat()}"
        day_of[key] = current
        title = dateformat.format(current, "D j M")
        column = Column(key=key, title=title, provider_id=provider.pk, is_today=current == today)
        shut = {c.location_id: c.reason for c in closures if c.start_date <= current <= c.end_date}
        for h in hours:
            if h.weekday != current.weekday():
                continue
            column.subtitle = ", ".join(filter(None, [column.subtitle, f"{h.start:%H:%M}–{h.end:%H:%M}"]))
            if h.location_id in shut:
                column.closed_reason = shut[h.location_id]
                continue
            span = (wall_epoch(current, h.start, h.location.tz), wall_epoch(current, h.end, h.location.tz))
            column.open_spans += [(s, e, h.location_id) for s, e in subtract([span], off)]
        column.entries = [e for e in shown if e.start.date() == current]
        columns.append(column)
    walls = [(h.start, h.end) for h in hours] + [(e.start.time(), e.end.time()) for e in shown]
    first, last = wall_range(walls)
    grid = build_grid(columns, tz=tz, first_wall=first, last_wall=last, day_of=day_of, now=now, cancelled=cancelled)
    return provider, grid, home


def _home_location(provider: Provider, hours: list[WorkingHours]) -> Location | None:
    if hours:
        counts: dict[int, int] = defaultdict(int)
        for h in hours:
            counts[h.location_id] += 1
        best = max(counts, key=lambda pk: (counts[pk], -pk))
        return next(h.location for h in hours if h.location_id == best)
    return provider.locations.filter(is_active=True).first()
