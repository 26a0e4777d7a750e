"""The booking app's pages: the front desk's series pages (desk.py) and a patient's own (patients.py).

plans.py holds what both show: a plan's sessions, and the booking of a prescribed series.
"""

from booking.views.desk import (
    desk_home,
    desk_patient,
    desk_series,
    desk_series_book,
    desk_series_cancel,
    desk_series_complete,
    desk_series_extend,
    desk_series_move,
    series_new_for_appointment,
    series_new_for_patient,
)
from booking.views.patients import my_series, my_series_list

__all__ = [
    "desk_home",
    "desk_patient",
    "desk_series",
    "desk_series_book",
    "desk_series_cancel",
    "desk_series_complete",
    "desk_series_extend",
    "desk_series_move",
    "my_series",
    "my_series_list",
    "series_new_for_appointment",
    "series_new_for_patient",
]
