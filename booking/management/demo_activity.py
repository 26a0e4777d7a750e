"""The demo clinic's activity, written through the services like any other: appointments over the
next two weeks, procedure records with a pain trend, waitlist entries and safety screenings.

Each step does nothing when its rows exist already, so seed_demo can run again.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from booking import services
from booking.errors import BookingError
from booking.management.demo_data import DEMO_PATIENT, DEMO_PROVIDER, RIVERSIDE
from booking.models import OCCUPYING, Appointment, WaitlistEntry
from booking.scheduling.availability import STAFF_POLICY
from booking.scheduling.loading import find_slots
from booking.services import InjectateInput, SiteInput, record_procedure
from clinic.models import Location, Provider, VisitKind, VisitType
from patients.models import Muscle, Patient, ProcedureRecord, Screening, Substance
from patients.services import approve_screening, record_screening


def seed_appointments(days: int = 14, share: float = 0.35) -> None:
    """Book about a third of the free slots of the next two weeks, through the booking service."""
    if Appointment.objects.exists():
        return
    rng = random.Random(20261207)  # noqa: S311 - demo data, reproducible
    desk = get_user_model().objects.get(username="desk")
    patients = list(Patient.objects.order_by("pk"))
    for location in Location.objects.order_by("pk"):
        first = timezone.localdate(timezone=location.tz) + timedelta(days=1)
        for visit_type in VisitType.objects.filter(kind__in=[VisitKind.EVALUATION, VisitKind.PROCEDURE]):
            slots = find_slots(
                visit_type=visit_type,
                location=location,
                first_day=first,
                last_day=first + timedelta(days=days - 1),
                policy=STAFF_POLICY,
            )
            for slot in rng.sample(slots, int(len(slots) * share / 3)):
                try:
                    services.book_appointment(
                        patient=rng.choice(patients),
                        provider=Provider.objects.get(pk=slot.provider_id),
                        visit_type=visit_type,
                        location=location,
                        start=slot.start,
                        by=desk,
                        policy=STAFF_POLICY,
                    )
                except BookingError:
                    continue  # taken by an earlier demo booking, or the patient is busy then


def seed_procedure_records() -> None:
    """Four patients of the demo provider with three recorded sessions each (six, four and two
    weeks ago, pain easing), and a session today; booked and recorded through the services."""
    if ProcedureRecord.objects.exists():
        return
    desk = get_user_model().objects.get(username="desk")
    provider = Provider.objects.get(display_name=DEMO_PROVIDER)
    location = Location.objects.get(name=RIVERSIDE)
    visit_type = VisitType.objects.get(slug="tpi-session")
    first_name, last_name = DEMO_PATIENT
    demo_patient = Patient.objects.get(first_name=first_name, last_name=last_name)
    patients = [demo_patient, *Patient.objects.exclude(pk=demo_patient.pk).order_by("pk")[:3]]
    muscles = {m.name: m for m in Muscle.objects.all()}
    plans = [  # (muscles, injected?) per patient
        (["Trapezius", "Levator scapulae", "Rhomboids"], True),
        (["Quadratus lumborum", "Gluteus medius"], True),
        (["Piriformis"], False),
        (["Masseter", "Temporalis", "Sternocleidomastoid"], False),
    ]
    pains = [(8, 5), (6, 3), (5, 2)]
    lidocaine = InjectateInput(
        substance=Substance.LOCAL_ANAESTHETIC, name="lidocaine", strength_percent=Decimal(1), volume_ml=Decimal(4)
    )
    today = timezone.localdate(timezone=location.tz)
    monday = today - timedelta(days=today.weekday())  # the demo provider works Mon/Wed/Fri here

    def free_on(day: date, now: datetime) -> list[Any]:
        return find_slots(
            visit_type=visit_type,
            location=location,
            first_day=day,
            last_day=day,
            provider_ids=[provider.pk],
            policy=STAFF_POLICY,
            now=now,
        )

    for index, (patient, (names, injected)) in enumerate(zip(patients, plans, strict=True)):
        sites = [
            SiteInput(muscle=muscles[name], side="both" if k == 0 else "left", injections=2)
            for k, name in enumerate(names)
            if name in muscles
        ]
        for weeks, (before, after) in zip((6, 4, 2), pains, strict=True):
            day = monday - timedelta(weeks=weeks)
            slots = free_on(day, datetime.combine(day - timedelta(days=3), time(0), tzinfo=location.tz))
            if len(slots) <= index or not sites:
                continue
            start = slots[index * 2].start if len(slots) > index * 2 else slots[index].start
            try:
                visit = services.book_appointment(
                    patient=patient,
                    provider=provider,
                    visit_type=visit_type,
                    location=location,
                    start=start,
                    by=desk,
                    policy=STAFF_POLICY,
                    now=start - timedelta(days=3),
                )
            except BookingError:
                continue
            record_procedure(
                appointment=visit,
                sites=sites,
                injectates=[lidocaine] if injected else [],
                pain_before=before + index % 2,
                pain_after=after,
                by=provider.user,
                notes="Demo record.",
                now=start + timedelta(minutes=25),
            )
        # Today, from the start of the day, so the provider's list has someone to record.
        midnight = datetime.combine(today, time(0), tzinfo=location.tz)
        for slot in free_on(today, midnight - timedelta(days=1))[index * 3 :: 12][:1]:
            try:
                services.book_appointment(
                    patient=patient,
                    provider=provider,
                    visit_type=visit_type,
                    location=location,
                    start=slot.start,
                    by=desk,
                    policy=STAFF_POLICY,
                    now=midnight - timedelta(days=1),
                )
            except BookingError:
                continue  # the patient has another demo visit then


def seed_waitlist(per_location: int = 6) -> None:
    """A few patients waiting for a procedure at each location, some mornings or afternoons only."""
    if WaitlistEntry.objects.exists():
        return
    desk = get_user_model().objects.get(username="desk")
    patients = list(Patient.objects.order_by("-pk")[: per_location * 2])
    parts: tuple[list[str], ...] = ([], ["morning"], ["afternoon"])
    for index, location in enumerate(Location.objects.order_by("pk")):
        visit_type = VisitType.objects.filter(kind=VisitKind.PROCEDURE, providers__locations=location).first()
        if visit_type is None:
            continue
        for number, patient in enumerate(patients[index * per_location : (index + 1) * per_location]):
            try:
                services.add_to_waitlist(
                    patient=patient,
                    visit_type=visit_type,
                    location=location,
                    parts_of_day=parts[number % 3],
                    by=desk,
                )
            except BookingError:
                continue


def seed_screenings() -> None:
    """Safety answers for the patients with a procedure visit coming up: most say no to
    everything; a few carry flags (an approved blood thinner, fear of needles, latex), and one
    patient without a visit waits in the desk's review queue."""
    if Screening.objects.exists():
        return
    desk = get_user_model().objects.get(username="desk")
    upcoming = (
        Appointment.objects.filter(
            visit_type__kind=VisitKind.PROCEDURE, status__in=OCCUPYING, start__gte=timezone.now()
        )
        .order_by("start")
        .select_related("patient")
    )
    flagged: list[dict[str, Any]] = [
        {"blood_thinner": True, "blood_thinner_names": "apixaban (Eliquis)"},
        {"needle_fear": True, "notes": "Fainted once at a blood draw."},
        {"latex_allergy": True},
    ]
    seen: set[int] = set()
    for appointment in upcoming:
        if appointment.patient_id in seen:
            continue
        seen.add(appointment.patient_id)
        answers = flagged[len(seen) - 1] if len(seen) <= len(flagged) else {}
        screening = record_screening(patient=appointment.patient, by=None, answers=answers, appointment=appointment)
        if screening.blocks_online_booking:
            approve_screening(screening=screening, by=desk, note="Discussed with the provider: hold for 2 days.")
    waiting = Patient.objects.exclude(pk__in=seen).order_by("pk").first()
    if waiting is not None:
        record_screening(
            patient=waiting, by=None, answers={"infection_near_site": True, "notes": "Red skin on the neck."}
        )
