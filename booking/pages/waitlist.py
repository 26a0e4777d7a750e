"""Waitlist entries as both the desk and the patient see them: each with its open offers and wishes as text."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from booking.models import PartOfDay, WaitlistEntry
from booking.services.waitlist import open_offers_by_entry
from clinic.localtime import local_text


def waitlist_entries() -> Any:
    return WaitlistEntry.objects.select_related("patient", "visit_type", "location", "provider")


def waitlist_rows(entries: list[WaitlistEntry]) -> list[WaitlistEntry]:
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
