"""Message texts: the templates, the plain values they may use, and rendering.

Texts: MessageTemplate for the location, else the clinic default, else the built-in text in
templates/emails/; always in the patient's language. Templates see plain values only
(CONTEXT_HELP), never model instances.

Rendering only reads. A message about a visit still to come carries a single-use manage link:
delivery.py issues its token through the manage-link service (a write, next to its claim and
mark-sent writes) and passes it in, so a preview or a test may render any message without side
effects. The one write here is seed_message_templates, which creates the clinic defaults.
"""

from __future__ import annotations

import re
import time as time_module
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.template import Context, Engine, Template
from django.urls import reverse
from django.utils import dateformat, timezone, translation

from booking.messaging.aftercare import aftercare_paragraphs
from booking.models import Appointment, Channel, MessageKind, MessageTemplate, Reminder, Status, WaitlistOffer
from booking.scheduling import waitlist as waitlist_rules
from clinic.models import Location
from patients.models import Language

K = MessageKind
DEFAULT_TEXTS_DIR = Path(settings.BASE_DIR) / "templates" / "emails"
DATE_FORMATS = {"en": "l, F j, Y", "es": r"l j \d\e F \d\e Y"}
TIME_FORMATS = {"en": "g:i A T", "es": "G:i T"}
# What a template may use (the admin shows this); all plain text, never model instances.
CONTEXT_HELP = {
    "patient_first_name": "The patient's first name",
    "date": "The visit's local date, e.g. Monday, December 7, 2026",
    "time": "The visit's local time with the zone, e.g. 9:00 AM EST",
    "clinic_name": "The location's name",
    "clinic_phone": "The location's phone number",
    "clinic_email": "The location's e-mail address",
    "clinic_address": "The location's address (several lines)",
    "manage_url": "Where the patient sees, moves or cancels the visit: a single-use link to this "
    "appointment in confirmations, reminders and change messages; their appointments page otherwise; "
    "in a waitlist offer, the link to take the time",
    "aftercare": "Aftercare only: the location's aftercare advice in the patient's language (admin: Locations)",
    "sessions": "Series summary only: a list, each with .date and .time",
    "offer_expires": "Waitlist offer only: the local time the offer closes, e.g. 11:00 AM EST",
}


class MissingText(LookupError):
    """No template and no built-in text for a kind of message on a channel."""


# --- template sources -------------------------------------------------------------------------

_ENGINE = Engine(autoescape=False)  # plain text: no HTML escaping of "&" in a clinic's name


@lru_cache(maxsize=512)
def _compile(text: str) -> Template:
    return _ENGINE.from_string(text)


def _split_subject(text: str) -> tuple[str, str]:
    first, _, rest = text.partition("\n")
    if first.startswith("Subject:"):
        return first.removeprefix("Subject:").strip(), rest.lstrip("\n")
    return "", text


@cache
def default_texts() -> dict[tuple[str, str, str], tuple[str, str]]:
    """The built-in texts: templates/emails/<kind>.<channel>.<language>.txt -> (subject, body)."""
    texts: dict[tuple[str, str, str], tuple[str, str]] = {}
    for kind in K.values:
        for channel in Channel.values:
            for language in Language.values:
                path = DEFAULT_TEXTS_DIR / f"{kind}.{channel}.{language}.txt"
                if path.exists():
                    texts[(kind, channel, language)] = _split_subject(path.read_text(encoding="utf-8"))
    return texts


def seed_message_templates(template_model: type[MessageTemplate] = MessageTemplate) -> int:
    """Create the clinic-default templates that do not exist yet, from the built-in texts."""
    have = set(template_model.objects.filter(location__isnull=True).values_list("kind", "channel", "language"))
    rows = [
        template_model(kind=kind, channel=channel, language=language, subject=subject, body=body)
        for (kind, channel, language), (subject, body) in sorted(default_texts().items())
        if (kind, channel, language) not in have
    ]
    template_model.objects.bulk_create(rows)
    return len(rows)


_templates: dict[tuple[int | None, str, str, str], tuple[str, str]] = {}
_templates_loaded_at = float("-inf")


def clear_template_cache(**_: Any) -> None:
    """Forget the loaded templates (on save in this process; other processes wait out the TTL)."""
    global _templates_loaded_at
    _templates_loaded_at = float("-inf")


def _active_templates() -> dict[tuple[int | None, str, str, str], tuple[str, str]]:
    """Every active template, loaded once per REMINDER_TEMPLATE_CACHE_SECONDS per process; read
    fresh inside a transaction, which may itself have changed them."""
    global _templates, _templates_loaded_at
    fresh = connection.in_atomic_block
    if fresh or time_module.monotonic() - _templates_loaded_at >= settings.REMINDER_TEMPLATE_CACHE_SECONDS:
        loaded: dict[tuple[int | None, str, str, str], tuple[str, str]] = {
            (location_id, kind, channel, language): (subject, body)
            for location_id, kind, channel, language, subject, body in MessageTemplate.objects.filter(
                active=True
            ).values_list("location_id", "kind", "channel", "language", "subject", "body")
        }
        if fresh:
            return loaded
        _templates, _templates_loaded_at = loaded, time_module.monotonic()
    return _templates


post_save.connect(clear_template_cache, sender=MessageTemplate, dispatch_uid="reminders-template-saved")
post_delete.connect(clear_template_cache, sender=MessageTemplate, dispatch_uid="reminders-template-deleted")


