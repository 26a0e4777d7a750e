"""The booking app's pages, by audience: the front desk's, the provider's, the patient's, and the reports.

Each URL name points at its view here: `booking:calendar_day` is `booking.desk.calendar.calendar_day`,
`booking:calendar_move` is `booking.desk.calendar_actions.calendar_move`.
"""

from datetime import date

from django.urls import path, register_converter

from booking.desk import calendar as desk_calendar
from booking.desk import calendar_actions
from booking.desk import messages as desk_messages
from booking.desk import series as desk_series
from booking.desk import waitlist as desk_waitlist
from booking.portal import appointments, book, book_held, manage_link
from booking.portal import series as portal_series
from booking.portal import waitlist as portal_waitlist
from booking.provider import views as provider_views
from booking.reports import views as report_views


class DateConverter:
    """A local date as YYYY-MM-DD; anything else (2026-02-30 too) is not a match, so 404."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        return date.fromisoformat(value)

    def to_url(self, value: date | str) -> str:
        return value.isoformat() if isinstance(value, date) else value


register_converter(DateConverter, "isodate")
app_name = "booking"

urlpatterns = [
    path("desk/", desk_series.desk_home, name="desk_home"),
    path("desk/patients/<int:patient_id>", desk_series.desk_patient, name="desk_patient"),
    path("desk/patients/<int:patient_id>/series/new", desk_series.series_new_for_patient, name="series_new"),
    path(
        "desk/appointments/<int:appointment_id>/series/new",
        desk_series.series_new_for_appointment,
        name="series_new_from_appointment",
    ),
    path("desk/series/<int:series_id>", desk_series.desk_series, name="desk_series"),
    path("desk/series/<int:series_id>/book", desk_series.desk_series_book, name="desk_series_book"),
    path("desk/series/<int:series_id>/cancel-remaining", desk_series.desk_series_cancel, name="desk_series_cancel"),
    path("desk/series/<int:series_id>/extend", desk_series.desk_series_extend, name="desk_series_extend"),
    path("desk/series/<int:series_id>/complete", desk_series.desk_series_complete, name="desk_series_complete"),
    path("desk/series/<int:series_id>/move", desk_series.desk_series_move, name="desk_series_move"),
    path("desk/calendar/", desk_calendar.calendar_home, name="calendar_home"),
    path("desk/calendar/<int:location_id>/<isodate:day>", desk_calendar.calendar_day, name="calendar_day"),
    path("desk/calendar/<int:location_id>/<isodate:day>/rooms", desk_calendar.calendar_rooms, name="calendar_rooms"),
    path(
        "desk/calendar/provider/<int:provider_id>/week/<isodate:day>", desk_calendar.calendar_week, name="calendar_week"
    ),
    path("desk/calendar/<int:location_id>/book", calendar_actions.calendar_book, name="calendar_book"),
    path("desk/calendar/patients", calendar_actions.calendar_patients, name="calendar_patients"),
    path(
        "desk/calendar/appointments/<int:appointment_id>",
        calendar_actions.calendar_appointment,
        name="calendar_appointment",
    ),
    path("desk/calendar/appointments/<int:appointment_id>/move", calendar_actions.calendar_move, name="calendar_move"),
    path(
        "desk/calendar/appointments/<int:appointment_id>/cancel",
        calendar_actions.calendar_cancel,
        name="calendar_cancel",
    ),
    path(
        "desk/calendar/appointments/<int:appointment_id>/check-in",
        calendar_actions.calendar_check_in,
        name="calendar_check_in",
    ),
    path(
        "desk/calendar/appointments/<int:appointment_id>/no-show",
        calendar_actions.calendar_no_show,
        name="calendar_no_show",
    ),
    path("reports/", report_views.reports, name="reports"),
    path("my/series/", portal_series.my_series_list, name="my_series_list"),
    path("my/series/<int:series_id>", portal_series.my_series, name="my_series"),
    path("my/appointments/", appointments.my_appointments, name="my_appointments"),
    path("my/appointments/<int:appointment_id>/cancel", appointments.cancel_my_appointment, name="my_cancel"),
    path("my/appointments/<int:appointment_id>/reschedule", appointments.move_my_appointment, name="my_move"),
    path("my/appointments/<int:appointment_id>/aftercare", appointments.my_aftercare, name="my_aftercare"),
    path("manage/done", manage_link.manage_done, name="manage_done"),
    path("manage/<str:token>", manage_link.manage, name="manage"),
    path("manage/<str:token>/reschedule", manage_link.manage_move, name="manage_move"),
    path("book/", book.book_start, name="book_start"),
    path("book/visit", book.book_visit, name="book_visit"),
    path("book/provider", book.book_provider, name="book_provider"),
    path("book/calendar", book.book_calendar, name="book_calendar"),
    path("book/hold", book.book_hold, name="book_hold"),
    path("book/held/<int:appointment_id>", book_held.book_review, name="book_review"),
    path("book/held/<int:appointment_id>/screening", book_held.book_screening, name="book_screening"),
    path("book/held/<int:appointment_id>/confirm", book_held.book_confirm, name="book_confirm"),
    path("book/held/<int:appointment_id>/release", book_held.book_release, name="book_release"),
    path("book/done/<int:appointment_id>", book_held.book_done, name="book_done"),
    path("waitlist/offer/<str:token>", portal_waitlist.waitlist_offer_link, name="waitlist_offer_link"),
    path("waitlist/offer/", portal_waitlist.waitlist_offer, name="waitlist_offer"),
    path("my/waitlist/", portal_waitlist.my_waitlist, name="my_waitlist"),
    path("my/waitlist/<int:entry_id>/withdraw", portal_waitlist.my_waitlist_withdraw, name="my_waitlist_withdraw"),
    path("desk/waitlist/", desk_waitlist.desk_waitlist, name="desk_waitlist"),
    path("desk/waitlist/add/<int:patient_id>", desk_waitlist.desk_waitlist_add, name="desk_waitlist_add"),
    path("desk/waitlist/<int:entry_id>/withdraw", desk_waitlist.desk_waitlist_withdraw, name="desk_waitlist_withdraw"),
    path("desk/waitlist/<int:entry_id>/offer", desk_waitlist.desk_waitlist_offer, name="desk_waitlist_offer"),
    *desk_messages.urlpatterns,
    path("provider/day/", provider_views.provider_day, name="provider_today"),
    path("provider/day/<str:day>", provider_views.provider_day, name="provider_day"),
    path(
        "provider/appointments/<int:appointment_id>/record",
        provider_views.record_procedure_page,
        name="record_procedure",
    ),
]
