"""The patient's booking wizard: location → visit → provider → day → time → hold → (screening) → confirm.

The choices so far travel in the query string (GET steps), so every step is a plain link or form
and the back button works; htmx only swaps the list of times when a day is picked. The chosen
time is HELD through the booking service (hold=True) and confirmed with confirm_hold, so a
double submit can never make two bookings. Tampered choices answer 400, rules 422, a time taken
meanwhile 409 with free alternatives.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from booking import services
from booking.errors import BookingError, SlotTaken
from booking.models import Appointment, Status
from booking.pages.plans import error_text
from booking.scheduling.availability import Reason, Slot
from booking.scheduling.eligibility import Eligibility, eligibility
from booking.scheduling.loading import find_slots
from clinic.http import AuthenticatedHttpRequest, ClinicHttpRequest
from clinic.models import Location, Provider, VisitType
from patients.models import Patient

ANY = "any"
TIME_FORMATS = {"en": "g:i A T", "es": "G:i T"}
DAY_FORMATS = {"en": "l, F j, Y", "es": r"l j \d\e F \d\e Y"}
SHORT_DAY_FORMATS = {"en": "D, M j", "es": "D j M"}

# What a refusal means, in the patient's language (the service's own texts are English).
REFUSALS = {
    Reason.IN_PAST: gettext_lazy("That time is in the past. Please pick a time from the calendar."),
    Reason.MIN_NOTICE: gettext_lazy("That time is too soon to book online. Please pick a later time."),
    Reason.BEYOND_HORIZON: gettext_lazy("That date is too far ahead to book yet."),
    Reason.CLOSED: gettext_lazy("The clinic is closed that day."),
    Reason.OUTSIDE_HOURS: gettext_lazy("The provider does not see patients for this visit at that time."),
    Reason.TIME_OFF: gettext_lazy("The provider is away at that time."),
    Reason.OFF_GRID: gettext_lazy("Please pick one of the times shown in the calendar."),
    Reason.SLOT_TAKEN: gettext_lazy("Sorry, someone else has just taken that time."),
    Reason.NO_ROOM: gettext_lazy("Sorry, someone else has just taken that time."),
    Reason.PATIENT_BUSY: gettext_lazy("You already have a visit at that time."),
    "not_offered": gettext_lazy("That provider does not offer this visit here. Please choose again."),
    "not_bookable_online": gettext_lazy("This visit cannot be booked online; please call the clinic."),
    "hold_expired": gettext_lazy("We kept the time for you for a few minutes only, and they have passed."),
    "invalid_start": gettext_lazy("That time is not valid. Please pick a time from the calendar."),
    "busy": gettext_lazy("The calendar is busy right now; please try again in a moment."),
    "invalid_status": gettext_lazy("This appointment can no longer be changed here."),
}


def refusal_text(exc: BookingError) -> str:
    """What the patient reads: the wizard's own wording for each reason, else the service's text."""
    return str(REFUSALS[exc.code]) if exc.code in REFUSALS else error_text(exc)


class Tampered(Exception):
    """A choice that the pages never offer: an unknown id, a provider who does not offer the visit."""


@dataclass
class Choices:
    """What the patient picked so far; each later step needs the earlier ones."""

    location: Location | None = None
    visit_type: VisitType | None = None
    provider: Provider | None = None
    any_provider: bool = False

    def query(self, **extra: Any) -> str:
        values: dict[str, Any] = {}
        if self.location:
            values["location"] = self.location.pk
        if self.visit_type:
            values["visit"] = self.visit_type.pk
        if self.provider or self.any_provider:
            values["provider"] = self.provider.pk if self.provider else ANY
        values.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(values)


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise Tampered from None


def read_choices(params: Any, *, upto: str) -> Choices:
    """The choices in a query string or form, each checked against what the pages offer."""
    choices = Choices()
    choices.location = Location.objects.filter(pk=_int(params.get("location")), is_active=True).first()
    if choices.location is None:
        raise Tampered
    if upto == "location":
        return choices
    choices.visit_type = (
        VisitType.objects.filter(
            pk=_int(params.get("visit")),
            is_active=True,
            bookable_online=True,
            providers__locations=choices.location,
            providers__is_active=True,
        )
        .distinct()
        .first()
    )
    if choices.visit_type is None:
        raise Tampered
    if upto == "visit":
        return choices
    provider = params.get("provider")
    if provider == ANY:
        choices.any_provider = True
    else:
        choices.provider = offering_providers(choices).filter(pk=_int(provider)).first()
        if choices.provider is None:
            raise Tampered
    return choices


def offering_providers(choices: Choices) -> Any:
    return Provider.objects.filter(is_active=True, locations=choices.location, visit_types=choices.visit_type).order_by(
        "display_name"
    )


def tampered_page(request: HttpRequest) -> HttpResponse:
    context = {
        "message": _("That choice is not available. Please start again."),
        "retry_url": reverse("booking:book_start"),
    }
    return render(request, "booking/book_problem.html", context, status=400)


def patient_or_404(request: HttpRequest) -> Patient:
    """The logged-in patient (staff answer 404). Read through the user's `patient` relation, so
    the page header's own `user.patient` costs no second query."""
    try:
        return request.user.patient  # type: ignore[union-attr]
    except Patient.DoesNotExist:
        raise Http404 from None


