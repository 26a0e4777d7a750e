"""The Spanish catalogue: complete, its placeholders intact, and its committed .mo current."""

import importlib.util
import re
from pathlib import Path

import polib
import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def compile_messages():
    spec = importlib.util.spec_from_file_location("compile_messages", ROOT / "scripts" / "compile_messages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_mo_matches_the_po():
    assert compile_messages().stale() == [], "run: make messages (or python scripts/compile_messages.py)"


def test_a_changed_po_makes_the_mo_stale(tmp_path, monkeypatch):
    module = compile_messages()
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = polib.pofile(str(PO))
    po.save(str(folder / "django.po"))
    po.save_as_mofile(str(folder / "django.mo"))
    monkeypatch.setattr(module, "LOCALE", tmp_path)
    assert module.stale() == []
    po.find("Book a visit").msgstr = "Pedir cita"
    po.save(str(folder / "django.po"))
    assert module.stale() == [folder / "django.po"]


def test_every_message_is_translated_and_not_fuzzy():
    po = polib.pofile(str(PO))
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []


def test_placeholders_survive_translation():
    for entry in polib.pofile(str(PO)).translated_entries():
        wanted = set(PLACEHOLDER.findall(entry.msgid))
        for text in [entry.msgstr] if not entry.msgid_plural else entry.msgstr_plural.values():
            assert set(PLACEHOLDER.findall(text)) <= wanted | set(PLACEHOLDER.findall(entry.msgid_plural or "")), (
                entry.msgid
            )
            if not entry.msgid_plural:
                assert set(PLACEHOLDER.findall(text)) == wanted, entry.msgid


@pytest.mark.parametrize(
    ("english", "spanish"), [("Book a visit", "Reservar una visita"), ("Log in", "Iniciar sesión")]
)
def test_django_reads_the_catalogue(english, spanish):
    with translation.override("es"):
        assert translation.gettext(english) == spanish
