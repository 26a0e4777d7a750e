"""Pages of the booking app: the front desk's series pages, a patient's own series, the booking wizard."""

from datetime import date

from django.urls import path, register_converter

from booking import messages_views, views
from booking.views import book, book_held, calendar, manage_link, patients_manage, reports, waitlist


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
    path("desk/", views.desk_home, name="desk_home"),
    path("desk/patients/<int:patient_id>", views.desk_patient, name="desk_patient"),
    path("desk/patients/<int:patient_id>/series/new", views.series_new_for_patient, name="series_new"),
    path(
        "desk/appointments/<int:appointment_id>/series/new",
        views.series_new_for_appointment,
        name="series_new_from_appointment",
    ),
    path("desk/series/<int:series_id>", views.desk_series, name="desk_series"),
    path("desk/series/<int:series_id>/book", views.desk_series_book, name="desk_series_book"),
    path("desk/series/<int:series_id>/cancel-remaining", views.desk_series_cancel, name="desk_series_cancel"),
    path("desk/series/<int:series_id>/extend", views.desk_series_extend, name="desk_series_extend"),
    path("desk/series/<int:series_id>/complete", views.desk_series_complete, name="desk_series_complete"),
    path("desk/series/<int:series_id>/move", views.desk_series_move, name="desk_series_move"),
    path("desk/calendar/", calendar.calendar_home, name="calendar_home"),
    path("desk/calendar/<int:location_id>/<isodate:day>", calendar.calendar_day, name="calendar_day"),
    path("desk/calendar/<int:location_id>/<isodate:day>/rooms", calendar.calendar_rooms, name="calendar_rooms"),
    path("desk/calendar/provider/<int:provider_id>/week/<isodate:day>", calendar.calendar_week, name="calendar_week"),
    path("desk/calendar/<int:location_id>/book", calendar.calendar_book, name="calendar_book"),
    path("desk/calendar/patients", calendar.calendar_patients, name="calendar_patients"),
    path("desk/calendar/appointments/<int:appointment_id>", calendar.calendar_appointment, name="calendar_appointment"),
    path("desk/calendar/appointments/<int:appointment_id>/move", calendar.calendar_move, name="calendar_move"),
    path("desk/calendar/appointments/<int:appointment_id>/cancel", calendar.calendar_cancel, name="calendar_cancel"),
    path(
        "desk/calendar/appointments/<int:appointment_id>/check-in", calendar.calendar_check_in, name="calendar_check_in"
    ),
    path("desk/calendar/appointments/<int:appointment_id>/no-show", calendar.calendar_no_show, name="calendar_no_show"),
    path("reports/", reports.reports, name="reports"),
    path("my/series/", views.my_series_list, name="my_series_list"),
    path("my/series/<int:series_id>", views.my_series, name="my_series"),
    path("my/appointments/", patients_manage.my_appointments, name="my_appointments"),
    path("my/appointments/<int:appointment_id>/cancel", patients_manage.cancel_my_appointment, name="my_cancel"),
    path("my/appointments/<int:appointment_id>/reschedule", patients_manage.move_my_appointment, name="my_move"),
    path("my/appointments/<int:appointment_id>/aftercare", patients_manage.my_aftercare, name="my_aftercare"),
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
    path("waitlist/offer/<str:token>", waitlist.waitlist_offer_link, name="waitlist_offer_link"),
    path("waitlist/offer/", waitlist.waitlist_offer, name="waitlist_offer"),
    path("my/waitlist/", waitlist.my_waitlist, name="my_waitlist"),
    path("my/waitlist/<int:entry_id>/withdraw", waitlist.my_waitlist_withdraw, name="my_waitlist_withdraw"),
    path("desk/waitlist/", waitlist.desk_waitlist, name="desk_waitlist"),
    path("desk/waitlist/add/<int:patient_id>", waitlist.desk_waitlist_add, name="desk_waitlist_add"),
    path("desk/waitlist/<int:entry_id>/withdraw", waitlist.desk_waitlist_withdraw, name="desk_waitlist_withdraw"),
    path("desk/waitlist/<int:entry_id>/offer", waitlist.desk_waitlist_offer, name="desk_waitlist_offer"),
    *messages_views.urlpatterns,
]
