"""The desk calendar's layout: a day per location (a column per provider, or per room) and a week per provider.

`booking.desk.grid` reads everything in a fixed number of queries, whatever the number of
appointments (hours, time off, closures, appointments with their patient, visit type, room and
series, and the newest screening of every patient shown). `build_grid` here is pure: it
lays the columns out as a table of 5-minute rows, where an appointment is a cell spanning its rows
and free time is cut into bookable 15-minute cells, shaded when the column is closed.

A table, not absolutely positioned boxes: the page has no inline styles (CSP), the rows and
column headers are real headers for screen readers, and rowspan does the positioning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from booking.models import Status
from clinic.models import VisitKind

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

ROW_MINUTES = 5
BOOK_STEP_MINUTES = 15  # free time is offered in cells of at most this length, cut on the quarter hour
DEFAULT_HOURS = (time(8), time(18))  # shown when nobody works that day
# Shown in the grid; cancelled visits and run-out holds are listed under it instead.
SHOWN = (Status.HELD, Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED, Status.NO_SHOW)
MOVABLE = (Status.HELD, Status.BOOKED)
Interval = tuple[int, int]  # [start, end) in UTC epoch seconds

STATUS_ICONS: dict[str, str] = {
    Status.HELD: "◔",
    Status.BOOKED: "●",
    Status.CHECKED_IN: "✓",
    Status.COMPLETED: "✔",
    Status.NO_SHOW: "✗",
    Status.CANCELLED: "⊘",
    Status.EXPIRED: "◌",
}
KIND_SHORT: dict[str, StrPromise] = {
    VisitKind.EVALUATION: pgettext_lazy("visit kind code", "EV"),
    VisitKind.PROCEDURE: pgettext_lazy("visit kind code", "TPI"),
    VisitKind.FOLLOW_UP: pgettext_lazy("visit kind code", "FU"),
}


# --- what is shown --------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _url_prefix(name: str) -> tuple[str, str]:
    """A URL reversed once with a marker id, split around it: hundreds of links per page."""
    marker = 987654321
    before, after = reverse(name, args=[marker]).split(str(marker))
    return before, after


def pk_url(name: str, pk: int) -> str:
    before, after = _url_prefix(name)
    return f"{before}{pk}{after}"


@dataclass
class Entry:
    """One appointment as the calendar shows it."""

    pk: int
    patient_id: int
    patient: str
    start: datetime  # local
    end: datetime
    times: str  # "09:00–09:30"
    status: str
    status_label: str
    status_icon: str
    kind: str
    kind_label: str
    kind_short: str
    visit: str
    provider: str
    provider_id: int
    location: str
    room: str
    session: str  # "2/6" for a series session
    flags: list[str]
    review_pending: bool
    movable: bool
    start_ts: int = 0
    end_ts: int = 0
    url: str = ""  # the appointment's panel
    move_url: str = ""

    @property
    def pk_text(self) -> str:
        return str(self.pk)


@dataclass
class Cell:
    """A table cell: appointments (one or more that overlap), or free time, open or closed."""

    rows: int
    kind: str  # "appointments" | "open" | "closed" | "past"
    start: datetime  # local
    column: Column
    entries: list[Entry] = field(default_factory=list)
    location_id: int | None = None  # where a booking made here takes place

    @property
    def span(self) -> str:
        return str(self.rows)  # text: an int would go through number formatting, per cell

    @property
    def iso(self) -> str:
        return self.start.isoformat()

    @property
    def book_url(self) -> str:
        """The booking panel for this time (and this column's provider)."""
        if self.location_id is None:
            return ""
        query = urlencode({"start": self.iso, "provider": self.column.provider_id or ""})
        return f"{pk_url('booking:calendar_book', self.location_id)}?{query}"

    @property
    def label(self) -> str:
        """What a screen reader says for a free time: "Book 09:15, Maria Alvarez, MD"."""
        return _("Book %(time)s, %(column)s") % {"time": self.start.strftime("%H:%M"), "column": self.column.title}


@dataclass
class Column:
    key: str
    title: str
    subtitle: str = ""
    provider_id: int | None = None
    room_id: int | None = None
    url: str = ""  # a link from the header (a provider's week)
    is_today: bool = False
    open_spans: list[tuple[int, int, int | None]] = field(default_factory=list)  # start, end, location id
    entries: list[Entry] = field(default_factory=list)
    closed_reason: str = ""
    cells: dict[int, Cell] = field(default_factory=dict)  # first row -> cell

    @property
    def provider_text(self) -> str:
        return str(self.provider_id or "")


@dataclass
class Row:
    index: int
    start: datetime  # local, of the first column's day (the time is what matters)
    label: str  # "09:15" on each quarter hour, else ""
    quarter_rows: int  # rows the time header spans (3 on a quarter hour, 0 inside one)
    is_hour: bool
    is_now: bool
    has_now: bool  # the quarter hour this header spans contains now
    cells: list[Cell]

    @property
    def quarter_span(self) -> str:
        return str(self.quarter_rows)


@dataclass
class Grid:
    tz: ZoneInfo
    zone: str  # "EST"
    columns: list[Column]
    rows: list[Row]
    now_text: str
    cancelled: list[Entry]
    patient_ids: set[int]

    @property
    def is_empty(self) -> bool:
        return not self.columns


# --- building the table (pure) ----------------------------------------------------------------


def wall_epoch(day: date, wall: time, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, wall, tzinfo=tz).timestamp())