# --- the steps --------------------------------------------------------------------------------


def step_page(
    request: HttpRequest, template: str, step: int, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, template, {"step": step, "steps": 5, **context}, status=status)


@login_required
def book_start(request: HttpRequest) -> HttpResponse:
    """Step 1: where."""
    patient_or_404(request)
    locations = list(Location.objects.filter(is_active=True).order_by("name"))
    return step_page(request, "booking/book_location.html", 1, {"locations": locations})


@login_required
def book_visit(request: HttpRequest) -> HttpResponse:
    """Step 2: which visit; procedure visits show why they are closed when they are."""
    patient = patient_or_404(request)
    try:
        choices = read_choices(request.GET, upto="location")
    except Tampered:
        return tampered_page(request)
    visit_types = (
        VisitType.objects.filter(
            is_active=True, bookable_online=True, providers__locations=choices.location, providers__is_active=True
        )
        .distinct()
        .order_by("kind", "name")
    )
    by_kind: dict[str, Eligibility] = {}  # the rules depend on the kind only: ask once per kind
    options = [
        (
            visit_type,
            by_kind.get(visit_type.kind) or by_kind.setdefault(visit_type.kind, eligibility(patient, visit_type)),
        )
        for visit_type in visit_types
    ]
    return step_page(request, "booking/book_visit.html", 2, {"choices": choices, "options": options})


def _allowed_choices(request: HttpRequest, *, upto: str) -> Choices | HttpResponse:
    """The wizard's choices up to `upto`, when untampered and the patient may book that visit
    online; otherwise the page that says why (tampered: 400, not allowed: 422)."""
    patient = patient_or_404(request)
    try:
        choices = read_choices(request.GET, upto=upto)
    except Tampered:
        return tampered_page(request)
    if choices.visit_type is None:  # read_choices sets it for every step past the visit's
        return tampered_page(request)
    allowed = eligibility(patient, choices.visit_type)
    if not allowed.allowed:
        return refused_page(request, allowed.why, reverse("booking:book_visit") + "?" + choices.query())
    return choices


@login_required
def book_provider(request: HttpRequest) -> HttpResponse:
    """Step 3: a provider, or whoever is free first."""
    choices = _allowed_choices(request, upto="visit")
    if isinstance(choices, HttpResponse):
        return choices
    providers = list(offering_providers(choices))
    return step_page(request, "booking/book_provider.html", 3, {"choices": choices, "providers": providers})


def _month_of(value: str | None, today: date) -> date:
    try:
        first = datetime.strptime(value or "", "%Y-%m").date()  # noqa: DTZ007 - a calendar month, no instant
    except ValueError:
        return today.replace(day=1)
    return max(first, today.replace(day=1))


