"""The held time of the booking wizard: the safety screening, confirm, release, the confirmation.

A procedure visit cannot be confirmed before its screening is answered; a blocking answer releases
the hold through the booking service and asks the desk to review. Confirming twice is harmless:
confirm_hold finds the visit booked and the same confirmation page is shown.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from booking import services
from booking.errors import BookingError
from booking.models import Appointment, Status
from booking.portal.wizard import (
    REFUSALS,
    Choices,
    local_day_text,
    local_time_text,
    patient_or_404,
    refusal_text,
    refused_page,
    step_page,
)
from clinic.http import AuthenticatedHttpRequest
from clinic.models import VisitKind
from patients import services as patient_services
from patients.forms import ScreeningForm
from patients.models import Screening


def own_appointment(request: AuthenticatedHttpRequest, appointment_id: int) -> Appointment:
    """The patient's own appointment; anyone else's answers 404."""
    patient = patient_or_404(request)
    return get_object_or_404(
        Appointment.objects.select_related("location", "visit_type", "provider"), pk=appointment_id, patient=patient
    )


def _screening_of(appointment: Appointment) -> Screening | None:
    return appointment.screenings.order_by("-created_at", "-id").first()


def _calendar_url(appointment: Appointment) -> str:
    choices = Choices(appointment.location, appointment.visit_type, appointment.provider)
    day = timezone.localtime(appointment.start, appointment.location.tz).date()
    return reverse("booking:book_calendar") + "?" + choices.query(day=day.isoformat())


def summary(appointment: Appointment) -> dict[str, Any]:
    tz = appointment.location.tz
    local = timezone.localtime(appointment.start, tz)
    return {
        "appointment": appointment,
        "when_day": local_day_text(local.date()),
        "when_time": local_time_text(local, tz),
        "hold_until": local_time_text(appointment.hold_expires_at, tz) if appointment.hold_expires_at else "",
        "calendar_url": _calendar_url(appointment),
    }


@login_required
def book_review(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """The held time: check the details and confirm (procedure visits answer the screening first)."""
    appointment = own_appointment(request, appointment_id)
    if appointment.status == Status.BOOKED:
        return redirect("booking:book_done", appointment.pk)
    expires = appointment.hold_expires_at  # set while held (booking_appointment_hold_has_expiry)
    if appointment.status != Status.HELD or expires is None or expires <= timezone.now():
        return refused_page(request, str(REFUSALS["hold_expired"]), _calendar_url(appointment), status=410)
    screening = _screening_of(appointment)
    if appointment.visit_type.kind == VisitKind.PROCEDURE and screening is None:
        return redirect("booking:book_screening", appointment.pk)
    return step_page(request, "booking/book_review.html", 5, {**summary(appointment), "screening": screening})


@login_required
def book_screening(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """The safety questions before a procedure visit; a blocking answer releases the held time."""
    appointment = own_appointment(request, appointment_id)
    if appointment.status != Status.HELD or appointment.visit_type.kind != VisitKind.PROCEDURE:
        return redirect("booking:book_review", appointment.pk)
    form = ScreeningForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        screening = patient_services.record_screening(
            patient=appointment.patient, by=request.user, answers=form.cleaned_data, appointment=appointment
        )
        if not screening.blocks_online_booking:
            return redirect("booking:book_review", appointment.pk)
        with contextlib.suppress(BookingError):  # the hold already ran out: nothing is kept either way
            services.cancel_appointment(
                appointment=appointment, by=request.user, reason="safety screening needs staff review"
            )
        return render(request, "booking/book_screening_stop.html", {"appointment": appointment})
    status = 422 if request.method == "POST" else 200
    return step_page(request, "booking/book_screening.html", 5, {**summary(appointment), "form": form}, status=status)


@login_required
@require_POST
def book_confirm(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """Turn the hold into a booking. A second submit finds it booked and shows the same page."""
    appointment = own_appointment(request, appointment_id)
    if appointment.visit_type.kind == VisitKind.PROCEDURE and appointment.status == Status.HELD:
        screening = _screening_of(appointment)
        if screening is None:
            return redirect("booking:book_screening", appointment.pk)
        if screening.blocks_online_booking:
            return refused_page(
                request,
                _("The clinic is reviewing your safety answers and will call you."),
                reverse("booking:book_start"),
            )
    try:
        services.confirm_hold(appointment=appointment, by=request.user)
    except BookingError as exc:
        return refused_page(request, refusal_text(exc), _calendar_url(appointment), status=exc.status)
    return redirect("booking:book_done", appointment.pk)


@login_required
@require_POST
def book_release(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """Give the held time back and pick another."""
    appointment = own_appointment(request, appointment_id)
    if appointment.status == Status.HELD:
        with contextlib.suppress(BookingError):  # ran out meanwhile
            services.cancel_appointment(appointment=appointment, by=request.user, reason="patient picked another time")
    return redirect(_calendar_url(appointment))


@login_required
def book_done(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """The confirmation page."""
    appointment = own_appointment(request, appointment_id)
    if appointment.status != Status.BOOKED:
        return redirect("booking:book_review", appointment.pk)
    return render(request, "booking/book_done.html", summary(appointment))
