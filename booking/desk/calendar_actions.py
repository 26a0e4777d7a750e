"""The desk calendar's actions: book into an empty time, and show, move, cancel, check in or mark
no-show one appointment.

Staff only; every write goes through booking.services. With htmx an action answers the side
panel plus the calendar grid (booking.desk.calendar.answer); without JavaScript the same URLs
answer whole pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from booking import services
from booking.desk import grid as grids
from booking.desk import layout
from booking.desk.calendar import answer
from booking.desk.calendar_forms import BookForm, CancelForm, MoveForm, parse_start
from booking.errors import BookingError, SlotTaken
from booking.models import Appointment, Status
from booking.scheduling.availability import STAFF_POLICY
from clinic.access import patients_viewed, staff_only
from clinic.http import AuthenticatedHttpRequest
from clinic.localtime import local_text
from clinic.models import Location, Provider
from patients.models import Patient, Screening
from patients.services import create_patient

# --- booking into an empty time ---------------------------------------------------------------

SEARCH_LIMIT = 8  # patients offered while typing a name


@staff_only
def calendar_book(request: AuthenticatedHttpRequest, location_id: int) -> HttpResponse:
    """GET: the booking form for a time clicked in the calendar. POST: book it."""
    location = get_object_or_404(Location, pk=location_id, is_active=True)
    if request.method != "POST":
        start = parse_start(request.GET.get("start", ""))
        if start is None:
            raise Http404
        form = BookForm(
            initial={"start": start.isoformat(), "provider": request.GET.get("provider")}, location=location
        )
        return answer(request, "book", _book_context(request, form, location, start))
    form = BookForm(request.POST, location=location)
    start = parse_start(request.POST.get("start", "")) or timezone.now()
    if not form.is_valid():
        return answer(request, "book", _book_context(request, form, location, start), status=422)
    patient = form.cleaned_data["patient"]
    if patient is None:
        try:
            patient = create_patient(by=request.user, **form.new_patient_values())
        except ValidationError as exc:
            _errors_onto(form, exc)
            return answer(request, "book", _book_context(request, form, location, start), status=422)
    return _book(request, form, location, patient)


def _book(request: AuthenticatedHttpRequest, form: BookForm, location: Location, patient: Patient) -> HttpResponse:
    data = form.cleaned_data
    try:
        appointment = services.book_appointment(
            patient=patient,
            provider=data["provider"],
            visit_type=data["visit_type"],
            location=location,
            start=data["start"],
            by=request.user,
            policy=STAFF_POLICY,
        )
    except BookingError as exc:
        # The patient is kept picked (a new one is saved by now), so picking an alternative
        # books them without typing anything again.
        form = BookForm(
            {
                **dict(form.data.items()),
                "patient": patient.pk,
                **dict.fromkeys(("first_name", "last_name", "phone"), ""),
            },
            location=location,
        )
        form.is_valid()
        context = _book_context(request, form, location, data["start"], picked=patient)
        context.update(
            _refusal(exc, location), alt_fields=[("patient", patient.pk), ("visit_type", data["visit_type"].pk)]
        )
        return answer(request, "book", context, status=exc.status)
    when = local_text(appointment.start, location.tz)
    context = _appointment_context(request, _appointment_or_404(appointment.pk))
    message = _("Booked: %(patient)s, %(when)s.") % {"patient": patient.full_name, "when": when}
    return answer(request, "appointment", context, success=message)


def _book_context(
    request: AuthenticatedHttpRequest,
    form: BookForm,
    location: Location,
    start: datetime,
    *,
    picked: Patient | None = None,
) -> dict[str, Any]:
    if picked is None and form.is_bound and form.is_valid():
        picked = form.cleaned_data["patient"]
    if picked is not None:
        patients_viewed(request, [picked.pk])
    return {
        "form": form,
        "location": location,
        "book_action": reverse("booking:calendar_book", args=[location.pk]),
        "day": start.astimezone(location.tz).date(),
        "start_text": local_text(start, location.tz),
        "picked": picked,
        "search_url": reverse("booking:calendar_patients"),
    }


def _errors_onto(form: BookForm, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


@staff_only
@require_GET
def calendar_patients(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Patients matching a name, phone digits or a date of birth (YYYY-MM-DD), as radio choices."""
    query = request.GET.get("q", "").strip()[:100]
    patients = list(Patient.objects.search(query)[:SEARCH_LIMIT]) if len(query) >= 2 else []
    patients_viewed(request, [p.pk for p in patients])
    screenings = Screening.objects.latest_per_patient([p.pk for p in patients]) if patients else {}
    rows = [(p, screenings.get(p.pk)) for p in patients]
    return render(request, "booking/_calendar_patients.html", {"rows": rows, "query": query})


# --- one appointment: show, move, cancel, check in, no-show ------------------------------------


