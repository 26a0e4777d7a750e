"""Offering a freed time to the waitlist: who it suits, making the offers, closing them.

A cancelled visit's time is offered, in the cancellation's own transaction, to the first
WAITLIST_OFFERS_PER_SLOT matching entries (oldest first), each with a message through the
reminders outbox. Offers that close without being taken pass the time on to the next entries in
line. docs/waitlist.md has the reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from booking.errors import BookingError, SlotTaken
from booking.messaging import planning, policy
from booking.models import Appointment, OfferStatus, WaitlistEntry, WaitlistOffer, WaitlistStatus
from booking.scheduling import waitlist as rules
from booking.scheduling.availability import STAFF_POLICY, check_start
from booking.scheduling.loading import load_schedule
from booking.services import write_path as wp
from clinic.models import Location, Provider, VisitKind, VisitType, hash_token
from patients.models import Screening

logger = logging.getLogger(__name__)


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
    by: User | None,
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
    suitable = (
        WaitlistEntry.objects.active()
        .filter(visit_type=visit_type, location=location)
        .filter(Q(provider__isnull=True) | Q(provider=provider))
        .filter(Q(earliest_date__isnull=True) | Q(earliest_date__lte=day))
        .filter(Q(latest_date__isnull=True) | Q(latest_date__gte=day))
        .filter(~Exists(offered_this))
    )
    if exclude_patient_id is not None:
        suitable = suitable.exclude(patient_id=exclude_patient_id)
    candidates = list(suitable.select_related("patient", "visit_type", "location").fairness_order())
    busy = set(
        Appointment.objects.occupying(now)
        .filter(patient_id__in=[e.patient_id for e in candidates])
        .overlapping(start, start + visit_type.duration)
        .values_list("patient_id", flat=True)
    )
    blocked = needs_screening_review(visit_type, {e.patient_id for e in candidates})
    return [
        entry
        for entry in candidates
        if rules.fits(_wish(entry), local_start, local_end)
        and entry.patient_id not in busy
        and entry.patient_id not in blocked
        and policy.offer_channels(entry.patient)
    ]


def needs_screening_review(visit_type: VisitType, patient_ids: set[int]) -> set[int]:
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
    by: User | None = None,
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
    *, entry: WaitlistEntry, provider: Provider, start: datetime, by: User | None, now: datetime | None = None
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


def offer_to_next(closed_offer_ids: list[int], now: datetime) -> None:
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


def close_offers(offers: QuerySet[WaitlistOffer], status: str, now: datetime) -> list[int]:
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


def open_offers_by_entry(entry_ids: Iterable[int]) -> dict[int, list[WaitlistOffer]]:
    """Each entry's offers, newest first (for the desk page; one query)."""
    found: dict[int, list[WaitlistOffer]] = {}
    for offer in WaitlistOffer.objects.filter(entry_id__in=list(entry_ids)).select_related("provider", "location"):
        found.setdefault(offer.entry_id, []).append(offer)
    return found
