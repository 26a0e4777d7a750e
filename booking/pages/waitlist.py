"""Waitlist entries as both the desk and the patient see them: each with its open offers and wishes as text."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from booking.models import PartOfDay, WaitlistEntry, WaitlistEntryQuerySet, WaitlistOffer
from booking.services.waitlist import open_offers_by_entry
from clinic.localtime import local_text


@dataclass
class OfferRow:
    """One offer made to an entry, its times in the location's zone."""

    offer: WaitlistOffer
    when: str
    expires: str
    url: str = ""  # the patient's own link to the offer (their page only)


@dataclass
class WaitlistRow:
    """An entry as a page shows it. `flags` and `needs_review` are the desk's (the latest screening);
    `open_offers` the patient's own (with their links)."""

    entry: WaitlistEntry
    offers: list[OfferRow]
    since: str
    parts_text: str
    flags: list[str] = field(default_factory=list)
    needs_review: bool = False
    open_offers: list[OfferRow] = field(default_factory=list)


def waitlist_entries() -> WaitlistEntryQuerySet:
    return WaitlistEntry.objects.select_related("patient", "visit_type", "location", "provider")


def waitlist_rows(entries: list[WaitlistEntry]) -> list[WaitlistRow]:
    """Entries with their offers (one query) and their wishes as text, in the location's time."""
    offers = open_offers_by_entry(e.pk for e in entries)
    return [
        WaitlistRow(
            entry=entry,
            offers=[
                OfferRow(
                    offer=offer,
                    when=local_text(offer.start, offer.location.tz),
                    expires=local_text(offer.expires_at, offer.location.tz),
                )
                for offer in offers.get(entry.pk, [])
            ],
            since=timezone.localtime(entry.created_at, entry.location.tz).date().isoformat(),
            parts_text=", ".join(str(label) for value, label in PartOfDay.choices if value in entry.parts_of_day),
        )
        for entry in entries
    ]
