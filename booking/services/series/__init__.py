"""Treatment series: plan in local wall time, book all sessions or none, and change them later.

book.py books a new series (and holds the helpers the others share), changes.py extends, stops
and completes one, moves.py moves a session, prescriptions.py saves a series to book later.
"""

from booking.services.series.book import (
    MAX_GAP_DAYS,
    MAX_SERIES_SESSIONS,
    MAX_TOLERANCE_DAYS,
    book_series,
    plan_series,
)
from booking.services.series.changes import (
    cancel_series_remaining,
    complete_series,
    extend_series,
    plan_series_extension,
)
from booking.services.series.moves import move_series_session, preview_series_move
from booking.services.series.prescriptions import (
    book_prescribed_series,
    is_prescription,
    plan_prescribed_series,
    prescribe_series,
)

__all__ = [
    "MAX_GAP_DAYS",
    "MAX_SERIES_SESSIONS",
    "MAX_TOLERANCE_DAYS",
    "book_prescribed_series",
    "book_series",
    "cancel_series_remaining",
    "complete_series",
    "extend_series",
    "is_prescription",
    "move_series_session",
    "plan_prescribed_series",
    "plan_series",
    "plan_series_extension",
    "prescribe_series",
    "preview_series_move",
]
