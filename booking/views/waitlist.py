"""Waitlist pages: the patient's offer link, the patient's own waitlist, and the desk's waitlist.

The offer link needs no login: its token is the credential. It is moved from the address into
the session at once (as Django's password reset does), so the page the patient sees, its
history entry and any Referer carry no token; the session keeps only the token's SHA-256, like
the offer row, so no copy of the token is stored anywhere. Desk pages are staff only (404 for anyone else)
and note the patients they show. Every write goes through booking.services.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from booking import services
from booking import waitlist as rules
from booking.availability import STAFF_POLICY, find_slots
from booking.errors import BookingError, OfferClosed, OfferNotFound
from booking.forms import HandOfferForm, PatientSearchForm, WaitlistEntryForm, WithdrawForm, choice_value
from booking.models import OfferStatus, PartOfDay, WaitlistEntry, WaitlistOffer, WaitlistStatus
from booking.services.waitlist import open_offers_by_entry
from booking.views.desk import staff_only
from booking.views.plans import local_text
from clinic.access import patient_for, patients_viewed
from clinic.models import Location, Provider, VisitType
from patients.models import Patient, Screening

SESSION_KEY = "waitlist_offer_token_hash"
OFFER_PAGE = "booking/waitlist/offer.html"
# What a patient is told when an offer cannot be taken (the service's codes).
CLOSED_TEXT = {
    "offer_used": gettext_lazy("You have already taken this time. It is booked for you."),
    "offer_lost": gettext_lazy("Sorry, someone else took this time a moment before you. You stay on the waitlist."),
    "offer_expired": gettext_lazy("Sorry, this offer has run out. You stay on the waitlist."),
    "offer_withdrawn": gettext_lazy("This offer was withdrawn. Please call us if you have questions."),
    "offer_not_found": gettext_lazy("This link does not match any offer. Please check the link, or call us."),
}


# --- the patient's offer link (no login) -----------------------------------------------------


@require_http_methods(["GET"])
def waitlist_offer_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the message: keep the token in the session and show the page without it."""
    try:
        offer = services.offer_for_token(token)
    except OfferNotFound:
        return render(request, OFFER_PAGE, {"error": CLOSED_TEXT["offer_not_found"]}, status=404)
    request.session[SESSION_KEY] = offer.token_hash
    return redirect("booking:waitlist_offer")


@require_http_methods(["GET", "POST"])
def waitlist_offer(request: HttpRequest) -> HttpResponse:
    """GET: the offered time with an Accept button. POST: take it."""
    token_hash = request.session.get(SESSION_KEY, "")
    try:
        offer = services.offer_for_token(token_hash=token_hash)
    except OfferNotFound:
        return render(request, OFFER_PAGE, {"error": CLOSED_TEXT["offer_not_found"]}, status=404)
    if request.method != "POST":
        return render(request, OFFER_PAGE, _offer_context(offer))
    by = request.user if request.user.is_authenticated else None
    try:
        appointment = services.accept_offer(token_hash=token_hash, by=by)
    except OfferClosed as exc:
        offer.refresh_from_db()
        context = _offer_context(offer, error=CLOSED_TEXT[exc.code], alternatives=exc.alternatives)
        return render(request, OFFER_PAGE, context, status=exc.status)
    except BookingError as exc:
        return render(request, OFFER_PAGE, _offer_context(offer, error=_refusal_text(exc)), status=exc.status)
    offer.refresh_from_db()
    return render(request, OFFER_PAGE, _offer_context(offer, booked=appointment))


def _refusal_text(exc: BookingError) -> str:
    if exc.code == "patient_has_visit":
        return _("You already have a visit at that time, so this time cannot be booked for you.")
    if exc.code == "screening_review":
        return _("Before this visit, our staff need to look at your answers to the safety questions. Please call us.")
    if exc.code == "busy":
        return _("We are very busy right now. Please try again in a moment.")
    return _("Sorry, this time can no longer be booked. Please call us.")


# An offer that can no longer be taken, as the page explains it when opened again.
CLOSED_BY_STATUS = {
    OfferStatus.LOST: "offer_lost",
    OfferStatus.EXPIRED: "offer_expired",
    OfferStatus.WITHDRAWN: "offer_withdrawn",
    OfferStatus.OPEN: "offer_expired",  # open, but past its time: the sweep has not run yet
}


def _offer_context(offer: WaitlistOffer, **extra: Any) -> dict[str, Any]:
    """What the page shows: when, where, with whom, until when. Not the visit type: the link
    travels by SMS and e-mail, and the page stays as free of clinical detail as the message."""
    tz = offer.location.tz
    now = timezone.now()
    closed = offer.status != OfferStatus.OPEN or now >= offer.expires_at
    alternatives = extra.pop("alternatives", None)
    if closed and "error" not in extra and offer.status in CLOSED_BY_STATUS:
        code = CLOSED_BY_STATUS[OfferStatus(offer.status)]
        extra["error"] = CLOSED_TEXT[code]
        if alternatives is None and code != "offer_withdrawn":
            alternatives = services.alternatives_for(offer, now)
    return {
        "offer": offer,
        "when": local_text(offer.start, tz),
        "expires": local_text(offer.expires_at, tz),
        "can_accept": not closed and "booked" not in extra,
        "is_yours": offer.status == OfferStatus.ACCEPTED,
        "alternatives": [{"when": local_text(datetime.fromisoformat(a["start"]), tz)} for a in alternatives or []][:5],
        **extra,
    }


