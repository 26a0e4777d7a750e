"""The desk calendar's pages: a day per location (providers or rooms), a week per provider.

The actions on it (book into an empty time, move, cancel, check in, mark no-show) are in
booking/desk/calendar_actions.py and answer through `answer` here.

Staff only (front desk, providers, clinic admins); anyone else gets a 404. Every write goes
through booking.services. With htmx an action answers the side panel plus the calendar grid
(an out-of-band swap), so the page never reloads; without JavaScript the same URLs answer whole
pages. The grid to send back is the one the page shows: its path comes in the `calendar` field.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve, reverse
from django.utils import dateformat, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from booking.desk import grid as grids
from booking.desk import layout
from clinic.access import patients_viewed, staff_only
from clinic.http import AuthenticatedHttpRequest
from clinic.localtime import local_text
from clinic.models import Location, Provider, VisitKind

PAGE = "booking/calendar.html"
GRID = "booking/_calendar_grid.html"
ACTION = "booking/_calendar_action.html"
GRID_VIEWS = {"calendar_day", "calendar_rooms", "calendar_week"}


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


def answer(
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
