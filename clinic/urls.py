"""The root URL conf, and the composition root: the one place in clinic that names the apps.

It mounts every app's pages and puts the JSON API together from the routers of clinic, patients
and booking (clinic.api holds what they share).
"""

from django.contrib import admin
from django.urls import include, path

from booking.api import router as booking_router
from clinic import api as clinic_api
from clinic import health, views
from patients.api import router as patients_router

api = clinic_api.ClinicAPI(
    title="TPI clinic scheduling API",
    version="1",
    description="Locations, providers, visit types, patients, availability and appointments.",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/schema",
)
api.add_router("/v1/", clinic_api.router)
api.add_router("/v1/", patients_router)
api.add_router("/v1/", booking_router)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("booking.urls")),
    path("", include("patients.urls")),
]