# --- the patient's own waitlist ----------------------------------------------------------------


def _own_patient(user: Any) -> Patient:
    patient = patient_for(user)
    if patient is None:
        raise Http404
    return patient


@login_required
def my_waitlist(request: HttpRequest) -> HttpResponse:
    """The patient's entries (and open offers); join the waitlist for a visit."""
    patient = _own_patient(request.user)
    form = WaitlistEntryForm(request.POST or None, patient_facing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_to_waitlist(patient=patient, by=request.user, **form.entry_values())
        except BookingError as exc:
            form.add_error(None, _waitlist_refusal(exc))
        else:
            messages.success(request, _("You are on the waitlist. We will send you a message when a time opens up."))
            return redirect("booking:my_waitlist")
    entries = _rows(list(_entries().filter(patient=patient).order_by("-created_at")[:50]))
    now = timezone.now()
    for entry in entries:  # the patient's own open offers, with their links (they are the owner)
        entry.open_offers = [
            {**row, "url": reverse("booking:waitlist_offer_link", args=[rules.offer_token(row["offer"].token_nonce)])}
            for row in entry.offer_rows
            if row["offer"].status == OfferStatus.OPEN and row["offer"].expires_at > now
        ]
    status = 422 if request.method == "POST" else 200
    return render(request, "booking/waitlist/mine.html", {"entries": entries, "form": form}, status=status)


@login_required
@require_POST
def my_waitlist_withdraw(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_object_or_404(WaitlistEntry, pk=entry_id, patient=_own_patient(request.user))
    with suppress(BookingError):  # already closed: the list shows it as it is
        services.withdraw_from_waitlist(entry=entry, by=request.user, reason="withdrawn by the patient")
    messages.success(request, _("You have left the waitlist for this visit."))
    return redirect("booking:my_waitlist")


def _waitlist_refusal(exc: BookingError) -> str:
    return {
        "already_waiting": _("You are already on the waitlist for this visit at this location."),
        "not_offered": _("This provider does not offer this visit at this location."),
    }.get(exc.code, _("This could not be saved. Please check the dates and times."))


# --- the desk's waitlist -----------------------------------------------------------------------

DESK_FILTERS = {
    "active": [WaitlistStatus.WAITING, WaitlistStatus.OFFERED],
    "offered": [WaitlistStatus.OFFERED],
    "booked": [WaitlistStatus.BOOKED],
    "closed": [WaitlistStatus.WITHDRAWN, WaitlistStatus.EXPIRED],
    "all": [],
}


def _entries() -> Any:
    return WaitlistEntry.objects.select_related("patient", "visit_type", "location", "provider")


def _rows(entries: list[WaitlistEntry]) -> list[WaitlistEntry]:
    """Entries with their offers (one query) and their wishes as text, in the location's time."""
    offers = open_offers_by_entry(e.pk for e in entries)
    for entry in entries:
        entry.offer_rows = [
            {
                "offer": offer,
                "when": local_text(offer.start, offer.location.tz),
                "expires": local_text(offer.expires_at, offer.location.tz),
            }
            for offer in offers.get(entry.pk, [])
        ]
        entry.since = timezone.localtime(entry.created_at, entry.location.tz).date().isoformat()
        entry.parts_text = ", ".join(str(label) for value, label in PartOfDay.choices if value in entry.parts_of_day)
    return entries


@staff_only
def desk_waitlist(request: HttpRequest) -> HttpResponse:
    """Entries, oldest first (the order offers go in), with filters and their offers."""
    shown = request.GET.get("show", "active")
    shown = shown if shown in DESK_FILTERS else "active"
    entries = _entries().order_by("created_at", "id")
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
    rows = _rows(list(entries[:200]))
    screenings = Screening.objects.latest_per_patient({e.patient_id for e in rows})
    for entry in rows:  # safety flags at a glance (a procedure offer waits for their review)
        screening = screenings.get(entry.patient_id)
        entry.flags = screening.flags if screening else []
        entry.needs_review = bool(screening and screening.blocks_online_booking)
    found = list(Patient.objects.search(query)[:20]) if query else []
    patients_viewed(request, {e.patient_id for e in rows} | {p.pk for p in found})
    context = {
        "entries": rows,
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
def desk_waitlist_add(request: HttpRequest, patient_id: int) -> HttpResponse:
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
def desk_waitlist_withdraw(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Take an entry off the waitlist; htmx swaps the entry's row."""
    entry = get_object_or_404(_entries(), pk=entry_id)
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
        entry = _entries().get(pk=entry.pk)
        context = {"entry": _rows([entry])[0], "withdraw_form": WithdrawForm()}
        return render(request, "booking/waitlist/_desk_entry.html", context, status=status)
    return redirect("booking:desk_waitlist")


@staff_only
def desk_waitlist_offer(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Offer a time by hand: the free times that suit the entry (next two weeks of its dates)."""
    entry = get_object_or_404(_entries(), pk=entry_id)
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
    context = {"entry": _rows([entry])[0], "slots": _suitable_slots(entry), "error": error}
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
