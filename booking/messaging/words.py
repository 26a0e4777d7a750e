"""Keeping clinical details out of patient messages: anyone may read a phone's lock screen.

The admin refuses a message template (other than aftercare) that uses one of these words, and the
tests render every built-in text through the same filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words that would tell a reader what the visit is for (English and Spanish stems).
CLINICAL_WORDS = (
    "inject",
    "inyec",
    "trigger point",
    "punto gatillo",
    "puntos gatillo",
    "lidocain",
    "anesthe",
    "anaesthe",
    "anestes",
    "steroid",
    "esteroid",
    "cortico",
    "botox",
    "botulinum",
    "toxin",
    "needl",
    "aguja",
    "dry needling",
    "punción",
    "diagnos",
    "diagnós",
    "medication",
    "medicament",
    "medicine",
    "procedure",
    "procedimiento",
    "myofascial",
    "miofascial",
    "fibromyalgia",
    "fibromialgia",
)
_TPI = re.compile(r"\btpi\b", re.IGNORECASE)


def clinical_words_in(text: str, extra: Iterable[str] = ()) -> list[str]:
    """The clinical words (and `extra` terms, e.g. visit type names) found in `text`."""
    lowered = text.lower()
    found = [word for word in (*CLINICAL_WORDS, *(e.lower() for e in extra if e)) if word in lowered]
    if _TPI.search(text):
        found.append("TPI")
    return found
