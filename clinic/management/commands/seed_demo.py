"""Fill the database with a believable two-location TPI clinic for demos and manual testing.

Every row is found by a natural key before it is written, so running the command again
updates rows instead of adding duplicates. Demo appointments (the next two weeks, about a
third full) are booked through booking/services/ like any other booking, and only when there
are none yet.
"""

import random
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import roles
from clinic.models import Closure, Location, Provider, Room, TimeOff, VisitKind, VisitType, Weekday, WorkingHours
from patients.models import Language, Patient, ReminderChannel

M = TypeVar("M", bound=models.Model)

RIVERSIDE = "Riverside Pain Clinic"
ROCKET_CITY = "Rocket City Pain & Spine"

# Two clinics about two hours apart by road, on either side of the Eastern/Central line.
LOCATIONS: list[dict[str, Any]] = [
    {
        "name": RIVERSIDE,
        "timezone": "America/New_York",
        "address": "1200 Riverside Drive, Suite 310\nChattanooga, TN 37406",
        "phone": "(423) 555-0100",
        "email": "riverside@example.com",
        "rooms": ["Procedure Room 1", "Procedure Room 2", "Exam Room A"],
    },
    {
        "name": ROCKET_CITY,
        "timezone": "America/Chicago",
        "address": "4800 Whitesburg Drive SW, Suite 200\nHuntsville, AL 35802",
        "phone": "(256) 555-0100",
        "email": "rocketcity@example.com",
        "rooms": ["Procedure Room 1", "Exam Room A"],
    },
]

VISIT_TYPES: list[dict[str, Any]] = [
    {
        "slug": "evaluation",
        "name": "Evaluation",
        "kind": VisitKind.EVALUATION,
        "duration_minutes": 45,
        "buffer_after_minutes": 5,
        "needs_room": True,
    },
    {
        "slug": "tpi-session",
        "name": "Trigger point injection session",
        "kind": VisitKind.PROCEDURE,
        "duration_minutes": 30,
        "buffer_after_minutes": 5,
        "needs_room": True,
    },
    {
        "slug": "follow-up",
        "name": "Follow-up",
        "kind": VisitKind.FOLLOW_UP,
        "duration_minutes": 15,
        "buffer_after_minutes": 0,
        "needs_room": False,
    },
]
BOOKING_RULES = {"min_notice_minutes": 120, "horizon_days": 90, "slot_step_minutes": 15, "bookable_online": True}

MON, TUE, WED, THU, FRI = Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY
ALL_WEEK = (MON, TUE, WED, THU, FRI)


def _day(morning: tuple[str, str], afternoon: tuple[str, str]) -> tuple[tuple[time, time], ...]:
    """A working day with a lunch break: two ranges."""
    return tuple((time.fromisoformat(start), time.fromisoformat(end)) for start, end in (morning, afternoon))


# (display name, credentials, visit type slugs, [(location, weekdays, ranges), ...])
PROVIDERS: list[tuple[str, str, list[str], list[tuple[str, tuple[int, ...], tuple[tuple[time, time], ...]]]]] = [
    (
        "Maria Alvarez",
        "MD",
        ["evaluation", "tpi-session", "follow-up"],
        [
            (RIVERSIDE, (MON, WED, FRI), _day(("08:00", "12:00"), ("13:00", "17:00"))),
            (ROCKET_CITY, (TUE, THU), _day(("08:00", "12:00"), ("13:00", "16:30"))),
        ],
    ),
    (
        "James Whitfield",
        "DO",
        ["evaluation", "tpi-session", "follow-up"],
        [(RIVERSIDE, ALL_WEEK, _day(("07:30", "11:30"), ("12:30", "16:00")))],
    ),
    (
        "Priya Raman",
        "NP",
        ["evaluation", "tpi-session", "follow-up"],
        [(RIVERSIDE, ALL_WEEK, _day(("09:00", "12:30"), ("13:30", "17:30")))],
    ),
    (
        "Daniel Okafor",
        "MD",
        ["evaluation", "tpi-session", "follow-up"],
        [
            (ROCKET_CITY, (MON, TUE, WED, THU), _day(("08:00", "12:00"), ("13:00", "17:00"))),
            (ROCKET_CITY, (FRI,), _day(("08:00", "12:00"), ("12:45", "15:00"))),
        ],
    ),
    (
        "Hannah Kowalski",
        "NP",
        ["tpi-session", "follow-up"],
        [
            (ROCKET_CITY, (MON, WED, FRI), _day(("08:30", "12:00"), ("12:45", "16:30"))),
            (RIVERSIDE, (TUE, THU), _day(("09:30", "12:30"), ("13:15", "17:00"))),
        ],
    ),
]

