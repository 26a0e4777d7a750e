"""The pain trend: 0–10 scores before and after each session, drawn as a small SVG on the server.

Pure: takes plain points, returns coordinates for templates/patients/_pain_trend.html. No chart
service and no JavaScript; the template adds a title, a description and a text table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH = 240
HEIGHT = 110
LEFT = 24  # room for the 0/5/10 labels
RIGHT = 8
TOP = 8
BOTTOM = 18


@dataclass(frozen=True)
class PainPoint:
    day: date
    before: int
    after: int


@dataclass(frozen=True)
class Mark:
    x: float
    y_before: float
    y_after: float
    day: date
    before: int
    after: int


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    marks: list[Mark]
    before_path: str  # "x,y x,y ..." for <polyline points>
    after_path: str
    grid: list[tuple[int, float]]  # (score label, y) for 0, 5, 10
    plot_left: int
    plot_right: int
    first_day: date | None
    last_day: date | None

    @property
    def empty(self) -> bool:
        return not self.marks

    @property
    def change(self) -> int | None:
        """Pain before the latest session minus before the first: positive means better."""
        return self.marks[0].before - self.marks[-1].before if self.marks else None


def _y(score: int) -> float:
    return round(TOP + (10 - score) * (HEIGHT - TOP - BOTTOM) / 10, 1)


def trend_chart(points: Sequence[PainPoint], *, width: int = WIDTH) -> TrendChart:
    """Place the points by session order (evenly spaced, so a long gap does not squash the rest)."""
    ordered = sorted(points, key=lambda p: p.day)
    right = width - RIGHT
    span = right - LEFT
    marks = []
    for index, point in enumerate(ordered):
        x = LEFT + span / 2 if len(ordered) == 1 else LEFT + span * index / (len(ordered) - 1)
        marks.append(Mark(round(x, 1), _y(point.before), _y(point.after), point.day, point.before, point.after))
    return TrendChart(
        width=width,
        height=HEIGHT,
        marks=marks,
        before_path=" ".join(f"{m.x},{m.y_before}" for m in marks),
        after_path=" ".join(f"{m.x},{m.y_after}" for m in marks),
        grid=[(score, _y(score)) for score in (0, 5, 10)],
        plot_left=LEFT,
        plot_right=right,
        first_day=ordered[0].day if ordered else None,
        last_day=ordered[-1].day if ordered else None,
    )
