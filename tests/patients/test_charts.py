"""The pain trend is plain coordinates for an SVG: before/after on a 0–10 scale, by session."""

from datetime import date

from patients.charts import BOTTOM, HEIGHT, TOP, PainPoint, trend_chart


def test_scores_map_to_height_with_zero_at_the_bottom():
    chart = trend_chart([PainPoint(date(2026, 12, 7), 10, 0)])
    (mark,) = chart.marks
    assert mark.y_before == TOP
    assert mark.y_after == HEIGHT - BOTTOM


def test_sessions_are_ordered_by_date_and_spread_across_the_width():
    chart = trend_chart(
        [PainPoint(date(2026, 12, 21), 5, 3), PainPoint(date(2026, 12, 7), 8, 4), PainPoint(date(2027, 1, 4), 3, 1)]
    )
    assert [m.day for m in chart.marks] == [date(2026, 12, 7), date(2026, 12, 21), date(2027, 1, 4)]
    assert chart.marks[0].x == chart.plot_left
    assert chart.marks[-1].x == chart.plot_right
    assert chart.before_path.count(",") == 3
    assert chart.change == 5  # 8 before the first session, 3 before the last


def test_no_points_is_an_empty_chart():
    chart = trend_chart([])
    assert chart.empty
    assert chart.change is None
    assert chart.before_path == ""