TIME_OFF_PROVIDER = "James Whitfield"
TIME_OFF_REASON = "CME conference (demo)"

ENGLISH_SPEAKERS = [
    ("Laura", "Bennett"), ("Michael", "Thompson"), ("Jennifer", "Walsh"), ("Robert", "Hayes"),
    ("Linda", "Carter"), ("David", "Nguyen"), ("Susan", "Patel"), ("William", "Brooks"),
    ("Karen", "O'Neill"), ("Thomas", "Reed"), ("Nancy", "Kim"), ("Christopher", "Bailey"),
    ("Lisa", "Chen"), ("Matthew", "Foster"), ("Betty", "Coleman"), ("Anthony", "Russo"),
    ("Sandra", "Jenkins"), ("Mark", "Sullivan"), ("Ashley", "Powell"), ("Steven", "Murphy"),
    ("Kimberly", "Price"), ("Paul", "Henderson"), ("Donna", "Wright"), ("Kevin", "Doyle"),
    ("Michelle", "Fisher"), ("Brian", "Washington"), ("Emily", "Stewart"), ("George", "Petrov"),
    ("Amanda", "Hughes"), ("Joshua", "Palmer"), ("Melissa", "Grant"), ("Ryan", "Hoffman"),
    ("Deborah", "Young"), ("Jason", "Abernathy"), ("Stephanie", "Lowe"), ("Gregory", "Bishop"),
    ("Rebecca", "Stein"), ("Tyrone", "Jackson"), ("Megan", "Callahan"), ("Nicole", "Ramirez"),
]  # fmt: skip
SPANISH_SPEAKERS = [
    ("José", "Hernández"), ("Guadalupe", "Ramírez"), ("Juan Carlos", "Martínez"), ("Carmen", "López"),
    ("Luis", "Gutiérrez"), ("Ana Sofía", "Torres"), ("Jorge", "Castillo"), ("Rosa", "Morales"),
    ("Miguel Ángel", "Reyes"), ("Lucía", "Flores"), ("Alejandro", "Jiménez"), ("Verónica", "Cruz"),
    ("Francisco", "Medina"), ("Beatriz", "Salazar"), ("Raúl", "Domínguez"), ("Marisol", "Vargas"),
    ("Héctor", "Aguilar"), ("Elena", "Castañeda"), ("Ramón", "Espinoza"), ("Yolanda", "Navarro"),
]  # fmt: skip
EMERGENCY_CONTACT_FIRST_NAMES = ["Chris", "Pat", "Sam", "Jordan", "Alex", "Taylor", "Morgan", "Jamie"]
REMINDER_CYCLE = [ReminderChannel.EMAIL, ReminderChannel.SMS, ReminderChannel.BOTH, ReminderChannel.SMS]
# Phones are in the 555-0100..0199 block that US numbering reserves for fiction, in each
# clinic's real area code, so a demo text can never reach a real person.
AREA_CODES = ["423", "256"]

# (username, first name, last name, role, is_staff, password). Demo only: the command
# refuses to run in production, and prints these at the end.
DEMO_USERS = [
    ("admin", "Alex", "Morgan", roles.CLINIC_ADMIN, True, "admin-demo-only"),
    ("desk", "Dana", "Brooks", roles.FRONT_DESK, False, "desk-demo-only"),
    ("provider", "Maria", "Alvarez", roles.PROVIDER, False, "provider-demo-only"),
    ("patient", "Laura", "Bennett", roles.PATIENT, False, "patient-demo-only"),
]
DEMO_PROVIDER = "Maria Alvarez"
DEMO_PATIENT = ("Laura", "Bennett")


