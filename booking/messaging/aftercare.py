"""The clinic's aftercare advice: one text per location and language, for the page and the message.

A location's own text (admin) wins; an empty one falls back to the default wording below, which
follows the location's heat advice. Plain text: one paragraph per line.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _

from clinic.models import HeatAdvice, Location


def _heat_line(advice: str) -> str:
    if advice == HeatAdvice.AVOID:
        return _("Do not put heat (heating pads, hot baths) on the treated area for 1 to 2 days.")
    if advice == HeatAdvice.HELPS:
        return _("Warmth, such as a heating pad on a low setting, and gentle stretching can ease the soreness.")
    return _("Follow the advice your provider gave you about heat and gentle stretching.")


def default_aftercare(heat_advice: str, language: str) -> str:
    """The default advice in `language` (rest, heat, what is normal, when to call, what is urgent)."""
    with translation.override(language):
        lines = [
            _(
                "Rest the treated area for 1 to 2 days. Avoid standing for a long time, jogging, "
                "hard exercise and heavy lifting."
            ),
            _heat_line(heat_advice),
            _("Some soreness, like after a workout, is normal for a day or two."),
            _(
                "Call the clinic if you have a fever of 38 °C (100.4 °F) or higher; pain, swelling, "
                "tenderness or redness at the treated area that keeps increasing; warmth, burning or "
                "itching of the skin there; or any new symptom you cannot explain."
            ),
            _(
                "If you feel short of breath, above all after treatment near the chest, this is urgent: "
                "call 911 or go to the nearest emergency department right away."
            ),
        ]
    return "\n".join(lines)


def aftercare_text(location: Location, language: str) -> str:
    """The location's aftercare text in `language` (Spanish or English), or the default wording."""
    own = location.aftercare_es if language == "es" else location.aftercare_en
    return own.strip() or default_aftercare(location.heat_advice, language)


def aftercare_paragraphs(location: Location, language: str) -> list[str]:
    return [line.strip() for line in aftercare_text(location, language).splitlines() if line.strip()]


def default_aftercare_paragraphs(language: str) -> list[str]:
    """The default wording with the default heat advice (the clinic-wide template's preview)."""
    return default_aftercare(HeatAdvice.ASK_PROVIDER, language).splitlines()
