"""Showing a series plan, answering htmx or whole-page requests, and booking a prescription.

A preview posts back each session's start (`pin_<k>`) and the alternatives picked (`choice_<k>`),
so a booking is exactly what the preview showed, or a 409 with the plan again: never a silently
different time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_htmx.http import HttpResponseClientRedirect

from booking import services
from booking.errors import BookingError, SeriesClash, SeriesNeedsChoice
from booking.forms import FirstDateForm, choice_value, posted_choices
from booking.models import Appointment, Series, Status
from booking.scheduling.availability import Policy
from booking.scheduling.series import AlternativeKind, Problem, SessionChoice, SessionStatus, TimeNote, plan_as_dict
from booking.services.series import book_prescribed_series, is_prescription, plan_prescribed_series
from clinic.http import AuthenticatedHttpRequest, ClinicHttpRequest
from clinic.localtime import local_text
from clinic.models import Provider, VisitKind

SERIES_NEW = "booking/series_new.html"
DESK_SERIES = "booking/desk_series.html"
MY_SERIES = "booking/my_series.html"
FORM_PARTIAL = "booking/_series_form.html"
PREVIEW_PARTIAL = "booking/_series_preview.html"
MOVABLE = (Status.HELD, Status.BOOKED)


# --- showing a plan ---------------------------------------------------------------------------

ALTERNATIVE_KINDS = {
    AlternativeKind.WITHIN_TOLERANCE: gettext_lazy("inside the tolerance"),
    AlternativeKind.OTHER_PROVIDER: gettext_lazy("another provider"),
    AlternativeKind.OUTSIDE_TOLERANCE: gettext_lazy("outside the tolerance"),
}
TIME_NOTES = {
    TimeNote.NONEXISTENT: gettext_lazy("The preferred time does not exist that day (the clocks go forward)."),
    TimeNote.AMBIGUOUS: gettext_lazy("The preferred time happens twice that day (the clocks go back); the first."),
}
PROBLEMS = {
    **services.REASON_TEXT,
    Problem.OUT_OF_ORDER: gettext_lazy("The chosen time must come after the previous session."),
    Problem.OUTSIDE_WINDOW: gettext_lazy("The chosen date is too far from this session's target date."),
}


@dataclass
class AlternativeRow:
    value: str  # posted back as choice_<k>
    when: str
    iso: str
    provider: str
    kind: str


@dataclass
class SessionRow:
    number: int
    label: str  # "Session k of n"
    status: str  # css modifier of the badge
    badge: str
    when: str
    iso: str
    provider: str
    target: str
    notes: list[str]
    pin: str  # posted back as pin_<k>: the start the preview showed
    picked: str  # the alternative picked for this session, kept when the plan is shown again
    alternatives: list[AlternativeRow]


def session_label(number: int | None, total: int) -> str:
    return _("Session %(k)s of %(n)s") % {"k": number, "n": total} if number else ""


def _days(offset: int) -> str:
    if offset == 0:
        return _("same day")
    days = ngettext("%(n)s day", "%(n)s days", abs(offset)) % {"n": abs(offset)}
    return f"+{days}" if offset > 0 else f"−{days}"


def _badge(session: Mapping[str, Any], tolerance: int) -> tuple[str, str]:
    status, offset = session["status"], session["day_offset"]
    if session["clash"]:
        return "clash", _("Taken just now: choose again")
    if status == SessionStatus.FITS:
        return "fits", _("Fits")
    if status == SessionStatus.MOVED:
        return "moved", _("Moved %(offset)s, inside ±%(tolerance)s") % {"offset": _days(offset), "tolerance": tolerance}
    if status == SessionStatus.CHOSEN:
        return "chosen", _("Chosen, %(offset)s") % {"offset": _days(offset)}
    return "needs-choice", _("Needs a choice")


@dataclass(frozen=True)
class PlanView:
    """How to show a plan: the series it belongs to and what the viewer may choose."""

    tz: ZoneInfo
    total: int
    tolerance: int
    provider_id: int
    same_provider_only: bool = False  # patients keep the provider who prescribed the series
    picks: Mapping[int, SessionChoice] | None = None


def plan_rows(plan: Mapping[str, Any], view: PlanView) -> list[SessionRow]:
    """Each planned session as the page shows it; provider names in one query."""
    sessions = plan["sessions"]
    ids = {s["provider"] for s in sessions} | {a["provider"] for s in sessions for a in s["alternatives"]}
    names = {p.pk: str(p) for p in Provider.objects.filter(pk__in=ids)}
    picks = view.picks or {}
    rows = []
    for session in sessions:
        start = datetime.fromisoformat(session["start"]) if session["start"] else None
        status, badge = _badge(session, view.tolerance)
        notes = [str(TIME_NOTES[session["time_note"]])] if session["time_note"] else []
        if session["problem"] and not session["clash"]:
            notes.append(str(PROBLEMS.get(session["problem"], session["problem"])))
        if start is None and not session["problem"]:  # the planner found nothing, rather than a choice failing
            notes.append(_("Nothing free within ±%(n)s days of the target date.") % {"n": view.tolerance})
        pick = picks.get(session["session_number"])
        alternatives = [
            AlternativeRow(
                value=choice_value(datetime.fromisoformat(a["start"]).astimezone(view.tz), a["provider"]),
                when=local_text(datetime.fromisoformat(a["start"]), view.tz),
                iso=a["start"],
                provider=names.get(a["provider"], ""),
                kind=f"{ALTERNATIVE_KINDS.get(a['kind'], a['kind'])}, {_days(a['day_offset'])}",
            )
            for a in session["alternatives"]
            if not view.same_provider_only or a["provider"] == view.provider_id
        ]
        rows.append(
            SessionRow(
                number=session["session_number"],
                label=session_label(session["session_number"], view.total),
                status=status,
                badge=badge,
                when=local_text(start, view.tz) if start else "",
                iso=session["start"] or "",
                provider=names.get(session["provider"], ""),
                target=dateformat.format(datetime.fromisoformat(session["target_date"]), "D j M Y"),
                notes=notes,
                pin=choice_value(start.astimezone(view.tz), session["provider"]) if start else "",
                picked=choice_value(pick.start.astimezone(view.tz), pick.provider_id or view.provider_id)
                if pick
                else "",
                alternatives=alternatives,
            )
        )
    return rows


def preview_context(plan: Mapping[str, Any], view: PlanView, **shown: Any) -> dict[str, Any]:
    """What _series_preview.html shows: the rows, a one-line summary, a message, the book button."""
    rows = plan_rows(plan, view)
    waiting = [str(row.number) for row in rows if row.status in ("needs-choice", "clash")]
    summary = ngettext("%(n)s session planned.", "%(n)s sessions planned.", len(rows)) % {"n": len(rows)}
    if waiting:
        summary += " " + _("Choose a time for session %(list)s before booking.") % {"list": ", ".join(waiting)}
    return {
        "rows": rows,
        "summary": summary,
        "timezone": view.tz.key,
        "message": "",
        "level": "info",
        "htmx": True,
    } | shown


# --- answering --------------------------------------------------------------------------------


def respond(
    request: ClinicHttpRequest, page: str, context: dict[str, Any], *, status: int = 200, partial: str | None = None
) -> HttpResponse:
    """The whole page; for htmx only the part that changed (the form itself when it has errors)."""
    if not (request.htmx and partial):
        return render(request, page, context, status=status)
    response = render(request, partial, context, status=status)
    if partial == FORM_PARTIAL:
        response["HX-Retarget"] = "#series-form"
        response["HX-Reswap"] = "outerHTML"
    return response


def go_to(request: ClinicHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def error_text(exc: BookingError) -> str:
    """A refusal in the reader's language: the service's English texts are in the catalogue
    (gettext_noop where they are written); texts with numbers in them are made again here."""
    if isinstance(exc, SeriesClash):
        if exc.session_number:
            return _("Session %(n)s's time has just been taken; nothing was booked. Here is the plan again.") % {
                "n": exc.session_number
            }
        return _("A session's time has just been taken; nothing was booked. Here is the plan again.")
    return _(exc.detail) if exc.detail else ""  # noqa: INT001 - texts marked where they are written


def refused(request: ClinicHttpRequest, page: str, context: dict[str, Any], exc: BookingError) -> HttpResponse:
    """A rule refused it: its message on the form, with its status (422, 409 or 503)."""
    context["form"].add_error(None, error_text(exc))
    context["preview"] = None
    return respond(request, page, context, status=exc.status, partial=FORM_PARTIAL)


def booked_message(request: HttpRequest, series: Series) -> None:
    count = series.appointments.filter(status=Status.BOOKED).count()
    messages.success(request, ngettext("%(n)s session booked.", "%(n)s sessions booked.", count) % {"n": count})


def alert_level(exc: BookingError) -> str:
    return "danger" if exc.status == 409 else "warning"


# --- a series and its sessions ----------------------------------------------------------------


def series_or_404(series_id: int, **filters: Any) -> Series:
    qs = Series.objects.select_related("patient", "provider", "visit_type", "location", "created_by")
    return get_object_or_404(qs, pk=series_id, **filters)


@dataclass
class AppointmentRow:
    pk: int
    label: str  # "Session k of n" for a session of a series
    when: str
    iso: str
    provider: str
    visit_type: str
    status: str
    status_code: str
    is_evaluation: bool
    series_id: int | None


def appointment_row(appointment: Appointment, series: Series | None) -> AppointmentRow:
    tz = appointment.location.tz
    return AppointmentRow(
        pk=appointment.pk,
        label=session_label(appointment.session_number, series.sessions_planned) if series else "",
        when=local_text(appointment.start, tz),
        iso=appointment.start.astimezone(tz).isoformat(),
        provider=str(appointment.provider),
        visit_type=str(appointment.visit_type),
        status=appointment.get_status_display(),
        status_code=appointment.status,
        is_evaluation=appointment.visit_type.kind == VisitKind.EVALUATION and appointment.status == Status.BOOKED,
        series_id=appointment.series_id,
    )


def sessions_of(series: Series) -> list[Appointment]:
    appointments = list(series.appointments.select_related("provider", "visit_type").order_by("session_number"))
    for appointment in appointments:
        appointment.series, appointment.location = series, series.location  # no query per row
    return appointments


def movable_sessions(series: Series, appointments: list[Appointment]) -> list[tuple[int, str]]:
    """(number, label) of the sessions still to come that can be moved."""
    now, total, tz = timezone.now(), series.sessions_planned, series.location.tz
    return [
        (a.session_number, f"{session_label(a.session_number, total)}: {local_text(a.start, tz)}")
        for a in appointments
        if a.status in MOVABLE and a.session_number and a.start > now
    ]


def first_date_form(series: Series, data: Any = None) -> FirstDateForm:
    today = timezone.localdate(timezone=series.location.tz)
    return FirstDateForm(data, today=today, initial={"first_date": today + timedelta(days=7)})


# --- booking a prescription (the patient's page, and the desk for a patient who phones) -------


@dataclass(frozen=True)
class Page:
    """A page that holds the series form: its template and how to build its context."""

    template: str
    context: Callable[..., dict[str, Any]]


def book_prescription(
    request: AuthenticatedHttpRequest,
    series: Series,
    page: Page,
    *,
    policy: Policy,
    same_provider_only: bool,
    done_url: str,
) -> HttpResponse:
    """Choose a first date, preview with the stored parameters, then book every session or none."""
    form = first_date_form(series, request.POST)

    def answer(status: int, partial: str, **extra: Any) -> HttpResponse:
        return respond(request, page.template, page.context(form=form, **extra), status=status, partial=partial)

    if not is_prescription(series):
        closed = _("This series is already booked or closed.")
        form.add_error(None, closed)
        return answer(409, FORM_PARTIAL, error=closed)
    if not form.is_valid():
        return answer(422, FORM_PARTIAL)
    same_as_preview = request.POST.get("previewed") == form.signature()
    numbers = range(1, series.sessions_planned + 1)
    picked = posted_choices(request.POST, "choice_", numbers) if same_as_preview else {}
    picks = keep_provider(picked, same_provider_only)
    tz, first_date = series.location.tz, form.cleaned_data["first_date"]
    view = PlanView(tz, numbers[-1], series.tolerance_days, series.provider_id, same_provider_only, picks)
    shown = {"signature": form.signature(), "book_label": _("Book these sessions")}
    try:
        if request.POST.get("action") == "book" and same_as_preview:
            pins = keep_provider(posted_choices(request.POST, "pin_", numbers), same_provider_only)
            choices = {**pins, **picks}
            book_prescribed_series(
                series=series, first_date=first_date, choices=choices, by=request.user, policy=policy
            )
            booked_message(request, series)
            return go_to(request, done_url)
        plan = plan_prescribed_series(series=series, first_date=first_date, choices=picks, policy=policy)
    except (SeriesClash, SeriesNeedsChoice) as exc:
        preview = preview_context(exc.plan, view, message=error_text(exc), level=alert_level(exc), **shown)
        return answer(exc.status, PREVIEW_PARTIAL, preview=preview)
    except BookingError as exc:
        form.add_error(None, error_text(exc))
        return answer(exc.status, FORM_PARTIAL)
    return answer(200, PREVIEW_PARTIAL, preview=preview_context(plan_as_dict(plan, tz), view, **shown))


def keep_provider(choices: dict[int, SessionChoice], same_provider_only: bool) -> dict[int, SessionChoice]:
    """A patient cannot switch provider: their picks keep the series' provider."""
    if not same_provider_only:
        return choices
    return {number: SessionChoice(choice.start) for number, choice in choices.items()}
