"""Small builders with fixed defaults; pass keyword arguments to change what a test cares about.

Each call creates a row. Fields that must be unique (a location's name, a visit type's slug,
a username) have fixed defaults, so pass a new value when a test needs a second one.
"""

import time as clock
from collections.abc import Iterable
from datetime import date, time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group, Permission
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.sessions import staff_rules_apply
from clinic import roles
from clinic.models import Location, Provider, Room, VisitKind, VisitType, Weekday, WorkingHours
from patients.models import Language, Muscle, Patient

DEFAULT_PASSWORD = "correct-horse-battery"


def make_location(**overrides: Any) -> Location:
    values: dict[str, Any] = {
        "name": "Riverside Pain Clinic",
        "timezone": "America/New_York",
        "address": "1200 Riverside Drive\nChattanooga, TN 37406",
        "phone": "(423) 555-0100",
        "email": "riverside@example.com",
        **overrides,
    }
    return Location.objects.create(**values)


def make_room(location: Location | None = None, **overrides: Any) -> Room:
    values: dict[str, Any] = {"name": "Procedure Room 1", **overrides}
    return Room.objects.create(location=location or make_location(), **values)


def make_visit_type(**overrides: Any) -> VisitType:
    """A 30-minute TPI session with 5 minutes to tidy the room afterwards."""
    values: dict[str, Any] = {
        "slug": "tpi-session",
        "name": "Trigger point injection session",
        "kind": VisitKind.PROCEDURE,
        "duration_minutes": 30,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 5,
        "needs_room": True,
        "bookable_online": True,
        "min_notice_minutes": 120,
        "horizon_days": 90,
        "slot_step_minutes": 15,
        **overrides,
    }
    return VisitType.objects.create(**values)


def make_provider(
    *, locations: Iterable[Location] = (), visit_types: Iterable[VisitType] = (), **overrides: Any
) -> Provider:
    values: dict[str, Any] = {"display_name": "Maria Alvarez", "credentials": "MD", **overrides}
    provider = Provider.objects.create(**values)
    provider.locations.set(list(locations))
    provider.visit_types.set(list(visit_types))
    return provider


def make_hours(provider: Provider | None = None, location: Location | None = None, **overrides: Any) -> WorkingHours:
    """Monday 08:00–12:00; the provider is added to the location if not there yet."""
    if location is None:
        location = provider.locations.first() if provider is not None else None
    location = location or make_location()
    provider = provider or make_provider(locations=[location])
    provider.locations.add(location)
    values: dict[str, Any] = {"weekday": Weekday.MONDAY, "start": time(8), "end": time(12), **overrides}
    return WorkingHours.objects.create(provider=provider, location=location, **values)


def make_patient(**overrides: Any) -> Patient:
    values: dict[str, Any] = {
        "first_name": "Laura",
        "last_name": "Bennett",
        "date_of_birth": date(1978, 4, 12),
        "phone": "+14235550101",
        "email": "laura.bennett@example.com",
        "preferred_language": Language.ENGLISH,
        **overrides,
    }
    return Patient.objects.create(**values)


def make_user(username: str = "desk", *, role: str | None = None, **overrides: Any) -> AbstractUser:
    """A login with DEFAULT_PASSWORD, in the role's group; clinic admins are staff by default."""
    password = overrides.pop("password", DEFAULT_PASSWORD)
    values: dict[str, Any] = {
        "email": f"{username}@example.com",
        "is_staff": role == roles.CLINIC_ADMIN,
        **overrides,
    }
    user = get_user_model().objects.create_user(username=username, password=password, **values)
    if role is not None:
        user.groups.add(role_group(role))
    return user


def role_group(role: str) -> Group:
    """The role's group with its permissions; transactional tests flush what the migration made."""
    group, created = Group.objects.get_or_create(name=role)
    if created or not group.permissions.exists():
        for perm in roles.PERMISSIONS[role]:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group


def sign_in(client: Any, user: AbstractUser) -> None:
    """Log a user in on the Django test client, passing whatever second factor their role needs.

    Every test that logs someone in goes through here, so a change to how staff prove who they
    are changes one function. Staff get a confirmed TOTP device and a session that has passed
    the two-factor step (django-otp's session key), as after typing a code.
    """
    client.force_login(user)
    if staff_rules_apply(user):
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = staff_device(user).persistent_id
        session.save()


def staff_device(user: AbstractUser) -> TOTPDevice:
    """The user's confirmed authenticator device, made if missing."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="Test phone", confirmed=True)


def current_code(device: TOTPDevice) -> str:
    """The code the device's app would show now, or the next one if this one was already used."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    ahead = device.last_t + 1 - totp.t()
    if ahead > device.tolerance:  # two logins inside one window: wait for the next code
        clock.sleep(device.step - (clock.time() - device.t0) % device.step + 0.1)
        ahead = device.last_t + 1 - totp.t()
    if ahead > 0:
        totp.time = clock.time() + ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def make_muscle(name: str = "Trapezius", **overrides: Any) -> Muscle:
    """A muscle of the clinic's list (the migration seeds the usual ones; transactional tests flush them)."""
    from patients.models import BodyRegion

    muscle, _ = Muscle.objects.get_or_create(name=name, defaults={"region": BodyRegion.OTHER, **overrides})
    return muscle


def make_provider_login(provider: Provider, username: str) -> AbstractUser:
    """A Provider-role login linked to this provider."""
    user = make_user(username, role=roles.PROVIDER)
    provider.user = user
    provider.save(update_fields=["user"])
    return user
