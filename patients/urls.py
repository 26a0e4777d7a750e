"""A patient's account pages and the desk's screening reviews.

The provider's daily list and procedure record are booking's pages (booking.provider).
"""

from django.urls import path

from patients import views

app_name = "patients"

urlpatterns = [
    path("account/register", views.register, name="register"),
    path("account/profile", views.profile, name="profile"),
    path("desk/reviews/", views.review_list, name="review_list"),
    path("desk/reviews/<int:screening_id>", views.review_decide, name="review_decide"),
]
