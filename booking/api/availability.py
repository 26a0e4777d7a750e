"""Free times in the JSON API: what a caller could book, by visit type, location and dates."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from ninja.errors import HttpError

from booking.api.lookups import fetch_or_404, policy_for
from booking.api.schemas import AvailabilityOut, AvailabilityQuery
from booking.errors import BookingError
from booking.scheduling.availability import MAX_RANGE_DAYS
from booking.scheduling.loading import find_slots, slots_json
from clinic.api import ErrorOut, current_user
from clinic.models import Location, VisitType

router = Router()


@router.get("availability", response={200: AvailabilityOut, 400: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def availability(request: HttpRequest, query: Query[AvailabilityQuery]) -> Any:
    if query.end < query.start:
        raise HttpError(400, "end must be on or after start.")
    if (query.end - query.start).days >= MAX_RANGE_DAYS:
        raise HttpError(400, f"A range covers at most {MAX_RANGE_DAYS} days.")
    user = current_user(request)
    visit_type, location = fetch_or_404(
        (VisitType, {"slug": query.visit_type, "is_active": True}),
        (Location, {"pk": query.location, "is_active": True}),
    )
    policy = policy_for(user)
    if policy.online_only and not visit_type.bookable_online:
        # Listing times a patient could not book would break "a slot shown is a slot you can get".
        raise BookingError("not_bookable_online", "This visit cannot be booked online; please call the clinic.")
    slots = find_slots(
        visit_type=visit_type,
        location=location,
        first_day=query.start,
        last_day=query.end,
        provider_ids=query.provider or None,
        policy=policy,
    )
    head = json.dumps({"location": location.pk, "timezone": location.timezone, "visit_type": visit_type.slug})
    # Thousands of slots: written straight to JSON rather than validated and encoded one by one.
    return HttpResponse(f'{head[:-1]}, "slots": {slots_json(slots, location.tz)}}}', content_type="application/json")
