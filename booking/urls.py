"""Pages of the booking app: the front desk's series pages, a patient's own series, the booking wizard."""

from django.urls import path

from booking import messages_views, views
from booking.views import book, book_held

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
    path("my/series/", views.my_series_list, name="my_series_list"),
    path("my/series/<int:series_id>", views.my_series, name="my_series"),
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
    *messages_views.urlpatterns,
]
