"""The desk's waitlist pages.

Staff only (404 for anyone else); the pages note the patients they show. Every write goes
through booking.services.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from booking import services
from booking.errors import BookingError
from booking.forms import HandOfferForm, PatientSearchForm, WaitlistEntryForm, WithdrawForm, choice_value
from booking.models import WaitlistEntry, WaitlistStatus
from booking.pages.waitlist import waitlist_entries, waitlist_rows
from booking.scheduling import waitlist as rules
from booking.scheduling.availability import STAFF_POLICY
from booking.scheduling.loading import find_slots
from clinic.access import patients_viewed, staff_only
from clinic.http import AuthenticatedHttpRequest
from clinic.localtime import local_text
from clinic.models import Location, Provider, VisitType
from patients.models import Patient, Screening

# --- the desk's waitlist -----------------------------------------------------------------------

DESK_FILTERS = {
    "active": [WaitlistStatus.WAITING, WaitlistStatus.OFFERED],
    "offered": [WaitlistStatus.OFFERED],
    "booked": [WaitlistStatus.BOOKED],
    "closed": [WaitlistStatus.WITHDRAWN, WaitlistStatus.EXPIRED],
    "all": [],
}


@staff_only
def desk_waitlist(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Entries, oldest first (the order offers go in), with filters and their offers."""
    shown = request.GET.get("show", "active")
    shown = shown if shown in DESK_FILTERS else "active"
    entries = waitlist_entries().order_by("created_at", "id")
    if DESK_FILTERS[shown]:
        entries = entries.filter(status__in=DESK_FILTERS[shown])
    for name in ("location", "visit_type"):
        picked = request.GET.get(name, "")
        if picked.isdigit():
            entries = entries.filter(**{f"{name}_id": int(picked)})
    search = PatientSearchForm(request.GET or None)
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    if query:
        entries = entries.filter(patient__in=Patient.objects.search(query))
    rows = waitlist_rows(list(entries[:200]))
    screenings = Screening.objects.latest_per_patient({row.entry.patient_id for row in rows})
    for row in rows:  # safety flags at a glance (a procedure offer waits for their review)
        screening = screenings.get(row.entry.patient_id)
        row.flags = screening.flags if screening else []
        row.needs_review = bool(screening and screening.blocks_online_booking)
    found = list(Patient.objects.search(query)[:20]) if query else []
    patients_viewed(request, {row.entry.patient_id for row in rows} | {p.pk for p in found})
    context = {
        "rows": rows,
        "shown": shown,
        "filters": [(key, _filter_label(key)) for key in DESK_FILTERS],
        "locations": Location.objects.filter(is_active=True),
        "visit_types": VisitType.objects.filter(is_active=True),
        "picked": {name: request.GET.get(name, "") for name in ("location", "visit_type")},
        "search": search,
        "query": query,
        "found": found,
        "withdraw_form": WithdrawForm(),
    }
    return render(request, "booking/waitlist/desk.html", context)


def _filter_label(key: str) -> str:
    return {
        "active": _("Waiting or offered"),
        "offered": _("Offered"),
        "booked": _("Booked"),
        "closed": _("Withdrawn or expired"),
        "all": _("All"),
    }[key]


@staff_only
def desk_waitlist_add(request: AuthenticatedHttpRequest, patient_id: int) -> HttpResponse:
    """Put a patient on the waitlist."""
    patient = get_object_or_404(Patient, pk=patient_id)
    patients_viewed(request, [patient.pk])
    form = WaitlistEntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_to_waitlist(patient=patient, by=request.user, **form.entry_values())
        except BookingError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, _("%(name)s is on the waitlist.") % {"name": patient.full_name})
            return redirect("booking:desk_waitlist")
    status = 422 if request.method == "POST" else 200
    return render(request, "booking/waitlist/desk_add.html", {"patient": patient, "form": form}, status=status)


@staff_only  # first: anyone else gets 404 whatever the method, not a 405 that shows the page exists
@require_POST
def desk_waitlist_withdraw(request: AuthenticatedHttpRequest, entry_id: int) -> HttpResponse:
    """Take an entry off the waitlist; htmx swaps the entry's row."""
    entry = get_object_or_404(waitlist_entries(), pk=entry_id)
    form = WithdrawForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    status = 200
    try:
        entry = services.withdraw_from_waitlist(entry=entry, by=request.user, reason=reason or "withdrawn by the desk")
    except BookingError as exc:
        status = exc.status
        messages.warning(request, exc.detail)
    patients_viewed(request, [entry.patient_id])
    if request.htmx:
        entry = waitlist_entries().get(pk=entry.pk)
        context = {"row": waitlist_rows([entry])[0], "withdraw_form": WithdrawForm()}
        return render(request, "booking/waitlist/_desk_entry.html", context, status=status)
    return redirect("booking:desk_waitlist")


@staff_only
def desk_waitlist_offer(request: AuthenticatedHttpRequest, entry_id: int) -> HttpResponse:
    """Offer a time by hand: the free times that suit the entry (next two weeks of its dates)."""
    entry = get_object_or_404(waitlist_entries(), pk=entry_id)
    patients_viewed(request, [entry.patient_id])
    form = HandOfferForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        start, provider_id = form.cleaned_data["slot"]
        provider = get_object_or_404(Provider, pk=provider_id)
        try:
            services.offer_slot_to_entry(entry=entry, provider=provider, start=start, by=request.user)
        except BookingError as exc:
            error = exc.detail
        else:
            messages.success(request, _("The time is offered to %(name)s.") % {"name": entry.patient.full_name})
            return redirect(reverse("booking:desk_waitlist") + "?show=offered")
    context = {"row": waitlist_rows([entry])[0], "slots": _suitable_slots(entry), "error": error}
    return render(request, "booking/waitlist/desk_offer.html", context, status=422 if error else 200)


def _suitable_slots(entry: WaitlistEntry, days: int = 14, limit: int = 40) -> list[dict[str, Any]]:
    tz = entry.location.tz
    now = timezone.now()
    first = max(entry.earliest_date or timezone.localtime(now, tz).date(), timezone.localtime(now, tz).date())
    last = min(entry.latest_date or first + timedelta(days=days - 1), first + timedelta(days=days - 1))
    if last < first or not entry.is_active:
        return []
    slots = find_slots(
        visit_type=entry.visit_type,
        location=entry.location,
        first_day=first,
        last_day=last,
        provider_ids=[entry.provider_id] if entry.provider_id else None,
        policy=STAFF_POLICY,
        now=now,
    )
    names = dict(Provider.objects.filter(pk__in={s.provider_id for s in slots}).values_list("pk", "display_name"))
    wish = rules.Wish(entry.earliest_date, entry.latest_date, entry.parts_of_day, entry.time_from, entry.time_to)
    found = []
    for slot in slots:
        local_start, local_end = slot.start.astimezone(tz), slot.end.astimezone(tz)
        if rules.fits(wish, local_start, local_end):
            found.append(
                {
                    "value": choice_value(local_start, slot.provider_id),
                    "when": local_text(slot.start, tz),
                    "provider": names.get(slot.provider_id, ""),
                }
            )
        if len(found) >= limit:
            break
    return found
