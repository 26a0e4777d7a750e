"""A patient's own appointments: the list, cancelling and moving within the clinic's cutoff, aftercare.

Another patient's appointment answers 404, whether it exists or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from booking import services
from booking.errors import BookingError, SlotTaken
from booking.forms import MoveForm, PatientCancelForm
from booking.messaging.aftercare import aftercare_paragraphs
from booking.models import Appointment, Status
from booking.pages.plans import session_label
from booking.portal.changes import alternatives_of, movable_provider_ids, patient_message, picker
from clinic.http import AuthenticatedHttpRequest
from clinic.localtime import local_text
from clinic.models import Provider, VisitKind
from patients.access import patient_for
from patients.models import Patient

UPCOMING = (Status.BOOKED, Status.CHECKED_IN)
PAST_SHOWN = 100


@dataclass
class MyAppointment:
    appointment: Appointment
    when: str
    session: str
    can_change: bool
    phone_to_change: bool
    has_aftercare: bool


def _row(appointment: Appointment, now: Any) -> MyAppointment:
    series = appointment.series
    return MyAppointment(
        appointment=appointment,
        when=local_text(appointment.start, appointment.location.tz),
        session=session_label(appointment.session_number, series.sessions_planned) if series else "",
        can_change=services.patient_can_change(appointment, now=now),
        phone_to_change=appointment.status == Status.BOOKED
        and appointment.start > now
        and not services.patient_can_change(appointment, now=now),
        has_aftercare=appointment.status == Status.COMPLETED and appointment.visit_type.kind == VisitKind.PROCEDURE,
    )


def own_patient_or_404(user: Any) -> Patient:
    patient = patient_for(user)
    if patient is None:
        raise Http404
    return patient


def own_appointment_or_404(request: AuthenticatedHttpRequest, appointment_id: int) -> Appointment:
    patient = own_patient_or_404(request.user)
    return get_object_or_404(
        Appointment.objects.select_related("location", "provider", "visit_type", "series", "patient"),
        pk=appointment_id,
        patient=patient,
    )


@login_required
def my_appointments(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Upcoming and past visits, in the location's local time, with series sessions as "k of n"."""
    patient = own_patient_or_404(request.user)
    now = timezone.now()
    rows = (
        patient.appointments.exclude(status__in=[Status.HELD, Status.EXPIRED])
        .select_related("location", "provider", "visit_type", "series")
        .order_by("start")
    )
    upcoming = [_row(a, now) for a in rows.filter(start__gte=now, status__in=UPCOMING)]
    past_rows = rows.exclude(start__gte=now, status__in=UPCOMING).order_by("-start")[:PAST_SHOWN]
    past = [_row(a, now) for a in past_rows]
    return render(request, "booking/my_appointments.html", {"upcoming": upcoming, "past": past})


def _page(appointment: Appointment, **extra: Any) -> dict[str, Any]:
    return {
        "appointment": appointment,
        "when": local_text(appointment.start, appointment.location.tz),
        "session": session_label(appointment.session_number, appointment.series.sessions_planned)
        if appointment.series
        else "",
        "can_change": services.patient_can_change(appointment),
        "error": "",
        **extra,
    }


@login_required
def cancel_my_appointment(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """GET: what would be cancelled, and why; POST: cancel it (within the cutoff)."""
    appointment = own_appointment_or_404(request, appointment_id)
    form = PatientCancelForm(request.POST or None)
    context = _page(appointment, form=form, action_url=request.path, back_url="booking:my_appointments")
    if request.method != "POST":
        return render(request, "booking/appointment_cancel.html", context)
    if appointment.status == Status.CANCELLED:  # a double submit: the first one did it
        messages.info(request, _("This appointment is cancelled."))
        return redirect("booking:my_appointments")
    if not form.is_valid():
        return render(request, "booking/appointment_cancel.html", context, status=422)
    try:
        services.patient_cancel_appointment(appointment=appointment, by=request.user, reason=form.reason_text())
    except BookingError as exc:
        context.update(error=patient_message(exc), can_change=False)
        return render(request, "booking/appointment_cancel.html", context, status=exc.status)
    messages.success(request, _("Your appointment on %(when)s is cancelled.") % {"when": context["when"]})
    return redirect("booking:my_appointments")


@login_required
def move_my_appointment(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """GET: free times to move to; POST: move there atomically (409 with alternatives if taken)."""
    appointment = own_appointment_or_404(request, appointment_id)
    any_provider = request.GET.get("any") == "1" or request.POST.get("any") == "1"
    provider_ids = movable_provider_ids(appointment, any_provider)
    context = _page(appointment, action_url=request.get_full_path(), any_provider=any_provider)
    if request.method != "POST":
        context["picker"] = picker(appointment, request.GET)
        return render(request, "booking/appointment_move.html", context)
    form = MoveForm(request.POST, provider_ids=provider_ids)
    status = 400
    if form.is_valid():
        provider_id, start = form.cleaned_data["slot"]
        provider = get_object_or_404(Provider, pk=provider_id)
        try:
            moved = services.patient_move_appointment(
                appointment=appointment, start=start, provider=provider, by=request.user
            )
        except BookingError as exc:
            status = exc.status
            context["error"] = patient_message(exc)
            if isinstance(exc, SlotTaken):
                context["alternatives"] = alternatives_of(exc, appointment, provider_ids)
        else:
            when = local_text(moved.start, moved.location.tz)
            messages.success(request, _("Your appointment is now on %(when)s.") % {"when": when})
            return redirect("booking:my_appointments")
    else:
        context["error"] = " ".join(str(e) for errors in form.errors.values() for e in errors)
    appointment.refresh_from_db()
    context.update(can_change=services.patient_can_change(appointment), picker=picker(appointment, request.GET))
    return render(request, "booking/appointment_move.html", context, status=status)


@login_required
def my_aftercare(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """The location's aftercare advice and contact details, in the page's language."""
    appointment = own_appointment_or_404(request, appointment_id)
    paragraphs = aftercare_paragraphs(appointment.location, get_language() or "en")
    return render(request, "booking/aftercare.html", _page(appointment, paragraphs=paragraphs))