def _observed(day: date) -> date:
    """US rule: a holiday on Saturday is kept on Friday, one on Sunday on Monday."""
    if day.weekday() == Weekday.SATURDAY:
        return day - timedelta(days=1)
    if day.weekday() == Weekday.SUNDAY:
        return day + timedelta(days=1)
    return day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def us_clinic_holidays(year: int) -> list[tuple[date, date, str]]:
    """The federal holidays a small clinic usually closes for, as (first day, last day, name)."""
    thanksgiving = _nth_weekday(year, 11, Weekday.THURSDAY, 4)
    return [
        (_observed(date(year, 1, 1)), _observed(date(year, 1, 1)), "New Year's Day"),
        (_last_weekday(year, 5, Weekday.MONDAY), _last_weekday(year, 5, Weekday.MONDAY), "Memorial Day"),
        (_observed(date(year, 7, 4)), _observed(date(year, 7, 4)), "Independence Day"),
        (_nth_weekday(year, 9, Weekday.MONDAY, 1), _nth_weekday(year, 9, Weekday.MONDAY, 1), "Labor Day"),
        (thanksgiving, thanksgiving + timedelta(days=1), "Thanksgiving"),
        (_observed(date(year, 12, 25)), _observed(date(year, 12, 25)), "Christmas Day"),
    ]


def upcoming_holidays(today: date, count: int = 3) -> list[tuple[date, date, str]]:
    """The next `count` clinic holidays starting after today."""
    candidates = us_clinic_holidays(today.year) + us_clinic_holidays(today.year + 1)
    return sorted(h for h in candidates if h[0] > today)[:count]


