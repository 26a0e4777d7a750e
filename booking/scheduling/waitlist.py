"""The waitlist's rules as plain functions: which entries a time fits, how long an offer stays
open, and the offer link's token. Writes live in booking/services/waitlist/.

Times of day are the location's local wall time: a "morning" entry matches a visit that starts
before 12:00 where the clinic is, whatever the server's zone.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import salted_hmac

from booking.models import PartOfDay

NOON = time(12)
EVENING = time(17)
# An offer shorter than this is not worth sending: nobody could act on it.
MIN_OFFER_WINDOW = timedelta(minutes=15)
_TOKEN_SALT = "booking.waitlist.offer-token"  # noqa: S105 - an HMAC salt, not a secret


@dataclass(frozen=True)
class Wish:
    """What an entry asks for, beyond visit type, location and provider."""

    earliest_date: date | None = None
    latest_date: date | None = None
    parts_of_day: Sequence[str] = ()
    time_from: time | None = None
    time_to: time | None = None


def part_of_day(start: time) -> str:
    if start < NOON:
        return PartOfDay.MORNING
    if start < EVENING:
        return PartOfDay.AFTERNOON
    return PartOfDay.EVENING


def fits(wish: Wish, local_start: datetime, local_end: datetime) -> bool:
    """Whether a visit from local_start to local_end (both in the location's zone) suits the wish.

    Dates are the visit's local date; parts of day go by its start; a from-to window must hold the
    whole visit.
    """
    day = local_start.date()
    if wish.earliest_date and day < wish.earliest_date:
        return False
    if wish.latest_date and day > wish.latest_date:
        return False
    if wish.parts_of_day and part_of_day(local_start.time()) not in wish.parts_of_day:
        return False
    if wish.time_from and local_start.time() < wish.time_from:
        return False
    return not (wish.time_to and (local_end.date() > day or local_end.time() > wish.time_to))


def closes_at(start: datetime, min_notice_minutes: int) -> datetime:
    """The last moment an offer of a visit at `start` may be taken: the cut-off before the visit,
    never inside the visit type's minimum notice (the booking would be refused)."""
    lead = max(settings.WAITLIST_OFFER_CUTOFF_MINUTES, min_notice_minutes)
    return start - timedelta(minutes=lead)


def offer_expiry(*, sent_at: datetime, start: datetime, min_notice_minutes: int) -> datetime | None:
    """When an offer whose message goes at `sent_at` runs out: WAITLIST_OFFER_MINUTES after the
    message, but never later than the cut-off; None if that leaves too little time to act."""
    expires = min(sent_at + timedelta(minutes=settings.WAITLIST_OFFER_MINUTES), closes_at(start, min_notice_minutes))
    return expires if expires - sent_at >= MIN_OFFER_WINDOW else None


# --- the link's token ---------------------------------------------------------------------------


def new_nonce() -> str:
    return secrets.token_hex(16)


def offer_token(nonce: str) -> str:
    """The link's token: an HMAC of the offer's nonce with the server's secret key (43 characters).

    Derived rather than stored, so the worker that sends the message can write the link while the
    database keeps only its hash.
    """
    digest = salted_hmac(_TOKEN_SALT, nonce, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def offer_url(nonce: str) -> str:
    """The absolute link the patient opens to see and take the offer."""
    return settings.SITE_URL + reverse("booking:waitlist_offer_link", args=[offer_token(nonce)])
