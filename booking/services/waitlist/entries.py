"""A patient's place on the waitlist: join it, leave it, and the sweep that ends offers and entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from booking.errors import BookingError
from booking.models import OfferStatus, PartOfDay, WaitlistEntry, WaitlistOffer, WaitlistStatus
from booking.services import write_path as wp
from booking.services.waitlist.offers import close_offers, offer_to_next
from clinic.models import Location, Provider, VisitType
from patients.models import Patient


def add_to_waitlist(
    *,
    patient: Patient,
    visit_type: VisitType,
    location: Location,
    by: User | None,
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
    *, entry: WaitlistEntry, by: User | None, reason: str = "", now: datetime | None = None
) -> WaitlistEntry:
    """Take an entry off the waitlist; its open offers are withdrawn and their messages stopped."""
    now = now or timezone.now()
    reason = reason.strip()[:200] or "withdrawn"
    with transaction.atomic():
        changed = WaitlistEntry.objects.filter(pk=entry.pk, status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED])
        if not changed.update(status=WaitlistStatus.WITHDRAWN, closed_at=now, close_reason=reason, closed_by=by):
            entry.refresh_from_db()
            raise BookingError("not_waiting", f"This entry is {entry.get_status_display().lower()} already.")
        withdrawn = close_offers(WaitlistOffer.objects.open().filter(entry=entry), OfferStatus.WITHDRAWN, now)
        offer_to_next(withdrawn, now)
    entry.refresh_from_db()
    return entry


# --- the sweep -------------------------------------------------------------------------------


def expire_waitlist_offers(*, now: datetime | None = None) -> int:
    """Beat sweep: close offers that ran out, offer their times (if still free) to the next
    entries in line, and expire entries whose last date has passed. Returns offers expired."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = close_offers(WaitlistOffer.objects.open().filter(expires_at__lte=now), OfferStatus.EXPIRED, now)
        offer_to_next(expired, now)
    _expire_entries(now)
    return len(expired)


def _expire_entries(now: datetime) -> int:
    """Entries whose last date has passed, in their location's time zone."""
    soon = timezone.localtime(now).date() + timedelta(days=1)
    candidates = WaitlistEntry.objects.active().filter(latest_date__lt=soon).select_related("location")
    past = [
        e.pk
        for e in candidates
        if e.latest_date is not None and e.latest_date < timezone.localtime(now, e.location.tz).date()
    ]
    if not past:
        return 0
    with transaction.atomic():
        closed = close_offers(WaitlistOffer.objects.open().filter(entry_id__in=past), OfferStatus.EXPIRED, now)
        count = WaitlistEntry.objects.filter(
            pk__in=past, status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED]
        ).update(status=WaitlistStatus.EXPIRED, closed_at=now, close_reason="the last date has passed")
        offer_to_next(closed, now)  # after the entries closed, so they are not offered again
    return count
