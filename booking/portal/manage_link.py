"""Managing one appointment from the single-use link in a message, without logging in.

GET only shows the appointment and what can be done; the change is a POST. After it the browser
goes to /manage/done, whose address carries no token. A link that is unknown (404), used or
expired (410) gets a kind page. Pages speak the patient's language and tell the browser not to
keep them or send their address anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from booking import services
from booking.errors import BookingError, LinkUnusable, SlotTaken
from booking.forms import MoveForm, PatientCancelForm
from booking.models import Appointment, ManageLink
from booking.portal.changes import alternatives_of, patient_message, picker
from clinic.localtime import local_text

DONE_KEY = "manage_done"


def _private(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """No caching, and Referer headers carry the origin only, never the token in the path (no-referrer
    would make browsers send `Origin: null` with the form, which the CSRF check refuses)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "strict-origin"
        return response

    return never_cache(wrapped)


def _unusable(request: HttpRequest, exc: LinkUnusable) -> HttpResponse:
    with translation.override(exc.language or translation.get_language()):
        return render(request, "booking/manage_unusable.html", {"why": exc.why}, status=exc.status)


def _context(appointment: Appointment, **extra: Any) -> dict[str, Any]:
    return {
        "appointment": appointment,
        "when": local_text(appointment.start, appointment.location.tz),
        "can_change": services.patient_can_change(appointment),
        "error": "",
        "by_link": True,
        **extra,
    }


def _done(request: HttpRequest, appointment: Appointment, action: str) -> HttpResponse:
    """Remember what was done for the done page (in the session, not the address) and go there."""
    request.session[DONE_KEY] = {
        "action": action,
        "when": local_text(appointment.start, appointment.location.tz),
        "clinic": appointment.location.name,
        "phone": appointment.location.phone,
        "language": appointment.patient.preferred_language or "en",
    }
    return redirect("booking:manage_done")


def _link_or_page(token: str) -> ManageLink | LinkUnusable:
    try:
        return services.find_manage_link(token)
    except LinkUnusable as exc:
        return exc


@_private
@csrf_protect
@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the appointment and a cancel form; POST: cancel it, then go to the done page."""
    link = _link_or_page(token)
    if isinstance(link, LinkUnusable):
        return _unusable(request, link)
    appointment = link.appointment
    with translation.override(appointment.patient.preferred_language or "en"):
        form = PatientCancelForm(request.POST or None)
        context = _context(appointment, form=form, action_url=request.path, token=token)
        if request.method != "POST":
            return render(request, "booking/manage_link.html", context)
        if not form.is_valid():
            return render(request, "booking/manage_link.html", context, status=422)
        try:
            services.cancel_by_link(token=token, reason=form.reason_text() + " (from a link)")
        except LinkUnusable as exc:
            return _unusable(request, exc)
        except BookingError as exc:
            context.update(error=patient_message(exc), can_change=False)
            return render(request, "booking/manage_link.html", context, status=exc.status)
        return _done(request, appointment, "cancelled")


@_private
@csrf_protect
@require_http_methods(["GET", "POST"])
def manage_move(request: HttpRequest, token: str) -> HttpResponse:
    """GET: free times with the same provider; POST: move there, then go to the done page."""
    link = _link_or_page(token)
    if isinstance(link, LinkUnusable):
        return _unusable(request, link)
    appointment = link.appointment
    provider_ids = {appointment.provider_id}
    with translation.override(appointment.patient.preferred_language or "en"):
        context = _context(appointment, action_url=request.get_full_path())
        if request.method != "POST":
            context["picker"] = picker(appointment, request.GET, allow_any=False)
            return render(request, "booking/appointment_move.html", context)
        form = MoveForm(request.POST, provider_ids=provider_ids)
        status = 400
        if form.is_valid():
            _provider_id, start = form.cleaned_data["slot"]
            try:
                moved = services.move_by_link(token=token, start=start)
            except LinkUnusable as exc:
                return _unusable(request, exc)
            except BookingError as exc:
                status = exc.status
                context["error"] = patient_message(exc)
                if isinstance(exc, SlotTaken):
                    context["alternatives"] = alternatives_of(exc, appointment, provider_ids)
            else:
                return _done(request, moved, "moved")
        else:
            context["error"] = " ".join(str(e) for errors in form.errors.values() for e in errors)
        appointment.refresh_from_db()
        context.update(
            can_change=services.patient_can_change(appointment),
            picker=picker(appointment, request.GET, allow_any=False),
        )
        return render(request, "booking/appointment_move.html", context, status=status)


@_private
def manage_done(request: HttpRequest) -> HttpResponse:
    """What the link just did; its address carries no token."""
    done = request.session.get(DONE_KEY)
    language = done["language"] if done else translation.get_language()
    with translation.override(language):
        return render(request, "booking/manage_done.html", {"done": done, "title": _("Your appointment")})
