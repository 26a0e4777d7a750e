"""The waitlist's writes: join and leave it, offer a freed time, take an offer.

A cancelled visit's time is offered, in the cancellation's own transaction, to the first
WAITLIST_OFFERS_PER_SLOT matching entries (oldest first), each with a message through the
reminders outbox. Whoever accepts first gets the time through book_appointment, so the
no-double-booking guarantee is the booking service's; the other offers of that time are lost.
Offers run out by the beat sweep expire_waitlist_offers, which offers a time still free to the
next entries in line. docs/waitlist.md has the reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from booking.errors import BookingError, OfferClosed, OfferNotFound, SlotTaken
from booking.messaging import planning, policy
from booking.models import (
    Appointment,
    OfferStatus,
    PartOfDay,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from booking.scheduling import waitlist as rules
from booking.scheduling.availability import PATIENT_POLICY, STAFF_POLICY, check_start
from booking.scheduling.loading import load_schedule
from booking.services import write_path as wp
from booking.services.appointments import book_appointment
from booking.services.write_path import User
from clinic.models import Location, Provider, VisitKind, VisitType, hash_token
from patients.models import Patient, Screening

logger = logging.getLogger(__name__)


# --- entries --------------------------------------------------------------------------------------


def add_to_waitlist(
    *,
    patient: Patient,
    visit_type: VisitType,
    location: Location,
    by: User,
    provider: Provider | None = None,
    earliest_date: date | None = None,
    latest_date: date | None = None,
    parts_of_day: Sequence[str] = (),
    time_from: time | None = None,
    time_to: time | None = None,
    note: str = "",
    now: datetime | None = None,
) -> WaitlistEntry:
    """Put a patient on the waitlist for a visit type at a location (422 if the wish makes no sense,
    or the patient already waits for it there)."""
    now = now or timezone.now()
    today = timezone.localtime(now, location.tz).date()
    if not (visit_type.is_active and location.is_active) or (provider is not None and not provider.is_active):
        raise BookingError("not_offered", "This provider, visit or location is not taking bookings.")
    if provider is not None:
        wp.require_offer(provider, visit_type, location)
    if latest_date is not None and latest_date < today:
        raise BookingError("dates_in_past", "The last date is in the past.")
    if earliest_date and latest_date and latest_date < earliest_date:
        raise BookingError("dates_out_of_order", "The last date is before the first date.")
    if time_from and time_to and time_to <= time_from:
        raise BookingError("window_out_of_order", "The 'until' time must be after the 'from' time.")
    unknown = set(parts_of_day) - set(PartOfDay.values)
    if unknown:
        raise BookingError("invalid_part_of_day", f"Unknown part of the day: {', '.join(sorted(unknown))}.")
    try:
        with transaction.atomic():
            return WaitlistEntry.objects.create(
                patient=patient,
                visit_type=visit_type,
                location=location,
                provider=provider,
                earliest_date=earliest_date,
                latest_date=latest_date,
                parts_of_day=[p for p in PartOfDay.values if p in parts_of_day],
                time_from=time_from,
                time_to=time_to,
                note=note.strip()[:200],
                created_by=by,
                created_at=now,
            )
    except IntegrityError as exc:
        if "booking_waitlistentry_one_active" in str(exc) or "UNIQUE" in str(exc).upper():
            raise BookingError(
                "already_waiting", "This patient is already on the waitlist for this visit at this location."
            ) from exc
        raise


def withdraw_from_waitlist(
    *, entry: WaitlistEntry, by: User, reason: str = "", now: datetime | None = None
) -> WaitlistEntry:
    """Take an entry off the waitlist; its open offers are withdrawn and their messages stopped."""
    now = now or timezone.now()
    reason = reason.strip()[:200] or "withdrawn"
    with transaction.atomic():
        changed = WaitlistEntry.objects.filter(pk=entry.pk, status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED])
        if not changed.update(status=WaitlistStatus.WITHDRAWN, closed_at=now, close_reason=reason, closed_by=by):
            entry.refresh_from_db()
            raise BookingError("not_waiting", f"This entry is {entry.get_status_display().lower()} already.")
        withdrawn = _close_offers(WaitlistOffer.objects.open().filter(entry=entry), OfferStatus.WITHDRAWN, now)
        _offer_to_next(withdrawn, now)
    entry.refresh_from_db()
    return entry


# --- offers -----------------------------------------------------------------------------------


def _slot_is_free(
    provider: Provider, visit_type: VisitType, location: Location, start: datetime, now: datetime
) -> str | None:
    """Why the time cannot be booked now (a Reason code), or None: the availability rules, as for
    a staff booking (an offered time may be off the online grid)."""
    day = timezone.localtime(start, location.tz).date()
    schedule = load_schedule(
        visit_type=visit_type, location=location, first_day=day, last_day=day, provider_ids=[provider.pk], now=now
    )
    reason, _ = check_start(schedule, provider.pk, start, STAFF_POLICY)
    return reason


def _offer_times(
    visit_type: VisitType, location: Location, start: datetime, now: datetime
) -> tuple[datetime, datetime] | None:
    """(when the message may go, when the offer runs out), or None when it is too late to offer."""
    cutoff = rules.closes_at(start, visit_type.min_notice_minutes)
    send_at = policy.delivery_time(now, location.tz, now=now, before=cutoff)
    if send_at is None:
        return None
    expires = rules.offer_expiry(sent_at=send_at, start=start, min_notice_minutes=visit_type.min_notice_minutes)
    return (send_at, expires) if expires is not None else None


def _make_offer(
    entry: WaitlistEntry,
    *,
    provider: Provider,
    start: datetime,
    times: tuple[datetime, datetime],
    freed_by: Appointment | None,
    by: User,
    now: datetime,
) -> WaitlistOffer:
    nonce = rules.new_nonce()
    offer = WaitlistOffer.objects.create(
        entry=entry,
        provider=provider,
        visit_type=entry.visit_type,
        location=entry.location,
        start=start,
        end=start + entry.visit_type.duration,
        freed_by=freed_by,
        expires_at=times[1],
        token_hash=hash_token(rules.offer_token(nonce)),
        token_nonce=nonce,
        created_by=by,
        created_at=now,
    )
    planning.waitlist_offer_for(offer, channels=policy.offer_channels(entry.patient), send_at=times[0])
    if WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistStatus.WAITING).update(status=WaitlistStatus.OFFERED):
        entry.status = WaitlistStatus.OFFERED
    return offer


def matching_entries(
    *,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    start: datetime,
    now: datetime,
    exclude_patient_id: int | None = None,
) -> list[WaitlistEntry]:
    """Active entries this time suits, oldest first: same visit type and location, their provider
    (or any), date range, parts of the day and window; not already offered this time; the
    patient free then, reachable by message, and (for a procedure) without safety answers
    waiting for staff review."""
    tz = location.tz
    local_start = timezone.localtime(start, tz)
    local_end = timezone.localtime(start + visit_type.duration, tz)
    day = local_start.date()
    offered_this = WaitlistOffer.objects.for_slot(provider.pk, start).filter(entry=OuterRef("pk"))
    candidates = list(
        WaitlistEntry.objects.active()
        .filter(visit_type=visit_type, location=location)
        .filter(Q(provider__isnull=True) | Q(provider=provider))
        .filter(Q(earliest_date__isnull=True) | Q(earliest_date__lte=day))
        .filter(Q(latest_date__isnull=True) | Q(latest_date__gte=day))
        .filter(~Exists(offered_this))
        .exclude(patient_id=exclude_patient_id)
        .select_related("patient", "visit_type", "location")
        .fairness_order()
    )
    busy = set(
        Appointment.objects.occupying(now)
        .filter(patient_id__in=[e.patient_id for e in candidates])
        .overlapping(start, start + visit_type.duration)
        .values_list("patient_id", flat=True)
    )
    blocked = _needs_screening_review(visit_type, {e.patient_id for e in candidates})
    return [
        entry
        for entry in candidates
        if rules.fits(_wish(entry), local_start, local_end)
        and entry.patient_id not in busy
        and entry.patient_id not in blocked
        and policy.offer_channels(entry.patient)
    ]


def _needs_screening_review(visit_type: VisitType, patient_ids: set[int]) -> set[int]:
    """Patients whose latest safety answers block online booking of a procedure until staff
    have reviewed them: a link must not book what the patient could not book online."""
    if visit_type.kind != VisitKind.PROCEDURE or not patient_ids:
        return set()
    latest = Screening.objects.latest_per_patient(patient_ids)
    return {pk for pk, screening in latest.items() if screening.blocks_online_booking}


def _wish(entry: WaitlistEntry) -> rules.Wish:
    return rules.Wish(entry.earliest_date, entry.latest_date, entry.parts_of_day, entry.time_from, entry.time_to)


def offer_freed_slot(
    *,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    start: datetime,
    freed_by: Appointment | None = None,
    by: User = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> list[WaitlistOffer]:
    """Offer a free time to the first matching entries (oldest first), each with a message.

    Runs in the caller's transaction when there is one (a cancellation), so a rolled-back
    cancellation offers nothing. Offers nothing when the time is no longer free, or too close to
    offer; counts offers of this time still open against the limit.
    """
    now = now or timezone.now()
    start = wp.utc_start(start)
    times = _offer_times(visit_type, location, start, now)
    if times is None or _slot_is_free(provider, visit_type, location, start, now) is not None:
        return []
    limit = (limit or settings.WAITLIST_OFFERS_PER_SLOT) - WaitlistOffer.objects.open().for_slot(
        provider.pk, start
    ).count()
    if limit <= 0:
        return []
    with transaction.atomic():
        entries = matching_entries(
            provider=provider,
            visit_type=visit_type,
            location=location,
            start=start,
            now=now,
            exclude_patient_id=freed_by.patient_id if freed_by is not None else None,
        )
        return [
            _make_offer(entry, provider=provider, start=start, times=times, freed_by=freed_by, by=by, now=now)
            for entry in entries[:limit]
        ]


def offer_after_cancellation(appointment: Appointment, *, now: datetime) -> list[WaitlistOffer]:
    """Called by cancel_appointment inside its transaction, in a savepoint: a failure here is
    logged and leaves the cancellation standing (with no offers) rather than refusing it."""
    if appointment.hold_expires_at is not None:
        return []  # a released hold: the patient never had the time, nobody is waiting on its return
    try:
        with transaction.atomic():
            return offer_freed_slot(
                provider=appointment.provider,
                visit_type=appointment.visit_type,
                location=appointment.location,
                start=appointment.start,
                freed_by=appointment,
                now=now,
            )
    except Exception:  # noqa: BLE001 - the cancellation must stand; the log says what failed
        logger.exception("waitlist: offering the time of cancelled appointment %s failed", appointment.pk)
        return []


def offer_slot_to_entry(
    *, entry: WaitlistEntry, provider: Provider, start: datetime, by: User, now: datetime | None = None
) -> WaitlistOffer:
    """The desk offers a free time by hand to one entry (its visit type and location; any
    provider who offers the visit; the desk's judgement on dates and times of day)."""
    now = now or timezone.now()
    start = wp.utc_start(start)
    if not entry.is_active:
        raise BookingError("not_waiting", f"This entry is {entry.get_status_display().lower()}.")
    visit_type, location = entry.visit_type, entry.location
    wp.require_offer(provider, visit_type, location)
    times = _offer_times(visit_type, location, start, now)
    if times is None:
        raise BookingError("too_late_to_offer", "That time is too soon to offer; book it for the patient instead.")
    with transaction.atomic():
        reason = _slot_is_free(provider, visit_type, location, start, now)
        if reason in wp.TAKEN:
            raise SlotTaken(wp.REASON_TEXT[reason])
        if reason is not None:
            raise BookingError(reason, wp.REASON_TEXT[reason])
        if WaitlistOffer.objects.open().for_slot(provider.pk, start).filter(entry=entry).exists():
            raise BookingError("already_offered", "This time is already offered to this patient.")
        return _make_offer(entry, provider=provider, start=start, times=times, freed_by=None, by=by, now=now)


def _offer_to_next(closed_offer_ids: list[int], now: datetime) -> None:
    """Times whose offers closed without being taken (ran out, withdrawn) go to the next entries
    in line, up to WAITLIST_OFFERS_PER_SLOT open at once; each time in its own savepoint, so one
    time's trouble is logged and does not undo the rest."""
    if not closed_offer_ids:
        return
    slots = set(
        WaitlistOffer.objects.filter(pk__in=closed_offer_ids, start__gt=now).values_list(
            "provider_id", "visit_type_id", "location_id", "start"
        )
    )
    for provider_id, visit_type_id, location_id, start in sorted(slots, key=lambda slot: slot[3]):
        try:
            with transaction.atomic():
                offer_freed_slot(
                    provider=Provider.objects.get(pk=provider_id),
                    visit_type=VisitType.objects.get(pk=visit_type_id),
                    location=Location.objects.get(pk=location_id),
                    start=start,
                    now=now,
                )
        except Exception:  # noqa: BLE001 - see the docstring
            logger.exception("waitlist: offering %s at %s to the next entries failed", provider_id, start)


def _close_offers(offers: Any, status: str, now: datetime) -> list[int]:
    """Close open offers (conditionally), stop their messages, and put their entries back to
    waiting when they have no other open offer. Returns the ids closed."""
    ids = list(offers.filter(status=OfferStatus.OPEN).values_list("pk", flat=True))
    if not ids:
        return []
    WaitlistOffer.objects.filter(pk__in=ids, status=OfferStatus.OPEN).update(status=status, closed_at=now)
    planning.close_offer_messages(ids, why=f"the offer is {OfferStatus(status).label.lower()}", now=now)
    entry_ids = WaitlistOffer.objects.filter(pk__in=ids).values_list("entry_id", flat=True)
    still_open = WaitlistOffer.objects.open().filter(entry=OuterRef("pk"))
    WaitlistEntry.objects.filter(pk__in=entry_ids, status=WaitlistStatus.OFFERED).filter(~Exists(still_open)).update(
        status=WaitlistStatus.WAITING
    )
    return ids


# --- taking an offer -------------------------------------------------------------------------


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


def accept_offer(*, token: str = "", token_hash: str = "", by: User = None, now: datetime | None = None) -> Appointment:
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
        if current.created_by_id is None and _needs_screening_review(offer.visit_type, {offer.entry.patient_id}):
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
        _close_offers(WaitlistOffer.objects.filter(pk__in=others), OfferStatus.LOST, now)
        elsewhere = WaitlistOffer.objects.open().filter(entry_id=offer.entry_id)
        _offer_to_next(_close_offers(elsewhere, OfferStatus.WITHDRAWN, now), now)
        return appointment

    try:
        return wp.write(write)
    except SlotTaken as exc:
        # Booked by other means (the desk, a patient online): this time's offers are lost.
        with transaction.atomic():
            _close_offers(WaitlistOffer.objects.for_slot(offer.provider_id, offer.start), OfferStatus.LOST, now)
        closed = OfferClosed("offer_lost", "Someone else took this time first. You stay on the waitlist.")
        closed.alternatives = alternatives_for(offer, now)
        raise closed from exc
    except OfferClosed as closed:
        if closed.code == "offer_expired":
            with transaction.atomic():
                _close_offers(WaitlistOffer.objects.filter(pk=offer.pk), OfferStatus.EXPIRED, now)
        if closed.code in ("offer_lost", "offer_expired"):
            closed.alternatives = alternatives_for(offer, now)
        raise


# --- the sweep -------------------------------------------------------------------------------


def expire_waitlist_offers(*, now: datetime | None = None) -> int:
    """Beat sweep: close offers that ran out, offer their times (if still free) to the next
    entries in line, and expire entries whose last date has passed. Returns offers expired."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = _close_offers(WaitlistOffer.objects.open().filter(expires_at__lte=now), OfferStatus.EXPIRED, now)
        _offer_to_next(expired, now)
    _expire_entries(now)
    return len(expired)


def _expire_entries(now: datetime) -> int:
    """Entries whose last date has passed, in their location's time zone."""
    soon = timezone.localtime(now).date() + timedelta(days=1)
    candidates = WaitlistEntry.objects.active().filter(latest_date__lt=soon).select_related("location")
    past = [e.pk for e in candidates if e.latest_date < timezone.localtime(now, e.location.tz).date()]
    if not past:
        return 0
    with transaction.atomic():
        closed = _close_offers(WaitlistOffer.objects.open().filter(entry_id__in=past), OfferStatus.EXPIRED, now)
        count = WaitlistEntry.objects.filter(
            pk__in=past, status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED]
        ).update(status=WaitlistStatus.EXPIRED, closed_at=now, close_reason="the last date has passed")
        _offer_to_next(closed, now)  # after the entries closed, so they are not offered again
    return count


def open_offers_by_entry(entry_ids: Iterable[int]) -> dict[int, list[WaitlistOffer]]:
    """Each entry's offers, newest first (for the desk page; one query)."""
    found: dict[int, list[WaitlistOffer]] = {}
    for offer in WaitlistOffer.objects.filter(entry_id__in=list(entry_ids)).select_related("provider", "location"):
        found.setdefault(offer.entry_id, []).append(offer)
    return found


__all__ = [
    "accept_offer",
    "add_to_waitlist",
    "alternatives_for",
    "expire_waitlist_offers",
    "matching_entries",
    "offer_after_cancellation",
    "offer_for_token",
    "offer_freed_slot",
    "offer_slot_to_entry",
    "open_offers_by_entry",
    "withdraw_from_waitlist",
]
