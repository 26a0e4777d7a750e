"""The waitlist's writes: join and leave it (entries.py), offer a freed time (offers.py), take an
offer (acceptance.py).

Whoever accepts an offer first gets the time through book_appointment, so the no-double-booking
guarantee is the booking service's. Offers run out by the beat sweep expire_waitlist_offers, which
offers a time still free to the next entries in line. docs/waitlist.md has the reasons.
"""

from booking.services.waitlist.acceptance import accept_offer, alternatives_for, offer_for_token
from booking.services.waitlist.entries import add_to_waitlist, expire_waitlist_offers, withdraw_from_waitlist
from booking.services.waitlist.offers import (
    matching_entries,
    offer_after_cancellation,
    offer_freed_slot,
    offer_slot_to_entry,
    open_offers_by_entry,
)

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
