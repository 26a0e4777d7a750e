"""A patient's own series: the list, one series, and booking the series prescribed for them.

Another patient's series answers 404, whether it exists or not.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from booking.models import Appointment, Series, SeriesStatus
from booking.pages.plans import (
    MOVABLE,
    MY_SERIES,
    Page,
    appointment_row,
    book_prescription,
    first_date_form,
    series_or_404,
    session_label,
    sessions_of,
)
from booking.scheduling.availability import PATIENT_POLICY
from clinic.localtime import local_text
from patients.access import patient_for
from patients.models import Patient


def _own_patient(user: Any) -> Patient:
    patient = patient_for(user)
    if patient is None:
        raise Http404
    return patient


@login_required
def my_series_list(request: HttpRequest) -> HttpResponse:
    """The patient's own series, with the next session of each."""
    booked = Appointment.objects.order_by("session_number")
    series_list = list(
        _own_patient(request.user)
        .series.select_related("provider", "visit_type", "location")
        .prefetch_related(Prefetch("appointments", queryset=booked))
        .order_by("-created_at")
    )
    now = timezone.now()
    for series in series_list:
        upcoming = [a for a in series.appointments.all() if a.status in MOVABLE and a.start > now]
        series.next_label = session_label(upcoming[0].session_number, series.sessions_planned) if upcoming else ""
        series.next_when = local_text(upcoming[0].start, series.location.tz) if upcoming else ""
        series.is_prescription = series.status == SeriesStatus.PLANNED and not series.appointments.all()
    return render(request, "booking/my_series_list.html", {"series_list": series_list})


@login_required
def my_series(request: HttpRequest, series_id: int) -> HttpResponse:
    """The patient's own series (404 for anyone else's); a prescription is booked here."""
    series = series_or_404(series_id, patient=_own_patient(request.user))
    page = Page(MY_SERIES, lambda **extra: _my_context(request, series, **extra))
    if request.method != "POST":
        return render(request, page.template, page.context())
    return book_prescription(
        request, series, page, policy=PATIENT_POLICY, same_provider_only=True, done_url=request.path
    )


def _my_context(request: HttpRequest, series: Series, **extra: Any) -> dict[str, Any]:
    appointments = sessions_of(series)
    return {
        "series": series,
        "sessions": [appointment_row(a, series) for a in appointments],
        "prescription": series.status == SeriesStatus.PLANNED and not appointments,
        "form": first_date_form(series),
        "action_url": request.path,
        "preview": None,
        "error": "",
        **extra,
    }
