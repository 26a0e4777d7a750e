"""The desk calendar: a day per location (providers or rooms), a week per provider, and the
actions on it (book into an empty time, move, cancel, check in, mark no-show).

Staff only (front desk, providers, clinic admins); anyone else gets a 404. Every write goes
through booking.services. With htmx an action answers the side panel plus the calendar grid
(an out-of-band swap), so the page never reloads; without JavaScript the same URLs answer whole
pages. The grid to send back is the one the page shows: its path comes in the `calendar` field.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve, reverse
from django.utils import dateformat, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from booking import services
from booking.desk import grid as grids
from booking.desk import layout
from booking.desk.calendar_forms import BookForm, CancelForm, MoveForm, parse_start
from booking.errors import BookingError, SlotTaken
from booking.models import Appointment, Status
from booking.scheduling.availability import STAFF_POLICY
from clinic.access import patients_viewed, staff_only
from clinic.http import AuthenticatedHttpRequest
from clinic.localtime import local_text
from clinic.models import Location, Provider, VisitKind
from patients.models import Patient, Screening
from patients.services import create_patient

PAGE = "booking/calendar.html"
GRID = "booking/_calendar_grid.html"
ACTION = "booking/_calendar_action.html"
GRID_VIEWS = {"calendar_day", "calendar_rooms", "calendar_week"}
SEARCH_LIMIT = 8


# --- pages ------------------------------------------------------------------------------------


@staff_only
@require_GET
def calendar_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Today at the first location; the date picker's form lands here too (?location=&date=)."""
    locations = list(Location.objects.filter(is_active=True))
    if not locations:
        raise Http404
    location = next((loc for loc in locations if str(loc.pk) == request.GET.get("location")), locations[0])
    try:
        day = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        day = timezone.localdate(timezone=location.tz)
    name = "booking:calendar_rooms" if request.GET.get("view") == "rooms" else "booking:calendar_day"
    return redirect(name, location.pk, day)


@staff_only
@require_GET
def calendar_day(request: AuthenticatedHttpRequest, location_id: int, day: date) -> HttpResponse:
    """One column per provider working at the location that day."""
    return _page(request, _day_context(request, location_id, day, rooms=False))


@staff_only
@require_GET
def calendar_rooms(request: AuthenticatedHttpRequest, location_id: int, day: date) -> HttpResponse:
    """One column per room of the location."""
    return _page(request, _day_context(request, location_id, day, rooms=True))


@staff_only
@require_GET
def calendar_week(request: AuthenticatedHttpRequest, provider_id: int, day: date) -> HttpResponse:
    """Monday to Sunday for one provider."""
    return _page(request, _week_context(request, provider_id, day))


