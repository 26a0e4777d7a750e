"""Pages of the booking app: the front desk's series pages and a patient's own series."""

from django.urls import path

from booking import messages_views, views
from booking.views import waitlist

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
