"""Development only: print the current two-factor code of a staff login (the demo's desk,
provider and admin have a device seeded by seed_demo), so nobody needs a phone to try the app."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print the current TOTP code of a user's authenticator device (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("totp_code would defeat two-factor sign-in; it does not run in production.")
        device = TOTPDevice.objects.filter(user__username=username).order_by("-confirmed", "-pk").first()
        if device is None:
            raise CommandError(f"{username!r} has no authenticator device yet (it is made at the first login).")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        if device.last_t >= totp.t():  # this window's code was used: the next one is accepted too
            totp.time = time.time() + device.step
        left = int(device.step - (totp.time - device.t0) % device.step)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
        self.stderr.write(f"(valid for about {left} more seconds; device: {device.name})")
