"""Compile locale/*/LC_MESSAGES/*.po into .mo with polib: no GNU gettext (msgfmt) needed.

The .mo files are committed next to their .po, so a fresh machine runs without compiling;
tests/clinic/test_translations.py fails when a .mo no longer matches its .po.
Usage: python scripts/compile_messages.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parents[1] / "locale"


def catalogues() -> list[Path]:
    return sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))


def compiled_messages(po_path: Path) -> dict[tuple[str, str], object]:
    """What a .po gives at run time: translated, non-fuzzy entries (as msgfmt keeps them)."""
    po = polib.pofile(str(po_path))
    return {
        (entry.msgctxt or "", entry.msgid): entry.msgstr_plural and dict(entry.msgstr_plural) or entry.msgstr
        for entry in po.translated_entries()
    }


def mo_messages(mo_path: Path) -> dict[tuple[str, str], object]:
    mo = polib.mofile(str(mo_path))
    return {
        (entry.msgctxt or "", entry.msgid): entry.msgstr_plural and dict(entry.msgstr_plural) or entry.msgstr
        for entry in mo
        if entry.msgid
    }


def compile_all() -> list[Path]:
    written = []
    for po_path in catalogues():
        mo_path = po_path.with_suffix(".mo")
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


def stale() -> list[Path]:
    """Catalogues whose committed .mo is missing or differs from their .po."""
    return [
        po_path
        for po_path in catalogues()
        if not po_path.with_suffix(".mo").exists()
        or compiled_messages(po_path) != mo_messages(po_path.with_suffix(".mo"))
    ]


if __name__ == "__main__":
    if "--check" in sys.argv:
        out_of_date = stale()
        for path in out_of_date:
            print(f"{path}: the .mo is stale; run: make messages")
        sys.exit(1 if out_of_date else 0)
    for path in compile_all():
        print(f"compiled {path.relative_to(LOCALE.parent)}")
