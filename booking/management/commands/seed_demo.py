"""Fill the database with a believable two-location TPI clinic for demos and manual testing.

Every row is found by a natural key before it is written, so running the command again
updates rows instead of adding duplicates. Demo appointments (the next two weeks, about a
third full) are booked through booking/services/ like any other booking, and only when there
are none yet. The data is in booking/management/demo_data.py, the activity in demo_activity.py.
"""

from datetime import datetime, time, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from booking.management import demo_activity
from booking.management.demo_data import (
    BOOKING_RULES,
    DEMO_DEVICE,
    DEMO_PATIENT,
    DEMO_PROVIDER,
    DEMO_USERS,
    LOCATIONS,
    PROVIDERS,
    RIVERSIDE,
    TIME_OFF_PROVIDER,
    TIME_OFF_REASON,
    VISIT_TYPES,
    demo_patients,
    email_local_part,
    upcoming_holidays,
)
from booking.models import Appointment, WaitlistEntry
from clinic import roles
from clinic.models import Closure, Location, Provider, Room, TimeOff, VisitType, Weekday, WorkingHours
from patients.models import Patient, ProcedureRecord

M = TypeVar("M", bound=models.Model)


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
        demo_activity.seed_appointments()
        demo_activity.seed_procedure_records()
        demo_activity.seed_waitlist()
        demo_activity.seed_screenings()
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
            user.email = f"{email_local_part(first_name, last_name)}@example.com"
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
        counts.append((Appointment, "appointments"))
        counts.append((ProcedureRecord, "procedure records"))
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


def _demo_authenticator(user: Any) -> None:
    """A confirmed TOTP device for a demo staff login (its code: `manage.py totp_code <username>`)."""
    TOTPDevice.objects.get_or_create(user=user, name=DEMO_DEVICE, defaults={"confirmed": True})
