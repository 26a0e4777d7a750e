"""Waitlist pages for patients: the offer link and the patient's own waitlist.

The offer link needs no login: its token is the credential. It is moved from the address into
the session at once (as Django's password reset does), so the page the patient sees, its
history entry and any Referer carry no token; the session keeps only the token's SHA-256, like
the offer row, so no copy of the token is stored anywhere. Every write goes through booking.services.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace
from datetime import datetime
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
from booking.errors import BookingError, OfferClosed, OfferNotFound
from booking.forms import WaitlistEntryForm
from booking.models import OfferStatus, WaitlistEntry, WaitlistOffer
from booking.pages.waitlist import waitlist_entries, waitlist_rows
from booking.scheduling import waitlist as rules
from clinic.http import AuthenticatedHttpRequest
from clinic.localtime import local_text
from patients.access import patient_for
from patients.models import Patient

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
def my_waitlist(request: AuthenticatedHttpRequest) -> HttpResponse:
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
    rows = waitlist_rows(list(waitlist_entries().filter(patient=patient).order_by("-created_at")[:50]))
    now = timezone.now()
    for row in rows:  # the patient's own open offers, with their links (they are the owner)
        row.open_offers = [
            replace(shown, url=_offer_path(shown.offer))
            for shown in row.offers
            if shown.offer.status == OfferStatus.OPEN and shown.offer.expires_at > now
        ]
    status = 422 if request.method == "POST" else 200
    return render(request, "booking/waitlist/mine.html", {"rows": rows, "form": form}, status=status)


def _offer_path(offer: WaitlistOffer) -> str:
    """The offer's link page, on this site (the message carries the absolute `rules.offer_url`)."""
    return reverse("booking:waitlist_offer_link", args=[rules.offer_token(offer.token_nonce)])


@login_required
@require_POST
def my_waitlist_withdraw(request: AuthenticatedHttpRequest, entry_id: int) -> HttpResponse:
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