def subtract(spans: list[Interval], holes: Iterable[Interval]) -> list[Interval]:
    out = spans
    for hole_start, hole_end in holes:
        cut: list[Interval] = []
        for start, end in out:
            if hole_end <= start or hole_start >= end:
                cut.append((start, end))
                continue
            if start < hole_start:
                cut.append((start, hole_start))
            if hole_end < end:
                cut.append((hole_end, end))
        out = cut
    return out


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def build_grid(
    columns: list[Column],
    *,
    tz: ZoneInfo,
    first_wall: time,
    last_wall: time,
    day_of: dict[str, date],
    now: datetime,
    cancelled: Sequence[Entry] = (),
) -> Grid:
    """Lay the columns out on rows of ROW_MINUTES from first_wall to last_wall (local wall times).

    `day_of` gives each column's local date (one date in the day views, seven in the week view).
    """
    step = ROW_MINUTES * 60
    minutes = (last_wall.hour * 60 + last_wall.minute) - (first_wall.hour * 60 + first_wall.minute)
    count = max(minutes // ROW_MINUTES, 1)
    now_ts = int(now.timestamp())
    any_day = next(iter(day_of.values()), timezone.localdate(now, tz))
    for column in columns:
        day = day_of[column.key]
        t0 = wall_epoch(day, first_wall, tz)
        column.cells = _column_cells(column, t0, count, step, now_ts, tz)
    today = timezone.localtime(now, tz).date()
    rows: list[Row] = []
    base = datetime.combine(any_day, first_wall, tzinfo=tz)
    now_row = None
    if today in day_of.values():
        start_today = wall_epoch(today, first_wall, tz)
        if start_today <= now_ts < start_today + count * step:
            now_row = (now_ts - start_today) // step
    for i in range(count):
        start = base + timedelta(minutes=i * ROW_MINUTES)
        on_quarter = start.minute % BOOK_STEP_MINUTES == 0 or i == 0
        quarter_rows = 0
        if on_quarter:
            quarter_rows = BOOK_STEP_MINUTES // ROW_MINUTES - (start.minute % BOOK_STEP_MINUTES) // ROW_MINUTES
            quarter_rows = min(quarter_rows, count - i)
        rows.append(
            Row(
                index=i,
                start=start,
                label=start.strftime("%H:%M") if on_quarter else "",
                quarter_rows=quarter_rows,
                is_hour=start.minute == 0,
                is_now=now_row == i,
                has_now=now_row is not None and on_quarter and i <= now_row < i + quarter_rows,
                cells=[column.cells[i] for column in columns if i in column.cells],
            )
        )
    patient_ids = {e.patient_id for column in columns for e in column.entries} | {e.patient_id for e in cancelled}
    return Grid(
        tz=tz,
        zone=dateformat.format(timezone.localtime(now, tz) if now_row is not None else base, "T"),
        columns=columns,
        rows=rows,
        now_text=timezone.localtime(now, tz).strftime("%H:%M") if now_row is not None else "",
        cancelled=list(cancelled),
        patient_ids=patient_ids,
    )


def _column_cells(column: Column, t0: int, count: int, step: int, now_ts: int, tz: ZoneInfo) -> dict[int, Cell]:
    """First row -> cell: clusters of overlapping appointments, then free time cut into cells."""
    cells: dict[int, Cell] = {}
    clusters: list[tuple[int, int, list[Entry]]] = []
    for entry in sorted(column.entries, key=lambda e: (e.start_ts, e.end_ts)):
        first = min(max((entry.start_ts - t0) // step, 0), count - 1)
        last = min(max(_ceil_div(entry.end_ts - t0, step), first + 1), count)
        if clusters and first < clusters[-1][1]:
            top, bottom, entries = clusters[-1]
            clusters[-1] = (top, max(bottom, last), [*entries, entry])
        else:
            clusters.append((first, last, [entry]))
    taken: dict[int, tuple[int, list[Entry]]] = {top: (bottom, entries) for top, bottom, entries in clusters}
    now_row = (now_ts - t0) // step if t0 <= now_ts < t0 + count * step else -1  # free cells break there
    i = 0
    while i < count:
        if i in taken:
            bottom, entries = taken[i]
            cells[i] = Cell(bottom - i, "appointments", _local(t0 + i * step, tz), column, entries)
            i = bottom
            continue
        state, location_id = _state(column, t0 + i * step, step, now_ts)
        j = i + 1
        while j < count and j not in taken and j != now_row:
            at = t0 + j * step
            if _local(at, tz).minute % BOOK_STEP_MINUTES == 0 or _state(column, at, step, now_ts) != (
                state,
                location_id,
            ):
                break
            j += 1
        cells[i] = Cell(j - i, state, _local(t0 + i * step, tz), column, location_id=location_id)
        i = j
    return cells


def _state(column: Column, at: int, step: int, now_ts: int) -> tuple[str, int | None]:
    for start, end, location_id in column.open_spans:
        if start <= at and at + step <= end:
            return ("past" if at < now_ts else "open"), location_id
    return "closed", None


def _local(ts: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz)


def wall_range(walls: Iterable[tuple[time, time]]) -> tuple[time, time]:
    """Whole hours around every range shown (working hours and appointments)."""
    walls = list(walls)
    if not walls:
        return DEFAULT_HOURS
    first = min(w[0] for w in walls)
    last = max(w[1] for w in walls)
    end_hour = last.hour + (1 if (last.minute or last.second) else 0)
    if end_hour >= 24 or last < first:
        return time(first.hour), time(23, 55)
    return time(first.hour), time(end_hour)


# --- turning rows into entries ----------------------------------------------------------------
