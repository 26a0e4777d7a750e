"""The front desk's series pages: plan, preview, book or prescribe a series, and change it later.

Staff only (front desk, providers, clinic admins); anyone else gets a 404. Every write goes
through booking.services.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from booking import services
from booking.errors import BookingError, SeriesClash, SeriesNeedsChoice, SlotTaken
from booking.forms import (
    CancelRemainingForm,
    ExtendForm,
    MoveSessionForm,
    PatientSearchForm,
    SeriesForm,
    posted_choices,
)
from booking.models import Appointment, Series, SeriesStatus
from booking.pages.plans import (
    DESK_SERIES,
    FORM_PARTIAL,
    PREVIEW_PARTIAL,
    SERIES_NEW,
    Page,
    PlanView,
    alert_level,
    appointment_row,
    book_prescription,
    booked_message,
    first_date_form,
    go_to,
    movable_sessions,
    preview_context,
    refused,
    respond,
    series_or_404,
    sessions_of,
)
from booking.scheduling.availability import STAFF_POLICY
from booking.scheduling.series import SessionChoice, TimeNote, plan_as_dict, wall_instant
from booking.services.series import prescribe_series
from clinic.access import patients_viewed, staff_only
from clinic.http import AuthenticatedHttpRequest
from clinic.localtime import local_text
from patients.history import record_row, records_of, screening_answers, trends_by_series
from patients.models import Patient, Screening

# --- front desk: plan, preview, book or prescribe a series ------------------------------------


@staff_only
def desk_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Find a patient to plan a series for."""
    form = PatientSearchForm(request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    patients = list(Patient.objects.search(query)[:50]) if query else []
    patients_viewed(request, [p.pk for p in patients])
    reviews_pending = Screening.objects.awaiting_review().count()
    context = {"form": form, "query": query, "patients": patients, "reviews_pending": reviews_pending}
    return render(request, "booking/desk_home.html", context)


@staff_only
def desk_patient(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    """Everything staff need about a patient: details, visits, series, screenings, records, pain trend."""
    patient = get_object_or_404(Patient, pk=patient_id)
    now = timezone.now()
    appointments = list(
        patient.appointments.select_related("provider", "location", "visit_type", "series", "room").order_by("start")
    )
    series_list = list(patient.series.select_related("provider", "visit_type").order_by("-created_at"))
    records = records_of(patient.pk)
    first_session: dict[int | None, datetime] = {}
    for a in appointments:  # in time order: the first seen is the series' first session
        first_session.setdefault(a.series_id, a.local_start())
    series_names = {
        s.pk: _("%(visit)s with %(provider)s, from %(day)s")
        % {
            "visit": s.visit_type,
            "provider": s.provider.display_name,
            "day": dateformat.format(first_session.get(s.pk, s.created_at), "j M Y"),
        }
        for s in series_list
    }
    patients_viewed(request, [patient.pk])
    context = {
        "patient": patient,
        "series_list": series_list,
        "upcoming": [appointment_row(a, a.series) for a in appointments if a.start >= now],
        "past": [appointment_row(a, a.series) for a in reversed(appointments) if a.start < now][:100],
        "screenings": [(s, screening_answers(s)) for s in patient.screenings.all()],
        "records": [record_row(r) for r in reversed(records)],
        "trends": trends_by_series(records, series_names),
    }
    return render(request, "booking/desk_patient.html", context)


@staff_only
def series_new_for_patient(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=patient_id)
    return _plan_series_page(request, patient, initial={}, appointment=None)


@staff_only
def series_new_for_appointment(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """From a booked evaluation: its patient, provider and location; its time of day; two weeks on."""
    appointment = get_object_or_404(
        Appointment.objects.select_related("patient", "provider", "location", "visit_type"), pk=appointment_id
    )
    local = appointment.local_start()
    initial = {
        "provider": appointment.provider_id,
        "location": appointment.location_id,
        "preferred_time": local.time().replace(second=0, microsecond=0),
        "first_date": local.date() + timedelta(days=14),
    }
    return _plan_series_page(request, appointment.patient, initial=initial, appointment=appointment)


def _plan_series_page(
    request: AuthenticatedHttpRequest, patient: Patient, *, initial: dict[str, Any], appointment: Appointment | None
) -> HttpResponse:
    patients_viewed(request, [patient.pk])
    form = SeriesForm(request.POST if request.method == "POST" else None, initial=initial)
    context: dict[str, Any] = {
        "patient": patient,
        "appointment": appointment,
        "form": form,
        "action_url": request.path,
        "can_prescribe": True,
        "preview": None,
        "appointment_when": local_text(appointment.start, appointment.location.tz) if appointment else "",
    }
    if request.method != "POST":
        return render(request, SERIES_NEW, context)
    action = request.POST.get("action", "preview")
    if not form.is_valid() or (action != "prescribe" and not form.require_first_date()):
        return respond(request, SERIES_NEW, context, status=422, partial=FORM_PARTIAL)
    if action == "prescribe":
        return _prescribe(request, patient, form, context)
    same_as_preview = request.POST.get("previewed") == form.signature()
    if action == "book" and same_as_preview:
        return _book_series(request, patient, form, context)
    changed = _("The details changed since the preview: check this plan, then book.") if action == "book" else ""
    return _preview_series(request, form, context, keep_picks=same_as_preview, message=changed)


def _plan_view(form: SeriesForm, picks: Mapping[int, SessionChoice]) -> PlanView:
    data = form.cleaned_data
    return PlanView(data["location"].tz, data["sessions"], data["tolerance_days"], data["provider"].pk, picks=picks)


def _preview_series(
    request: AuthenticatedHttpRequest, form: SeriesForm, context: dict[str, Any], *, keep_picks: bool, message: str
) -> HttpResponse:
    """A dry run: where each session would go. Writes nothing."""
    numbers = range(1, form.cleaned_data["sessions"] + 1)
    picks = posted_choices(request.POST, "choice_", numbers) if keep_picks else {}
    try:
        plan = services.plan_series(
            **form.series_values(), first_date=form.cleaned_data["first_date"], choices=picks, policy=STAFF_POLICY
        )
    except BookingError as exc:
        return refused(request, SERIES_NEW, context, exc)
    view = _plan_view(form, picks)
    shown = {"signature": form.signature(), "message": message, "level": "warning" if message else "info"}
    context["preview"] = preview_context(plan_as_dict(plan, view.tz), view, **shown)
    return respond(request, SERIES_NEW, context, partial=PREVIEW_PARTIAL)


def _book_series(
    request: AuthenticatedHttpRequest, patient: Patient, form: SeriesForm, context: dict[str, Any]
) -> HttpResponse:
    """Book what the preview showed, with the alternatives picked: every session or none."""
    numbers = range(1, form.cleaned_data["sessions"] + 1)
    picks = posted_choices(request.POST, "choice_", numbers)
    try:
        series = services.book_series(
            patient=patient,
            **form.series_values(),
            first_date=form.cleaned_data["first_date"],
            choices={**posted_choices(request.POST, "pin_", numbers), **picks},
            by=request.user,
            policy=STAFF_POLICY,
        )
    except (SeriesClash, SeriesNeedsChoice) as exc:
        shown = {"signature": form.signature(), "message": exc.detail, "level": alert_level(exc)}
        context["preview"] = preview_context(exc.plan, _plan_view(form, picks), **shown)
        return respond(request, SERIES_NEW, context, status=exc.status, partial=PREVIEW_PARTIAL)
    except BookingError as exc:
        return refused(request, SERIES_NEW, context, exc)
    booked_message(request, series)
    return go_to(request, reverse("booking:desk_series", args=[series.pk]))


def _prescribe(
    request: AuthenticatedHttpRequest, patient: Patient, form: SeriesForm, context: dict[str, Any]
) -> HttpResponse:
    """Save the parameters without booking; the patient chooses the first date on their page."""
    try:
        series = prescribe_series(patient=patient, **form.series_values(), by=request.user, policy=STAFF_POLICY)
    except BookingError as exc:
        return refused(request, SERIES_NEW, context, exc)
    messages.success(request, _("Series prescribed. The patient can now book it from their own page."))
    return go_to(request, reverse("booking:desk_series", args=[series.pk]))


# --- front desk: one series and its operations ------------------------------------------------


def _series_context(request: AuthenticatedHttpRequest, series: Series, **extra: Any) -> dict[str, Any]:
    """The desk's series page: sessions, operations, and the booking form of a prescription."""
    patients_viewed(request, [series.patient_id])
    appointments = sessions_of(series)
    movable = movable_sessions(series, appointments)
    context = {
        "series": series,
        "sessions": [appointment_row(a, series) for a in appointments],
        "is_open": series.status in (SeriesStatus.PLANNED, SeriesStatus.ACTIVE),
        "prescription": series.status == SeriesStatus.PLANNED and not appointments,
        "form": first_date_form(series),
        "action_url": reverse("booking:desk_series_book", args=[series.pk]),
        "preview": None,
        "cancel_form": CancelRemainingForm(),
        "extend_form": ExtendForm(),
        "move_form": MoveSessionForm(sessions=movable),
        "error": "",
        **extra,
    }
    context["move_form"].fields["session_number"].choices = movable
    return context


def _series_page(request: AuthenticatedHttpRequest, series: Series, *, status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, DESK_SERIES, _series_context(request, series, **extra), status=status)


@staff_only
def desk_series(request: AuthenticatedHttpRequest, series_id: int) -> HttpResponse:
    return _series_page(request, series_or_404(series_id))


@staff_only
@require_POST
def desk_series_cancel(request: AuthenticatedHttpRequest, series_id: int) -> HttpResponse:
    series = series_or_404(series_id)
    form = CancelRemainingForm(request.POST)
    if not form.is_valid():
        return _series_page(request, series, status=422, cancel_form=form)
    try:
        services.cancel_series_remaining(series=series, by=request.user, reason=form.cleaned_data["reason"])
    except BookingError as exc:
        return _series_page(request, series, status=exc.status, cancel_form=form, error=exc.detail)
    messages.success(request, _("The remaining sessions are cancelled and the series is stopped."))
    return redirect("booking:desk_series", series.pk)


@staff_only
@require_POST
def desk_series_complete(request: AuthenticatedHttpRequest, series_id: int) -> HttpResponse:
    series = series_or_404(series_id)
    try:
        services.complete_series(series=series, by=request.user)
    except BookingError as exc:
        return _series_page(request, series, status=exc.status, error=exc.detail)
    messages.success(request, _("Series completed: the patient is in maintenance and returns when pain recurs."))
    return redirect("booking:desk_series", series.pk)


@staff_only
@require_POST
def desk_series_extend(request: AuthenticatedHttpRequest, series_id: int) -> HttpResponse:
    """Preview or book k more sessions; sessions that need a choice come back with alternatives."""
    series = series_or_404(series_id)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        return _series_page(request, series, status=422, extend_form=form)
    sessions = form.cleaned_data["sessions"]
    numbers = range(series.sessions_planned + 1, series.sessions_planned + sessions + 1)
    picks = posted_choices(request.POST, "choice_", numbers)
    view = PlanView(series.location.tz, numbers[-1], series.tolerance_days, series.provider_id, picks=picks)
    shown = {"htmx": False, "book_value": "extend", "book_label": _("Extend with these times")}
    try:
        if request.POST.get("action") == "preview":
            plan = services.plan_series_extension(series=series, sessions=sessions, choices=picks, policy=STAFF_POLICY)
            preview = preview_context(plan_as_dict(plan, view.tz), view, **shown)
            return _series_page(request, series, extend_form=form, extend_preview=preview)
        choices = {**posted_choices(request.POST, "pin_", numbers), **picks}
        services.extend_series(series=series, sessions=sessions, choices=choices, by=request.user, policy=STAFF_POLICY)
    except (SeriesClash, SeriesNeedsChoice) as exc:
        preview = preview_context(exc.plan, view, message=exc.detail, level=alert_level(exc), **shown)
        return _series_page(request, series, status=exc.status, extend_form=form, extend_preview=preview)
    except BookingError as exc:
        return _series_page(request, series, status=exc.status, extend_form=form, error=exc.detail)
    messages.success(request, ngettext("%(n)s session added.", "%(n)s sessions added.", sessions) % {"n": sessions})
    return redirect("booking:desk_series", series.pk)


@staff_only
@require_POST
def desk_series_move(request: AuthenticatedHttpRequest, series_id: int) -> HttpResponse:
    """Preview or make the move of one session, optionally re-planning the later ones."""
    series = series_or_404(series_id)
    form = MoveSessionForm(request.POST, sessions=movable_sessions(series, sessions_of(series)))
    start = _move_start(form, series.location.tz) if form.is_valid() else None
    if start is None:
        return _series_page(request, series, status=422, move_form=form)
    move: dict[str, Any] = {
        "series": series,
        "session_number": form.cleaned_data["session_number"],
        "start": start,
        "replan_later": form.cleaned_data["replan_later"],
        "policy": STAFF_POLICY,
    }
    view = PlanView(series.location.tz, series.sessions_planned, series.tolerance_days, series.provider_id)
    try:
        if request.POST.get("action") == "preview":
            plan = services.preview_series_move(**move)
            preview = preview_context(plan_as_dict(plan, view.tz), view, readonly=True, htmx=False)
            return _series_page(request, series, move_form=form, move_preview=preview)
        services.move_series_session(**move, by=request.user, reason=form.cleaned_data["reason"])
    except SeriesNeedsChoice as exc:
        preview = preview_context(exc.plan, view, readonly=True, htmx=False, message=exc.detail, level="warning")
        return _series_page(request, series, status=exc.status, move_form=form, move_preview=preview)
    except SlotTaken as exc:
        free = [local_text(datetime.fromisoformat(a["start"]), view.tz) for a in exc.alternatives]
        return _series_page(request, series, status=409, move_form=form, error=exc.detail, move_alternatives=free)
    except BookingError as exc:
        return _series_page(request, series, status=exc.status, move_form=form, error=exc.detail)
    messages.success(request, _("Session moved."))
    return redirect("booking:desk_series", series.pk)


def _move_start(form: MoveSessionForm, tz: ZoneInfo) -> datetime | None:
    """The new local wall time as an instant; a time the clocks skip that day is refused."""
    start, note = wall_instant(form.cleaned_data["date"], form.cleaned_data["time"], tz)
    if note == TimeNote.NONEXISTENT:
        form.add_error("time", _("That time does not exist on that day: the clocks go forward. Pick another."))
        return None
    return start


@staff_only
@require_POST
def desk_series_book(request: AuthenticatedHttpRequest, series_id: int) -> HttpResponse:
    """The desk books a prescription (for a patient who phones), with the staff rules."""
    series = series_or_404(series_id)
    page = Page(DESK_SERIES, lambda **extra: _series_context(request, series, **extra))
    done_url = reverse("booking:desk_series", args=[series.pk])
    return book_prescription(request, series, page, policy=STAFF_POLICY, same_provider_only=False, done_url=done_url)
