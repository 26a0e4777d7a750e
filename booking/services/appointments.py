"""Booking, holding, moving, cancelling and the status changes of single appointments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from booking.errors import BookingError, InvalidTransition, SlotTaken
from booking.messaging import planning
from booking.models import Appointment, EventAction, Series, Status
from booking.scheduling.availability import PATIENT_POLICY, Policy
from booking.services import write_path as wp
from clinic.models import Location, Provider, VisitType
from patients.models import Patient


def book_appointment(
    *,
    patient: Patient,
    provider: Provider,
    visit_type: VisitType,
    location: Location,
    start: datetime,
    by: User | None,
    policy: Policy = PATIENT_POLICY,
    hold: bool = False,
    series: Series | None = None,
    session_number: int | None = None,
    notes: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Book (or, with hold=True, briefly hold) one visit; SlotTaken carries alternatives."""
    now = now or timezone.now()
    start = wp.utc_start(start)
    wp.check_offer(provider, visit_type, location, policy, query=False)
    rooms_at = location if visit_type.needs_room else None

    def write() -> Appointment:
        wp.lock([provider.pk], rooms_at)
        place = wp.placement_for(
            provider=provider,
            visit_type=visit_type,
            location=location,
            start=start,
            policy=policy,
            now=now,
            patient_id=patient.pk,
        )
        appointment = Appointment.objects.create(
            patient=patient,
            provider=provider,
            location=location,
            visit_type=visit_type,
            room_id=place.room_id,
            start=place.start,
            end=place.end,
            block_start=place.block_start,
            block_end=place.block_end,
            status=Status.HELD if hold else Status.BOOKED,
            hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES) if hold else None,
            series=series,
            session_number=session_number,
            notes=notes,
            created_by=by,
        )
        wp.record(appointment, EventAction.HELD if hold else EventAction.BOOKED, by=by, now=now)
        if not hold:
            planning.schedule_for(appointment, now=now, new=True)
        return appointment

    try:
        return wp.write(write)
    except SlotTaken as exc:
        raise wp.with_alternatives(
            exc, provider=provider, visit_type=visit_type, location=location, start=start, policy=policy, now=now
        ) from exc.__cause__


def confirm_hold(*, appointment: Appointment, by: User | None, now: datetime | None = None) -> Appointment:
    """Turn a live hold into a booking; a hold that ran out must be picked again."""
    now = now or timezone.now()

    def write() -> Appointment:
        confirmed = Appointment.objects.filter(pk=appointment.pk, status=Status.HELD, hold_expires_at__gt=now).update(
            status=Status.BOOKED, hold_expires_at=None, updated_at=now
        )
        appointment.refresh_from_db()
        if not confirmed:
            if appointment.status == Status.BOOKED:
                return appointment  # a double submit: already confirmed
            raise BookingError(
                "hold_expired", "The time was held for you for a few minutes only; please pick it again."
            )
        wp.record(appointment, EventAction.CONFIRMED, by=by, now=now, from_status=Status.HELD)
        planning.schedule_for(appointment, now=now)
        return appointment

    return wp.write(write)


