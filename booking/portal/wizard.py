"""The booking wizard's shared pieces: the patient's choices so far (read from the query string,
checked against what the pages offer), the step pages, the refusal texts and the local times.

booking/portal/book.py has the steps up to the hold, book_held.py the held time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import dateformat, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.errors import BookingError
from booking.pages.plans import error_text
from booking.scheduling.availability import Reason, Slot
from clinic.localtime import local_text
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


def int_choice(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise Tampered from None


def read_choices(params: Any, *, upto: str) -> Choices:
    """The choices in a query string or form, each checked against what the pages offer."""
    choices = Choices()
    choices.location = Location.objects.filter(pk=int_choice(params.get("location")), is_active=True).first()
    if choices.location is None:
        raise Tampered
    if upto == "location":
        return choices
    choices.visit_type = (
        VisitType.objects.filter(
            pk=int_choice(params.get("visit")),
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
        choices.provider = offering_providers(choices).filter(pk=int_choice(provider)).first()
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


def local_time_text(instant: datetime, tz: Any) -> str:
    language = translation.get_language() or "en"
    return local_text(instant, tz, TIME_FORMATS.get(language[:2], TIME_FORMATS["en"]))


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


def refused_page(
    request: HttpRequest, message: str, retry_url: str, *, status: int = 422, **extra: Any
) -> HttpResponse:
    return render(
        request, "booking/book_problem.html", {"message": message, "retry_url": retry_url, **extra}, status=status
    )
