"""Print a new API token for a staff user, once; only its hash is stored."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clinic.access import is_staff_member
from clinic.api import hash_token
from clinic.models import ApiToken


class Command(BaseCommand):
    help = "Issue a bearer token for the JSON API to a staff user and print it once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to recognise the token by")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        if not is_staff_member(user):
            raise CommandError(f"{user.username} is not front desk, provider or clinic admin; tokens are for staff.")
        token = secrets.token_urlsafe(32)
        ApiToken.objects.create(user=user, name=options["name"], token_hash=hash_token(token))
        self.stdout.write(token)
