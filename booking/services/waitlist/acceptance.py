"""Taking an offer: the first to accept books the time (through book_appointment); the other
offers of that time are lost, and the patient's offers of other times are withdrawn."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from booking.errors import BookingError, OfferClosed, OfferNotFound, SlotTaken
from booking.messaging import planning
from booking.models import Appointment, OfferStatus, WaitlistEntry, WaitlistOffer, WaitlistStatus
from booking.scheduling.availability import PATIENT_POLICY, STAFF_POLICY
from booking.services import write_path as wp
from booking.services.appointments import book_appointment
from booking.services.waitlist.offers import close_offers, needs_screening_review, offer_to_next
from clinic.models import hash_token


def offer_for_token(token: str = "", *, token_hash: str = "") -> WaitlistOffer:
    """The offer a link's token (or the token's hash, as the offer page keeps it in the session)
    opens; OfferNotFound (404) for anything else."""
    if not token_hash:
        if not token or len(token) > 100:
            raise OfferNotFound()
        token_hash = hash_token(token)
    offer = (
        WaitlistOffer.objects.select_related("entry__patient", "provider", "visit_type", "location", "appointment")
        .filter(token_hash=token_hash)
        .first()
    )
    if offer is None:
        raise OfferNotFound()
    return offer


def alternatives_for(offer: WaitlistOffer, now: datetime) -> list[dict[str, Any]]:
    """Other free times near the offered one that the patient could book online themselves."""
    if not offer.visit_type.bookable_online:
        return []
    return wp.find_alternatives(
        provider=offer.provider,
        visit_type=offer.visit_type,
        location=offer.location,
        start=max(offer.start, now),
        policy=PATIENT_POLICY,
        now=now,
    )


def _refusal(offer: WaitlistOffer, now: datetime) -> OfferClosed | None:
    """Why this offer cannot be taken now, or None."""
    if offer.status == OfferStatus.ACCEPTED:
        return OfferClosed("offer_used", "This offer has been used: the time is booked.")
    if offer.status == OfferStatus.LOST:
        return OfferClosed("offer_lost", "Someone else took this time first. You stay on the waitlist.")
    if offer.status == OfferStatus.WITHDRAWN:
        return OfferClosed("offer_withdrawn", "This offer was withdrawn.")
    if offer.status == OfferStatus.EXPIRED or now >= offer.expires_at:
        return OfferClosed("offer_expired", "This offer has run out. You stay on the waitlist.")
    return None


def accept_offer(
    *, token: str = "", token_hash: str = "", by: User | None = None, now: datetime | None = None
) -> Appointment:
    """Take an offered time (by the link's token, or its hash): the first to accept books it
    (through book_appointment); the other offers of that time are lost. A used, lost, withdrawn
    or run-out offer is refused with OfferClosed (409/410), with other free times where there are
    any."""
    now = now or timezone.now()
    offer = offer_for_token(token, token_hash=token_hash)

    def write() -> Appointment:
        # Lock every open offer of this time (and this one) in id order before the booking's
        # provider lock: two accepts of one time queue here instead of deadlocking later.
        slot = Q(pk=offer.pk) | Q(provider_id=offer.provider_id, start=offer.start, status=OfferStatus.OPEN)
        locked = {o.pk: o for o in WaitlistOffer.objects.select_for_update().filter(slot).order_by("pk")}
        current = locked[offer.pk]
        refusal = _refusal(current, now)
        if refusal is not None:
            raise refusal
        if current.created_by_id is None and needs_screening_review(offer.visit_type, {offer.entry.patient_id}):
            raise BookingError(
                "screening_review", "Your safety answers need a look from our staff first; please call us."
            )
        appointment = book_appointment(
            patient=offer.entry.patient,
            provider=offer.provider,
            visit_type=offer.visit_type,
            location=offer.location,
            start=offer.start,
            by=by,
            policy=STAFF_POLICY,  # the clinic offered this time; the hard rules still apply
            now=now,
        )
        WaitlistOffer.objects.filter(pk=offer.pk).update(
            status=OfferStatus.ACCEPTED, appointment=appointment, closed_at=now
        )
        planning.close_offer_messages([offer.pk], why="the offer was accepted", now=now)
        WaitlistEntry.objects.filter(pk=offer.entry_id).update(
            status=WaitlistStatus.BOOKED, closed_at=now, close_reason="booked from a waitlist offer"
        )
        others = [pk for pk in locked if pk != offer.pk]
        close_offers(WaitlistOffer.objects.filter(pk__in=others), OfferStatus.LOST, now)
        elsewhere = WaitlistOffer.objects.open().filter(entry_id=offer.entry_id)
        offer_to_next(close_offers(elsewhere, OfferStatus.WITHDRAWN, now), now)
        return appointment

    try:
        return wp.write(write)
    except SlotTaken as exc:
        # Booked by other means (the desk, a patient online): this time's offers are lost.
        with transaction.atomic():
            close_offers(WaitlistOffer.objects.for_slot(offer.provider_id, offer.start), OfferStatus.LOST, now)
        closed = OfferClosed("offer_lost", "Someone else took this time first. You stay on the waitlist.")
        closed.alternatives = alternatives_for(offer, now)
        raise closed from exc
    except OfferClosed as closed:
        if closed.code == "offer_expired":
            with transaction.atomic():
                close_offers(WaitlistOffer.objects.filter(pk=offer.pk), OfferStatus.EXPIRED, now)
        if closed.code in ("offer_lost", "offer_expired"):
            closed.alternatives = alternatives_for(offer, now)
        raise
