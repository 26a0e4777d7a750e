from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/two-factor/setup", views.two_factor_setup, name="two_factor_setup"),
    path("account/two-factor/verify", views.two_factor_verify, name="two_factor_verify"),
]