def _email_local_part(first_name: str, last_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", f"{first_name}.{last_name}").encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum() or ch == ".")


def demo_patients() -> list[dict[str, Any]]:
    """Sixty patients, every third one Spanish-speaking; all values fixed, none random."""
    people = []
    for k in range(len(SPANISH_SPEAKERS)):
        people += [(*ENGLISH_SPEAKERS[2 * k], Language.ENGLISH), (*ENGLISH_SPEAKERS[2 * k + 1], Language.ENGLISH)]
        people.append((*SPANISH_SPEAKERS[k], Language.SPANISH))
    patients = []
    for i, (first_name, last_name, language) in enumerate(people):
        area = AREA_CODES[i % 2]
        has_email = i % 10 != 7
        channel = REMINDER_CYCLE[i % len(REMINDER_CYCLE)] if has_email else ReminderChannel.SMS
        if i % 20 == 19:
            channel = ReminderChannel.NONE
        patient = {
            "first_name": first_name,
            "last_name": last_name,
            "date_of_birth": date(1948 + (i * 17) % 53, (i * 5) % 12 + 1, (i * 11) % 28 + 1),
            "phone": f"+1{area}5550{101 + i}",
            "email": f"{_email_local_part(first_name, last_name)}@example.com" if has_email else "",
            "preferred_language": language,
            "reminder_channel": channel,
            "emergency_contact_name": "",
            "emergency_contact_phone": "",
        }
        if i % 4 == 0:
            contact_first = EMERGENCY_CONTACT_FIRST_NAMES[(i // 4) % len(EMERGENCY_CONTACT_FIRST_NAMES)]
            patient["emergency_contact_name"] = f"{contact_first} {last_name}"
            patient["emergency_contact_phone"] = f"+1{area}5550{170 + i // 4}"
        patients.append(patient)
    return patients


def _upsert(
    model: type[M], lookup: dict[str, Any], values: dict[str, Any], existing: dict[tuple[Any, ...], M] | None = None
) -> M:
    """Find a row by its natural key (or start a new one), set values, validate and save.

    `existing` holds rows loaded in advance, keyed by the lookup's values (ids for relations),
    to save a query per row when seeding many.
    """
    if existing is None:
        instance = model._default_manager.filter(**lookup).first()
    else:
        instance = existing.get(tuple(v.pk if isinstance(v, models.Model) else v for v in lookup.values()))
    instance = instance or model(**lookup)
    for field, value in values.items():
        setattr(instance, field, value)
    instance.full_clean()
    instance.save()
    return instance


class Command(BaseCommand):
    help = "Create a demo clinic: two locations, rooms, providers and hours, visit types, patients and demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if any location exists (for `make run`)."
        )

    def handle(self, *args: Any, if_empty: bool = False, **options: Any) -> None:
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("seed_demo creates logins with published passwords; it does not run in production.")
        with transaction.atomic():
            if if_empty and Location.objects.exists():
                self.stdout.write("A location exists already; seed_demo --if-empty left the database as it was.")
                return
            locations = self._seed_locations()
            visit_types = self._seed_visit_types()
            providers = self._seed_providers(locations, visit_types)
            self._seed_closures(locations)
            self._seed_time_off(providers[TIME_OFF_PROVIDER], locations[RIVERSIDE])
            self._seed_patients()
            self._seed_users(providers)
        self._seed_appointments()
        self._seed_procedure_records()
        self._seed_waitlist()
        self._seed_screenings()
        self._report()

    def _seed_locations(self) -> dict[str, Location]:
        locations = {}
        for spec in LOCATIONS:
            values = {key: value for key, value in spec.items() if key not in {"name", "rooms"}}
            location = _upsert(Location, {"name": spec["name"]}, {**values, "is_active": True})
            for room_name in spec["rooms"]:
                _upsert(Room, {"location": location, "name": room_name}, {"is_active": True})
            locations[location.name] = location
        return locations

    def _seed_visit_types(self) -> dict[str, VisitType]:
        visit_types = {}
        for spec in VISIT_TYPES:
            values = {key: value for key, value in spec.items() if key != "slug"}
            visit_types[spec["slug"]] = _upsert(
                VisitType, {"slug": spec["slug"]}, {**BOOKING_RULES, **values, "is_active": True}
            )
        return visit_types

    def _seed_providers(self, locations: dict[str, Location], visit_types: dict[str, VisitType]) -> dict[str, Provider]:
        providers = {}
        for display_name, credentials, slugs, schedule in PROVIDERS:
            provider = _upsert(
                Provider, {"display_name": display_name}, {"credentials": credentials, "is_active": True}
            )
            provider.locations.set([locations[name] for name, _days, _ranges in schedule])
            provider.visit_types.set([visit_types[slug] for slug in slugs])
            existing = {(h.provider_id, h.location_id, h.weekday, h.start): h for h in provider.working_hours.all()}
            for location_name, weekdays, ranges in schedule:
                for weekday in weekdays:
                    for start, end in ranges:
                        key = {"provider": provider, "location": locations[location_name], "weekday": weekday}
                        _upsert(WorkingHours, {**key, "start": start}, {"end": end}, existing)
            providers[display_name] = provider
        return providers

    def _seed_closures(self, locations: dict[str, Location]) -> None:
        for location in locations.values():
            today = timezone.localdate(timezone=location.tz)
            for start_date, end_date, reason in upcoming_holidays(today):
                _upsert(
                    Closure, {"location": location, "start_date": start_date}, {"end_date": end_date, "reason": reason}
                )

    def _seed_time_off(self, provider: Provider, location: Location) -> None:
        """Wednesday and Thursday of next week, as whole local days at the provider's clinic."""
        today = timezone.localdate(timezone=location.tz)
        next_wednesday = today - timedelta(days=today.weekday()) + timedelta(days=7 + Weekday.WEDNESDAY)
        start = datetime.combine(next_wednesday, time(0), tzinfo=location.tz)
        end = datetime.combine(next_wednesday + timedelta(days=2), time(0), tzinfo=location.tz)
        _upsert(TimeOff, {"provider": provider, "reason": TIME_OFF_REASON}, {"start": start, "end": end})

    def _seed_patients(self) -> None:
        existing = {(p.first_name, p.last_name, p.date_of_birth): p for p in Patient.objects.all()}
        for spec in demo_patients():
            natural_key = {key: spec.pop(key) for key in ("first_name", "last_name", "date_of_birth")}
            _upsert(Patient, natural_key, spec, existing)

    def _seed_users(self, providers: dict[str, Provider]) -> None:
        user_model = get_user_model()
        for username, first_name, last_name, role, is_staff, password in DEMO_USERS:
            try:
                group = Group.objects.get(name=role)
            except Group.DoesNotExist as missing:
                raise CommandError(f"The {role!r} group is missing; run `manage.py migrate` first.") from missing
            user = user_model.objects.filter(username=username).first() or user_model(username=username)
            user.first_name, user.last_name = first_name, last_name
            user.email = f"{_email_local_part(first_name, last_name)}@example.com"
            user.is_staff, user.is_superuser, user.is_active = is_staff, False, True
            user.set_password(password)
            user.full_clean()
            user.save()
            user.groups.set([group])
            if role != roles.PATIENT:
                _demo_authenticator(user)
        demo_provider = providers[DEMO_PROVIDER]
        demo_provider.user = user_model.objects.get(username="provider")
        demo_provider.save(update_fields=["user"])
        first_name, last_name = DEMO_PATIENT
        demo_patient = Patient.objects.get(first_name=first_name, last_name=last_name)
        demo_patient.user = user_model.objects.get(username="patient")
        demo_patient.save(update_fields=["user", "updated_at"])

    def _seed_appointments(self, days: int = 14, share: float = 0.35) -> None:
        """Book about a third of the free slots of the next two weeks, through the booking service."""
        from booking import services
        from booking.errors import BookingError
        from booking.models import Appointment
        from booking.scheduling.availability import STAFF_POLICY
        from booking.scheduling.loading import find_slots

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

    def _seed_procedure_records(self) -> None:
        """Four patients of the demo provider with three recorded sessions each (six, four and two
        weeks ago, pain easing), and a session today; booked and recorded through the services."""
        from booking import services
        from booking.errors import BookingError
        from booking.scheduling.availability import STAFF_POLICY
        from booking.scheduling.loading import find_slots
        from patients.models import Muscle, ProcedureRecord, Substance
        from patients.services import InjectateInput, SiteInput, record_procedure

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
            substance=Substance.LOCAL_ANAESTHETIC, name="lidocaine", strength_percent=1, volume_ml=4
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

    def _seed_waitlist(self, per_location: int = 6) -> None:
        """A few patients waiting for a procedure at each location, some mornings or afternoons only."""
        from booking import services
        from booking.errors import BookingError
        from booking.models import WaitlistEntry

        if WaitlistEntry.objects.exists():
            return
        desk = get_user_model().objects.get(username="desk")
        patients = list(Patient.objects.order_by("-pk")[: per_location * 2])
        parts = ([], ["morning"], ["afternoon"])
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

    def _seed_screenings(self) -> None:
        """Safety answers for the patients with a procedure visit coming up: most say no to
        everything; a few carry flags (an approved blood thinner, fear of needles, latex), and one
        patient without a visit waits in the desk's review queue."""
        from booking.models import OCCUPYING, Appointment
        from patients.models import Screening
        from patients.services import approve_screening, record_screening

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
        flagged = [
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

    def _report(self) -> None:
        counts = [
            (Location, "locations"),
            (Room, "rooms"),
            (Provider, "providers"),
            (WorkingHours, "working-hour ranges"),
            (VisitType, "visit types"),
            (Closure, "closures"),
            (TimeOff, "time off"),
            (Patient, "patients"),
        ]
        from booking.models import Appointment
        from patients.models import ProcedureRecord

        counts.append((Appointment, "appointments"))
        counts.append((ProcedureRecord, "procedure records"))
        from booking.models import WaitlistEntry

        counts.append((WaitlistEntry, "waitlist entries"))
        summary = ", ".join(f"{model._default_manager.count()} {label}" for model, label in counts)
        self.stdout.write(self.style.SUCCESS(f"Demo clinic ready: {summary}."))
        self.stdout.write("Demo logins (demo only; never use these passwords anywhere real):")
        for username, _first, _last, role, is_staff, password in DEMO_USERS:
            admin_note = ", can use /admin/" if is_staff else ""
            self.stdout.write(f"  {username:<9} {password:<20} {role}{admin_note}")
        self.stdout.write(
            "Staff logins then ask for a two-factor code: `python manage.py totp_code desk` prints it "
            "(development only), or add the demo device to an authenticator app:"
        )
        for device in TOTPDevice.objects.filter(name=DEMO_DEVICE).select_related("user").order_by("user__username"):
            self.stdout.write(f"  {device.user.username:<9} {device.config_url}")


DEMO_DEVICE = "Demo authenticator"


def _demo_authenticator(user: Any) -> None:
    """A confirmed TOTP device for a demo staff login (its code: `manage.py totp_code <username>`)."""
    TOTPDevice.objects.get_or_create(user=user, name=DEMO_DEVICE, defaults={"confirmed": True})
