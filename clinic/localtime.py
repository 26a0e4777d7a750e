"""Instants as people at a location read them: the local date and time with the zone's abbreviation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import dateformat


def local_text(instant: datetime, tz: ZoneInfo, fmt: str = "D j M Y, H:i T") -> str:
    """ "Mon 7 Dec 2026, 09:00 EST": `instant` in the zone `tz`, in Django's date format `fmt`."""
    return dateformat.format(instant.astimezone(tz), fmt)