def move_appointment(
    *,
    appointment: Appointment,
    start: datetime,
    by: User | None,
    provider: Provider | None = None,
    policy: Policy = PATIENT_POLICY,
    reason: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Move a held or booked visit to another time (and optionally provider), atomically."""
    now = now or timezone.now()
    start = wp.utc_start(start)
    new_provider = provider or appointment.provider
    visit_type, location = appointment.visit_type, appointment.location
    wp.check_offer(new_provider, visit_type, location, policy, query=False)
    rooms_at = location if visit_type.needs_room else None

    def write() -> Appointment:
        wp.lock([appointment.provider_id, new_provider.pk], rooms_at)
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if current.status not in (Status.HELD, Status.BOOKED):
            raise InvalidTransition(f"A {current.get_status_display().lower()} appointment cannot be moved.")
        if current.start == start and current.provider_id == new_provider.pk:
            return current  # already there (a double submit): nothing to write, no second message
        place = wp.placement_for(
            provider=new_provider,
            visit_type=visit_type,
            location=location,
            start=start,
            policy=policy,
            now=now,
            patient_id=current.patient_id,
            exclude_appointment_id=current.pk,
        )
        wp.move_row(current, new_provider, place, by=by, now=now, reason=reason)
        return current

    try:
        moved = wp.write(write)
    except SlotTaken as exc:
        raise wp.with_alternatives(
            exc, provider=new_provider, visit_type=visit_type, location=location, start=start, policy=policy, now=now
        ) from exc.__cause__
    appointment.refresh_from_db()
    return moved


# --- status changes ---------------------------------------------------------------------------


def _transition(
    appointment: Appointment,
    *,
    to: Status,
    allowed_from: tuple[Status, ...],
    action: str,
    by: User | None,
    now: datetime,
    reason: str = "",
    extra: dict[str, Any] | None = None,
    after: Callable[[Appointment], None] | None = None,
) -> Appointment:
    """Compare-and-swap the status, so two clicks or two clerks cannot both apply a change."""

    def write() -> Appointment:
        before = Appointment.objects.filter(pk=appointment.pk).values_list("status", flat=True).first()
        changed = Appointment.objects.filter(pk=appointment.pk, status__in=allowed_from).update(
            status=to, updated_at=now, **(extra or {})
        )
        if not changed:
            label = Status(before).label.lower() if before else "missing"
            raise InvalidTransition(f"This appointment is {label}; it cannot be marked {to.label.lower()}.")
        appointment.refresh_from_db()
        wp.record(appointment, action, by=by, now=now, from_status=before or "", reason=reason)
        if after is not None:
            after(appointment)  # side effects of the change (messages), in the same transaction
        return appointment

    return wp.write(write)


def cancel_appointment(
    *, appointment: Appointment, by: User | None, reason: str, now: datetime | None = None
) -> Appointment:
    """Cancel a held or booked visit and free its time; the reason is kept."""
    reason = reason.strip()[:200]
    if not reason:
        raise BookingError("reason_required", "Please give a reason for the cancellation.")
    now = now or timezone.now()
    return _transition(
        appointment,
        to=Status.CANCELLED,
        allowed_from=(Status.HELD, Status.BOOKED),
        action=EventAction.CANCELLED,
        by=by,
        now=now,
        reason=reason,
        extra={"cancel_reason": reason},
        after=lambda cancelled: _after_cancel(cancelled, now),
    )


def _after_cancel(appointment: Appointment, now: datetime) -> None:
    """In the cancellation's transaction: stop its messages, and offer the freed time to the
    waitlist (a rolled-back cancellation offers nothing; docs/waitlist.md)."""
    from booking.services.waitlist.offers import offer_after_cancellation  # waitlist books through this module

    planning.cancel_for(appointment, now=now)
    offer_after_cancellation(appointment, now=now)


def check_in(*, appointment: Appointment, by: User | None, now: datetime | None = None) -> Appointment:
    """Mark the patient as arrived; only on the day of the visit."""
    now = now or timezone.now()
    tz = appointment.location.tz
    if timezone.localtime(now, tz).date() != timezone.localtime(appointment.start, tz).date():
        raise BookingError("not_today", "Patients can be checked in on the day of their visit only.")
    return _transition(
        appointment, to=Status.CHECKED_IN, allowed_from=(Status.BOOKED,), action=EventAction.CHECKED_IN, by=by, now=now
    )


def mark_no_show(*, appointment: Appointment, by: User | None, now: datetime | None = None) -> Appointment:
    """Record that the patient did not come; only once the visit's start has passed."""
    now = now or timezone.now()
    if now < appointment.start:
        raise BookingError("not_started", "A visit can be marked as a no-show only after its start time.")
    return _transition(
        appointment, to=Status.NO_SHOW, allowed_from=(Status.BOOKED,), action=EventAction.NO_SHOW, by=by, now=now
    )


def complete_appointment(*, appointment: Appointment, by: User | None, now: datetime | None = None) -> Appointment:
    """Close a visit that took place (the provider saved the procedure record)."""
    now = now or timezone.now()
    if now < appointment.start:
        raise BookingError("not_started", "A visit can be completed only after it has started.")
    return _transition(
        appointment,
        to=Status.COMPLETED,
        allowed_from=(Status.BOOKED, Status.CHECKED_IN),
        action=EventAction.COMPLETED,
        by=by,
        now=now,
        after=lambda done: planning.aftercare_for(done, now=now),
    )


def expire_holds(*, now: datetime | None = None) -> int:
    """Sweep: release every hold that ran out. Returns how many."""
    now = now or timezone.now()
    count = 0
    for appointment in Appointment.objects.expired_holds(now):
        with transaction.atomic():
            if Appointment.objects.filter(pk=appointment.pk, status=Status.HELD).update(
                status=Status.EXPIRED, updated_at=now
            ):
                appointment.status = Status.EXPIRED
                wp.record(
                    appointment, EventAction.EXPIRED, by=None, now=now, from_status=Status.HELD, reason="hold expired"
                )
                count += 1
    return count
