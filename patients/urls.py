"""The provider's pages: the daily list and the procedure record."""

from django.urls import path

from patients import views

app_name = "patients"

urlpatterns = [
    path("provider/day/", views.provider_day, name="provider_today"),
    path("provider/day/<str:day>", views.provider_day, name="provider_day"),
    path("provider/appointments/<int:appointment_id>/record", views.record_procedure_page, name="record_procedure"),
]
