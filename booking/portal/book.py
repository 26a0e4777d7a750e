"""The patient's booking wizard: location → visit → provider → day → time → hold → (screening) → confirm.

The choices so far travel in the query string (GET steps), so every step is a plain link or form
and the back button works; htmx only swaps the list of times when a day is picked. The chosen
time is HELD through the booking service (hold=True) and confirmed with confirm_hold, so a
double submit can never make two bookings. Tampered choices answer 400, rules 422, a time taken
meanwhile 409 with free alternatives.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_POST

from booking import services
from booking.errors import BookingError, SlotTaken
from booking.models import Appointment, Status
from booking.portal.wizard import (
    SHORT_DAY_FORMATS,
    Choices,
    Tampered,
    int_choice,
    local_day_text,
    local_time_text,
    offering_providers,
    patient_or_404,
    read_choices,
    refusal_text,
    refused_page,
    step_page,
    tampered_page,
    time_options,
)
from booking.scheduling.availability import Reason, Slot
from booking.scheduling.eligibility import Eligibility, eligibility
from booking.scheduling.loading import find_slots
from clinic.http import AuthenticatedHttpRequest, ClinicHttpRequest
from clinic.models import Location, VisitType
from patients.models import Patient


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
        provider = offering_providers(choices).filter(pk=int_choice(provider_text)).first()
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
