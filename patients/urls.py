"""A patient's account pages, the desk's screening reviews, and the provider's daily list and records."""

from django.urls import path

from patients.views import account, provider

app_name = "patients"

urlpatterns = [
    path("account/register", account.register, name="register"),
    path("account/profile", account.profile, name="profile"),
    path("desk/reviews/", account.review_list, name="review_list"),
    path("desk/reviews/<int:screening_id>", account.review_decide, name="review_decide"),
    path("provider/day/", provider.provider_day, name="provider_today"),
    path("provider/day/<str:day>", provider.provider_day, name="provider_day"),
    path("provider/appointments/<int:appointment_id>/record", provider.record_procedure_page, name="record_procedure"),
]