def _day_of(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def local_time_text(instant: datetime, tz: Any) -> str:
    language = translation.get_language() or "en"
    return dateformat.format(instant.astimezone(tz), TIME_FORMATS.get(language[:2], TIME_FORMATS["en"]))


def local_day_text(day: date, formats: dict[str, str] = DAY_FORMATS) -> str:
    language = translation.get_language() or "en"
    return dateformat.format(day, formats.get(language[:2], formats["en"]))


@dataclass(frozen=True)
class TimeOption:
    start: str  # ISO 8601 with the location's offset
    label: str
    provider_id: int
    provider_name: str


def time_options(slots: list[Slot], tz: Any, names: dict[int, str]) -> list[TimeOption]:
    """One option per start time: with "any provider" the first provider free then."""
    seen: set[int] = set()
    options = []
    for slot in slots:
        if slot.start_ts in seen:
            continue
        seen.add(slot.start_ts)
        local = slot.start.astimezone(tz)
        options.append(
            TimeOption(local.isoformat(), local_time_text(local, tz), slot.provider_id, names.get(slot.provider_id, ""))
        )
    return options


@login_required
def book_calendar(request: ClinicHttpRequest) -> HttpResponse:
    """Step 4: a month with the days that have room; a picked day lists its times (htmx swaps them)."""
    choices = _allowed_choices(request, upto="provider")
    if isinstance(choices, HttpResponse):
        return choices
    context = calendar_context(choices, request.GET.get("month"), _day_of(request.GET.get("day")))
    if request.htmx and request.GET.get("day"):
        return render(request, "booking/_book_times.html", context)
    return step_page(request, "booking/book_calendar.html", 4, context)


def calendar_context(choices: Choices, month_text: str | None, day: date | None) -> dict[str, Any]:
    """The month's grid and the chosen day's times, from ONE availability query."""
    location, visit_type = choices.location, choices.visit_type
    assert location is not None and visit_type is not None
    tz = location.tz
    today = timezone.localtime(timezone.now(), tz).date()
    month = _month_of(month_text if day is None else day.strftime("%Y-%m"), today)
    last_bookable = today + timedelta(days=visit_type.horizon_days)
    month_end = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    first, last = max(month, today), min(month_end, last_bookable)
    slots: list[Slot] = []
    if first <= last:
        provider_ids = [choices.provider.pk] if choices.provider else None
        slots = find_slots(
            visit_type=visit_type, location=location, first_day=first, last_day=last, provider_ids=provider_ids
        )
    by_day: dict[date, list[Slot]] = {}
    for slot in slots:
        by_day.setdefault(slot.start.astimezone(tz).date(), []).append(slot)
    names = dict(offering_providers(choices).values_list("pk", "display_name"))
    weeks = [
        [
            {
                "date": d,
                "in_month": d.month == month.month,
                "free": d in by_day,
                "chosen": d == day,
                "query": choices.query(day=d.isoformat()),
            }
            for d in week
        ]
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    ]
    previous = (month - timedelta(days=1)).replace(day=1)
    following = month_end + timedelta(days=1)
    return {
        "choices": choices,
        "month": month,
        "weeks": weeks,
        "weekday_names": [dateformat.format(date(2026, 11, 30) + timedelta(days=i), "D") for i in range(7)],
        "previous_query": choices.query(month=previous.strftime("%Y-%m")) if previous >= today.replace(day=1) else "",
        "next_query": choices.query(month=following.strftime("%Y-%m")) if following <= last_bookable else "",
        "day": day if day in by_day else None,
        "day_asked": day,
        "day_text": local_day_text(day) if day else "",
        "times": time_options(by_day.get(day, []), tz, names) if day else [],
        "free_days": len(by_day),
        "zone": dateformat.format(timezone.localtime(timezone.now(), tz), "T"),
    }


def refused_page(
    request: HttpRequest, message: str, retry_url: str, *, status: int = 422, **extra: Any
) -> HttpResponse:
    return render(
        request, "booking/book_problem.html", {"message": message, "retry_url": retry_url, **extra}, status=status
    )


def _parse_start(value: str | None) -> datetime:
    """An ISO 8601 time with its offset, as the times' buttons send it; anything else is tampered."""
    try:
        start = datetime.fromisoformat(value or "")
        if timezone.is_naive(start):
            raise Tampered
        start.astimezone(UTC) - timedelta(days=2)  # years 1 and 9999 cannot be shifted: not a real time
    except (ValueError, OverflowError):
        raise Tampered from None
    return start


@login_required
@require_POST
def book_hold(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Step 5: hold the chosen time for a few minutes while the patient finishes."""
    patient = patient_or_404(request)
    try:
        choices = read_choices(request.POST, upto="provider")
        start_text, _bar, provider_text = request.POST.get("slot", "").partition("|")
        start = _parse_start(start_text)
        provider = offering_providers(choices).filter(pk=_int(provider_text)).first()
    except Tampered:
        return tampered_page(request)
    location, visit_type = choices.location, choices.visit_type
    if (
        provider is None
        or location is None
        or visit_type is None
        or (choices.provider and provider != choices.provider)
    ):
        return tampered_page(request)
    allowed = eligibility(patient, visit_type)
    calendar_url = (
        reverse("booking:book_calendar")
        + "?"
        + choices.query(day=timezone.localtime(start, location.tz).date().isoformat())
    )
    if not allowed.allowed:
        return refused_page(request, allowed.why, reverse("booking:book_visit") + "?" + choices.query())
    try:
        held = services.book_appointment(
            patient=patient,
            provider=provider,
            visit_type=visit_type,
            location=location,
            start=start,
            by=request.user,
            hold=True,
        )
    except SlotTaken as exc:
        again = _same_hold(patient, choices, start)
        if again is not None:  # a double submit of this very time
            return redirect("booking:book_review", again.pk)
        return refused_page(
            request,
            refusal_text(exc),
            calendar_url,
            status=409,
            choices=choices,
            alternatives=_alternatives(exc, choices, location.tz),
        )
    except BookingError as exc:
        again = _same_hold(patient, choices, start) if exc.code == Reason.PATIENT_BUSY else None
        if again is not None:
            return redirect("booking:book_review", again.pk)
        return refused_page(request, refusal_text(exc), calendar_url, status=exc.status)
    return redirect("booking:book_review", held.pk)


def _same_hold(patient: Patient, choices: Choices, start: datetime) -> Appointment | None:
    return (
        Appointment.objects.filter(
            patient=patient, visit_type=choices.visit_type, location=choices.location, start=start
        )
        .filter(status__in=[Status.HELD, Status.BOOKED])
        .first()
    )


def _alternatives(exc: SlotTaken, choices: Choices, tz: ZoneInfo) -> list[dict[str, Any]]:
    names = dict(offering_providers(choices).values_list("pk", "display_name"))
    rows = []
    for alternative in exc.alternatives:
        start = datetime.fromisoformat(alternative["start"])
        rows.append(
            {
                "start": alternative["start"],
                "provider_id": alternative["provider"],
                "label": f"{local_day_text(start.date(), SHORT_DAY_FORMATS)}, {local_time_text(start, tz)}",
                "provider_name": names.get(alternative["provider"], ""),
            }
        )
    return rows
