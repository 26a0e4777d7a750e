"""The calendar's layout, without a database: rows, free cells, clusters of overlapping visits."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from booking.desk.grid import Column, Entry, build_grid

NY = ZoneInfo("America/New_York")
DAY = date(2026, 12, 7)
BEFORE = datetime(2026, 12, 1, 12, tzinfo=UTC)


def ts(hour, minute=0):
    return int(datetime.combine(DAY, time(hour, minute), tzinfo=NY).timestamp())


def entry(pk, start, end):
    local = datetime.fromtimestamp(start, NY)
    return Entry(
        pk=pk, patient_id=pk, patient=f"P{pk}", start=local, end=datetime.fromtimestamp(end, NY), times="",
        status="booked", status_label="Booked", status_icon="●", kind="procedure", kind_label="Procedure",
        kind_short="TPI", visit="TPI", provider="Dr", provider_id=1, location="L", room="", session="",
        flags=[], review_pending=False, movable=True, start_ts=start, end_ts=end,
    )  # fmt: skip


def column(entries=(), spans=((8, 0, 12, 0),)):
    return Column(
        key="p1",
        title="Dr",
        provider_id=1,
        open_spans=[(ts(a, b), ts(c, d), 1) for a, b, c, d in spans],
        entries=list(entries),
    )


def cells(grid):
    return [(c.start.strftime("%H:%M"), c.rows, c.kind) for c in grid.columns[0].cells.values()]


def layout(col, first=time(8), last=time(10)):
    return build_grid([col], tz=NY, first_wall=first, last_wall=last, day_of={"p1": DAY}, now=BEFORE)


def test_free_time_is_cut_into_quarter_hours_around_a_visit():
    grid = layout(column([entry(1, ts(8, 35), ts(9, 5))]), last=time(9, 30))
    assert cells(grid) == [
        ("08:00", 3, "open"),
        ("08:15", 3, "open"),
        ("08:30", 1, "open"),
        ("08:35", 6, "appointments"),
        ("09:05", 2, "open"),
        ("09:15", 3, "open"),
    ]
    assert len(grid.rows) == 18 and grid.rows[0].label == "08:00" and grid.rows[3].quarter_rows == 3


def test_overlapping_visits_share_one_cell():
    grid = layout(column([entry(1, ts(8), ts(8, 30)), entry(2, ts(8, 15), ts(8, 45))]), last=time(9))
    first = grid.columns[0].cells[0]
    assert (first.kind, first.rows, [e.pk for e in first.entries]) == ("appointments", 9, [1, 2])


def test_time_outside_the_open_spans_is_closed():
    grid = layout(column(spans=[(8, 0, 8, 30)]), last=time(9))
    assert cells(grid) == [("08:00", 3, "open"), ("08:15", 3, "open"), ("08:30", 3, "closed"), ("08:45", 3, "closed")]


def test_today_marks_the_row_of_now_and_past_free_time():
    now = datetime.combine(DAY, time(8, 20), tzinfo=NY)
    grid = build_grid([column()], tz=NY, first_wall=time(8), last_wall=time(9), day_of={"p1": DAY}, now=now)
    assert [r.index for r in grid.rows if r.is_now] == [4]
    assert grid.now_text == "08:20" and grid.zone == "EST"
    assert cells(grid)[:3] == [("08:00", 3, "past"), ("08:15", 1, "past"), ("08:20", 2, "open")]


def test_a_free_cell_breaks_at_the_now_row_so_the_line_shows():
    now = datetime.combine(DAY, time(8, 24), tzinfo=NY)
    grid = build_grid([column()], tz=NY, first_wall=time(8), last_wall=time(9), day_of={"p1": DAY}, now=now)
    assert cells(grid)[1:3] == [("08:15", 1, "past"), ("08:20", 1, "past")]
    assert grid.rows[4].cells[0].start.strftime("%H:%M") == "08:20"