def _page(request: AuthenticatedHttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    patients_viewed(request, context["grid"].patient_ids)
    if request.htmx and request.htmx.target == "calendar-grid":
        return render(request, GRID, context, status=status)
    return render(request, PAGE, context, status=status)


def _day_context(
    request: AuthenticatedHttpRequest, location_id: int, day: date, *, rooms: bool, path: str = ""
) -> dict[str, Any]:
    # The switcher's list, this location, and whether it is closed that day: one query.
    locations = list(Location.objects.filter(is_active=True).annotate(closed=grids.closure_today(day)))
    location = next((loc for loc in locations if loc.pk == location_id), None)
    if location is None:
        raise Http404
    closed = location.closed or ""

    def week_url(provider_id: int) -> str:
        return reverse("booking:calendar_week", args=[provider_id, day])

    if rooms:
        grid = grids.rooms_grid(location, day, closed=closed)
    else:
        grid = grids.day_grid(location, day, week_url=week_url, closed=closed)
    name = "booking:calendar_rooms" if rooms else "booking:calendar_day"
    return {
        **_common(path or request.path, day, location=location),
        "mode": "rooms" if rooms else "providers",
        "locations": locations,
        "grid": grid,
        "heading": location.name,
        "prev_url": reverse(name, args=[location.pk, day - timedelta(days=1)]),
        "next_url": reverse(name, args=[location.pk, day + timedelta(days=1)]),
        "today_url": reverse(name, args=[location.pk, timezone.localdate(timezone=location.tz)]),
        "providers_url": reverse("booking:calendar_day", args=[location.pk, day]),
        "rooms_url": reverse("booking:calendar_rooms", args=[location.pk, day]),
        "day_text": local_text(_noon(day, location), location.tz, "l j F Y"),
    }


def _week_context(request: AuthenticatedHttpRequest, provider_id: int, day: date, *, path: str = "") -> dict[str, Any]:
    try:
        provider, grid, home = grids.week_grid(provider_id, day)
    except Provider.DoesNotExist:
        raise Http404 from None
    monday = grids.week_start(day)
    name = "booking:calendar_week"
    return {
        **_common(path or request.path, day, location=home),
        "mode": "week",
        "provider": provider,
        "locations": [],
        "grid": grid,
        "heading": str(provider),
        "prev_url": reverse(name, args=[provider.pk, monday - timedelta(days=7)]),
        "next_url": reverse(name, args=[provider.pk, monday + timedelta(days=7)]),
        "today_url": reverse(name, args=[provider.pk, timezone.localdate(timezone=grid.tz)]),
        "day_url": reverse("booking:calendar_day", args=[home.pk, day]) if home else "",
        "day_text": _("Week of %(day)s") % {"day": dateformat.format(monday, "l j F Y")},
    }


def _common(path: str, day: date, *, location: Location | None) -> dict[str, Any]:
    return {
        "day": day,
        "location": location,
        "calendar_path": path,
        "book_url": reverse("booking:calendar_book", args=[location.pk]) if location else "",
        "status_legend": [(s.value, s.label, layout.STATUS_ICONS[s]) for s in layout.SHOWN],
        "kind_legend": [(k.value, k.label, layout.KIND_SHORT[k]) for k in VisitKind],
        "panel": "",
    }


def _noon(day: date, location: Location) -> datetime:
    return datetime.combine(day, datetime.min.time().replace(hour=12), tzinfo=location.tz)


def _grid_context_for(request: AuthenticatedHttpRequest, path: str) -> dict[str, Any] | None:
    """The context of the calendar the page shows (its path was posted), to send its grid back."""
    path = path.split("?", 1)[0]
    if not path.startswith("/") or not url_has_allowed_host_and_scheme(path, allowed_hosts=None):
        return None
    try:
        match = resolve(path)
    except (Resolver404, Http404):
        return None
    if match.namespace != "booking" or match.url_name not in GRID_VIEWS:
        return None
    kwargs = match.kwargs
    try:
        if match.url_name == "calendar_week":
            return _week_context(request, kwargs["provider_id"], kwargs["day"], path=path)
        rooms = match.url_name == "calendar_rooms"
        return _day_context(request, kwargs["location_id"], kwargs["day"], rooms=rooms, path=path)
    except Http404:
        return None  # a location closed down or a provider removed since the page was loaded


def _answer(
    request: AuthenticatedHttpRequest, panel: str, context: dict[str, Any], *, status: int = 200, success: str = ""
) -> HttpResponse:
    """htmx: the panel, and the calendar's grid out of band. Otherwise: the whole page (or back
    to the calendar after a success)."""
    calendar_path = request.POST.get("calendar") or request.GET.get("calendar") or ""
    if not request.htmx:
        if success and status < 300:
            messages.success(request, success)
            fallback = calendar_path if _grid_context_for(request, calendar_path) else reverse("booking:calendar_home")
            return redirect(fallback)
        page = _grid_context_for(request, calendar_path) or _fallback_context(request, context)
        return _page(request, {**context, **page, "panel": panel}, status=status)
    context = {**context, "panel": panel, "success": success, "calendar_path": calendar_path}
    if request.method == "POST":
        grid_context = _grid_context_for(request, calendar_path)
        if grid_context is not None:
            patients_viewed(request, grid_context["grid"].patient_ids)
            context["grid_html"] = render_to_string(GRID, grid_context, request)
    return render(request, ACTION, context, status=status)


def _fallback_context(request: AuthenticatedHttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Without a calendar path (a bookmarked panel URL): the day of the panel at its location."""
    location = context.get("location") or Location.objects.filter(is_active=True).first()
    if location is None:
        raise Http404
    day = context.get("day") or timezone.localdate(timezone=location.tz)
    path = reverse("booking:calendar_day", args=[location.pk, day])
    return _day_context(request, location.pk, day, rooms=False, path=path)


# --- booking into an empty time ---------------------------------------------------------------


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
        return _answer(request, "book", _book_context(request, form, location, start))
    form = BookForm(request.POST, location=location)
    start = parse_start(request.POST.get("start", "")) or timezone.now()
    if not form.is_valid():
        return _answer(request, "book", _book_context(request, form, location, start), status=422)
    patient = form.cleaned_data["patient"]
    if patient is None:
        try:
            patient = create_patient(by=request.user, **form.new_patient_values())
        except ValidationError as exc:
            _errors_onto(form, exc)
            return _answer(request, "book", _book_context(request, form, location, start), status=422)
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
        return _answer(request, "book", context, status=exc.status)
    when = local_text(appointment.start, location.tz)
    context = _appointment_context(request, _appointment_or_404(appointment.pk))
    message = _("Booked: %(patient)s, %(when)s.") % {"patient": patient.full_name, "when": when}
    return _answer(request, "appointment", context, success=message)


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
    return _answer(request, "appointment", _appointment_context(request, appointment))


@staff_only
@require_POST
def calendar_move(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """Move to another time and/or provider; a taken time answers 409 with alternatives."""
    appointment = _appointment_or_404(appointment_id)
    form = MoveForm(request.POST, location=appointment.location)
    if not form.is_valid():
        return _answer(request, "appointment", _appointment_context(request, appointment, move_form=form), status=422)
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
        return _answer(request, "appointment", _appointment_context(request, appointment, **extra), status=exc.status)
    moved = _appointment_or_404(appointment.pk)
    when = local_text(moved.start, moved.location.tz)
    message = _("Moved to %(when)s with %(provider)s.") % {"when": when, "provider": moved.provider}
    return _answer(request, "appointment", _appointment_context(request, moved), success=message)


@staff_only
@require_POST
def calendar_cancel(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        context = _appointment_context(request, appointment, cancel_form=form, open_cancel=True)
        return _answer(request, "appointment", context, status=422)
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
        return _answer(request, "appointment", context, status=exc.status)
    return _answer(
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