def find_text(kind: str, channel: str, language: str, location_id: int | None) -> tuple[str, str]:
    """(subject, body) source: the location's template, the clinic default, the built-in text; in
    the patient's language first, then English. MissingText when there is none at all."""
    templates = _active_templates()
    for lang in [language] if language == "en" else [language, "en"]:
        for source in (
            templates.get((location_id, kind, channel, lang)),
            templates.get((None, kind, channel, lang)),
            default_texts().get((kind, channel, lang)),
        ):
            if source is not None:
                return source
    raise MissingText(f"no text for {kind} by {channel}")


def format_local(local: datetime, formats: dict[str, str], language: str) -> str:
    """A local date or time in the language's format (DATE_FORMATS, TIME_FORMATS), English else."""
    return dateformat.format(local, formats.get(language, formats["en"]))


# Messages about one visit still to come carry a single-use link to manage that visit.
LINK_KINDS = (K.CONFIRMATION, K.REMINDER_LONG, K.REMINDER_SHORT, K.CHANGE)


def manage_url(token: str | None = None) -> str:
    """The patient's appointments page, or with a token the single-use link to one appointment."""
    if token:
        return f"{settings.SITE_URL}{reverse('booking:manage', args=[token])}"
    return f"{settings.SITE_URL}{settings.REMINDER_MANAGE_PATH}"


def upcoming_sessions(appointment: Appointment, now: datetime) -> QuerySet[Appointment]:
    """The booked sessions of the appointment's series still ahead (none without a series)."""
    if not appointment.series_id:
        return Appointment.objects.none()
    return Appointment.objects.filter(series_id=appointment.series_id, status=Status.BOOKED, start__gt=now)


def message_context(
    appointment: Appointment, kind: str, language: str, *, now: datetime, manage_token: str | None = None
) -> dict[str, Any]:
    """The plain values a template may use; no visit type, provider, notes or procedure details."""
    location: Location = appointment.location
    tz = location.tz
    with translation.override(language):
        local = timezone.localtime(appointment.start, tz)
        context: dict[str, Any] = {
            "patient_first_name": appointment.patient.first_name,
            "date": format_local(local, DATE_FORMATS, language),
            "time": format_local(local, TIME_FORMATS, language),
            "clinic_name": location.name,
            "clinic_phone": location.phone,
            "clinic_email": location.email,
            "clinic_address": location.address.strip(),
            "manage_url": manage_url(manage_token),
            "sessions": [],
            "aftercare": "\n\n".join(aftercare_paragraphs(location, language)) if kind == K.AFTERCARE else "",
        }
        if kind == K.SERIES_SUMMARY:
            upcoming = upcoming_sessions(appointment, now).order_by("start")
            context["sessions"] = [
                {
                    "date": format_local(timezone.localtime(a.start, tz), DATE_FORMATS, language),
                    "time": format_local(timezone.localtime(a.start, tz), TIME_FORMATS, language),
                }
                for a in upcoming
            ]
    return context


def render_text(subject: str, body: str, context: dict[str, Any]) -> tuple[str, str]:
    """Render a template's subject and body; raises TemplateSyntaxError for a broken one."""
    rendered_subject = " ".join(_compile(subject).render(Context(context)).split())
    rendered_body: str = _compile(body).render(Context(context))
    rendered_body = re.sub(r"\n{3,}", "\n\n", rendered_body).strip() + "\n"
    return rendered_subject, rendered_body


def offer_context(offer: WaitlistOffer, language: str) -> dict[str, Any]:
    """A waitlist offer's values: the offered time and place, and the link to take it (as
    manage_url, so one template text serves); no visit type, provider or clinical detail."""
    location: Location = offer.location
    with translation.override(language):
        local = timezone.localtime(offer.start, location.tz)
        expires = timezone.localtime(offer.expires_at, location.tz)
        link = waitlist_rules.offer_url(offer.token_nonce)
        return {
            "patient_first_name": offer.entry.patient.first_name,
            "date": format_local(local, DATE_FORMATS, language),
            "time": format_local(local, TIME_FORMATS, language),
            "clinic_name": location.name,
            "clinic_phone": location.phone,
            "clinic_email": location.email,
            "clinic_address": location.address.strip(),
            "manage_url": link,
            "offer_url": link,
            "offer_expires": format_local(expires, TIME_FORMATS, language),
            "sessions": [],
        }


def wants_manage_link(reminder: Reminder, now: datetime) -> bool:
    """Whether this message, sent now, carries a single-use link to manage its visit."""
    appointment = reminder.appointment  # None for a waitlist offer's message
    return appointment is not None and reminder.kind in LINK_KINDS and appointment.start > now


def render(reminder: Reminder, *, now: datetime | None = None, manage_token: str | None = None) -> tuple[str, str]:
    """The message's subject (e-mail) and body, in the patient's language; reads, never writes.

    `manage_token`: the single-use link's token, issued by the sender for a message that wants
    one (wants_manage_link); without it the link is the patient's appointments page.
    """
    if reminder.offer_id:
        offer = reminder.offer
        assert offer is not None
        language = reminder.patient.preferred_language or "en"
        subject, body = find_text(reminder.kind, reminder.channel, language, offer.location_id)
        return render_text(subject, body, offer_context(offer, language))
    appointment = reminder.appointment
    assert appointment is not None  # the row's check constraint: an appointment or an offer
    language = appointment.patient.preferred_language or "en"
    subject, body = find_text(reminder.kind, reminder.channel, language, appointment.location_id)
    now = now or timezone.now()
    context = message_context(appointment, reminder.kind, language, now=now, manage_token=manage_token)
    return render_text(subject, body, context)