def _appointment_or_404(appointment_id: int) -> Appointment:
    qs = Appointment.objects.select_related("patient", "provider", "location", "visit_type", "room", "series")
    return get_object_or_404(qs, pk=appointment_id)


def _appointment_context(request: AuthenticatedHttpRequest, appointment: Appointment, **extra: Any) -> dict[str, Any]:
    tz = appointment.location.tz
    screening = Screening.objects.latest_per_patient([appointment.patient_id]).get(appointment.patient_id)
    entry = grids.entry_for(appointment, tz, screening)
    patients_viewed(request, [appointment.patient_id])
    now = timezone.now()
    local = timezone.localtime(appointment.start, tz)
    move_form = extra.pop("move_form", None) or MoveForm(
        initial={"provider": appointment.provider_id, "date": local.date(), "time": local.time()},
        location=appointment.location,
    )
    return {
        "appointment": appointment,
        "entry": entry,
        "location": appointment.location,
        "day": local.date(),
        "when": local_text(appointment.start, tz),
        "can_check_in": appointment.status == Status.BOOKED and timezone.localtime(now, tz).date() == local.date(),
        "can_no_show": appointment.status == Status.BOOKED and now >= appointment.start,
        "can_change": appointment.status in layout.MOVABLE,
        "move_form": move_form,
        "move_url": reverse("booking:calendar_move", args=[appointment.pk]),
        "move_alt_fields": [],
        "zone": local_text(appointment.start, tz, "T"),
        "cancel_form": extra.pop("cancel_form", None) or CancelForm(),
        **extra,
    }


@staff_only
@require_GET
def calendar_appointment(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    return answer(request, "appointment", _appointment_context(request, appointment))


@staff_only
@require_POST
def calendar_move(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """Move to another time and/or provider; a taken time answers 409 with alternatives."""
    appointment = _appointment_or_404(appointment_id)
    form = MoveForm(request.POST, location=appointment.location)
    if not form.is_valid():
        return answer(request, "appointment", _appointment_context(request, appointment, move_form=form), status=422)
    try:
        services.move_appointment(
            appointment=appointment,
            start=form.cleaned_data["start"],
            provider=form.cleaned_data["provider"],
            by=request.user,
            policy=STAFF_POLICY,
            reason=form.cleaned_data["reason"],
        )
    except BookingError as exc:
        extra = {"move_form": form, "open_move": True, **_refusal(exc, appointment.location)}
        return answer(request, "appointment", _appointment_context(request, appointment, **extra), status=exc.status)
    moved = _appointment_or_404(appointment.pk)
    when = local_text(moved.start, moved.location.tz)
    message = _("Moved to %(when)s with %(provider)s.") % {"when": when, "provider": moved.provider}
    return answer(request, "appointment", _appointment_context(request, moved), success=message)


@staff_only
@require_POST
def calendar_cancel(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        context = _appointment_context(request, appointment, cancel_form=form, open_cancel=True)
        return answer(request, "appointment", context, status=422)
    return _status_change(
        request,
        appointment,
        lambda: services.cancel_appointment(
            appointment=appointment, by=request.user, reason=form.cleaned_data["reason"]
        ),
        _("Cancelled."),
        cancel_form=form,
    )


@staff_only
@require_POST
def calendar_check_in(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    done = _("%(patient)s is checked in.") % {"patient": appointment.patient.full_name}
    return _status_change(
        request, appointment, lambda: services.check_in(appointment=appointment, by=request.user), done
    )


@staff_only
@require_POST
def calendar_no_show(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    done = _("Marked as a no-show.")
    return _status_change(
        request, appointment, lambda: services.mark_no_show(appointment=appointment, by=request.user), done
    )


def _status_change(
    request: AuthenticatedHttpRequest, appointment: Appointment, change: Any, success: str, **extra: Any
) -> HttpResponse:
    try:
        change()
    except BookingError as exc:
        context = _appointment_context(request, _appointment_or_404(appointment.pk), error=exc.detail, **extra)
        return answer(request, "appointment", context, status=exc.status)
    return answer(
        request, "appointment", _appointment_context(request, _appointment_or_404(appointment.pk)), success=success
    )


def _refusal(exc: BookingError, location: Location) -> dict[str, Any]:
    """The error in words, and for a taken time the alternatives as one-click choices."""
    alternatives = exc.alternatives if isinstance(exc, SlotTaken) else []
    names = Provider.objects.in_bulk({a["provider"] for a in alternatives}) if alternatives else {}
    choices = []
    for alternative in alternatives:
        start = datetime.fromisoformat(alternative["start"])
        choices.append(
            {
                "start": alternative["start"],
                "provider_id": alternative["provider"],
                "provider": str(names.get(alternative["provider"], "")),
                "when": local_text(start, location.tz),
                "same_provider": alternative.get("kind") == "same_provider",
            }
        )
    return {"error": exc.detail, "error_status": exc.status, "alternatives": choices}
