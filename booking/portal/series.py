"""A patient's own series: the list, one series, and booking the series prescribed for them.

Another patient's series answers 404, whether it exists or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
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
from clinic.http import AuthenticatedHttpRequest
from clinic.localtime import local_text
from patients.access import patient_for
from patients.models import Patient


def _own_patient(user: Any) -> Patient:
    patient = patient_for(user)
    if patient is None:
        raise Http404
    return patient


@login_required
def my_series_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's own series, with the next session of each."""
    booked = Appointment.objects.order_by("session_number")
    series_list = list(
        _own_patient(request.user)
        .series.select_related("provider", "visit_type", "location")
        .prefetch_related(Prefetch("appointments", queryset=booked))
        .order_by("-created_at")
    )
    now = timezone.now()
    rows = [_summary(series, now) for series in series_list]
    return render(request, "booking/my_series_list.html", {"rows": rows})


@dataclass(frozen=True)
class SeriesSummary:
    """A series on the patient's list: its next session, or that its dates are still to choose."""

    series: Series
    next_label: str
    next_when: str
    is_prescription: bool


def _summary(series: Series, now: datetime) -> SeriesSummary:
    upcoming = [a for a in series.appointments.all() if a.status in MOVABLE and a.start > now]
    return SeriesSummary(
        series=series,
        next_label=session_label(upcoming[0].session_number, series.sessions_planned) if upcoming else "",
        next_when=local_text(upcoming[0].start, series.location.tz) if upcoming else "",
        is_prescription=series.status == SeriesStatus.PLANNED and not series.appointments.all(),
    )


@login_required
def my_series(request: AuthenticatedHttpRequest, series_id: int) -> HttpResponse:
    """The patient's own series (404 for anyone else's); a prescription is booked here."""
    series = series_or_404(series_id, patient=_own_patient(request.user))
    page = Page(MY_SERIES, lambda **extra: _my_context(request, series, **extra))
    if request.method != "POST":
        return render(request, page.template, page.context())
    return book_prescription(
        request, series, page, policy=PATIENT_POLICY, same_provider_only=True, done_url=request.path
    )


def _my_context(request: AuthenticatedHttpRequest, series: Series, **extra: Any) -> dict[str, Any]:
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
