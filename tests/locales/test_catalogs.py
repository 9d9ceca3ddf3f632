"""The translation catalogs: complete for every text the code marks, each placeholder and tag
kept, and compiled (the .mo files the bot reads say what the .po files say)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bot.locales import DEFAULT, FOLDER, LANGUAGES, RIGHT_TO_LEFT, texts
from tests.helpers import ROOT, fresh_copy

TRANSLATED = sorted(code for code in LANGUAGES if code != DEFAULT)


def template_ids() -> set[str]:
    with open(FOLDER / "messages.pot", "rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def test_the_template_holds_every_text_the_code_marks(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "bot/locales/babel.cfg",
            "-o",
            str(fresh),
            "--no-location",
            "--omit-header",
            "--sort-output",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(fresh, "rb") as handle:
        marked = {m.id for m in read_po(handle) if m.id}
    assert marked == template_ids(), "run `make translations`: the texts in the code changed"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_is_translated_keeping_placeholders_and_tags(language):
    with open(FOLDER / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = {m.id: m.string for m in read_po(handle) if m.id}
    assert set(catalog) == template_ids()
    for original, translated in catalog.items():
        assert (translated and translated != original) or len(original) < 4, (language, original)
        assert sorted(re.findall(r"\{\w+\}", original)) == sorted(re.findall(r"\{\w+\}", translated)), original
        for tag in ("<b>", "</b>"):
            assert original.count(tag) == translated.count(tag), (language, original)
        for command in re.findall(r"(?<!\w)/[a-z]+", original):
            assert command in translated, (language, original, command)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogs_are_current(language):
    folder = FOLDER / language / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as po, open(folder / "messages.mo", "rb") as mo:
        source = {m.id: m.string for m in read_po(po) if m.id}
        compiled = {m.id: m.string for m in read_mo(mo) if m.id}
    assert compiled == source, "run `make translations` to compile the catalogs"
    assert texts(language)("Sources") == source["Sources"]


def test_right_to_left_languages_are_known_and_unknown_codes_fall_back_to_english():
    assert set(LANGUAGES) >= RIGHT_TO_LEFT
    assert texts("xx")("Sources") == "Sources" and texts(None)("Sources") == "Sources"
    assert texts("pt-BR")("Sources") == texts("pt")("Sources") != "Sources"


def test_the_readmes_steps_for_a_new_language_work(tmp_path):
    """`make translations`, `pybabel init -l fr`, `make translations` in a fresh copy: the catalogs
    we have come out the same, and French gets a catalog with every text to translate."""
    copy = tmp_path / "copy"
    copy.mkdir()
    fresh_copy(copy)
    steps = [
        "make translations",
        ".venv/bin/pybabel init -i bot/locales/messages.pot -d bot/locales -l fr",
        "make translations",
    ]
    for step in steps:
        done = subprocess.run(step, shell=True, cwd=copy, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (step, done.stderr[-2000:])
    for language in TRANSLATED:
        with open(copy / "bot/locales" / language / "LC_MESSAGES/messages.po", "rb") as handle:
            after = {m.id: m.string for m in read_po(handle) if m.id}
        with open(FOLDER / language / "LC_MESSAGES/messages.po", "rb") as handle:
            before = {m.id: m.string for m in read_po(handle) if m.id}
        assert after == before, language
    with open(copy / "bot/locales/fr/LC_MESSAGES/messages.po", "rb") as handle:
        assert {m.id for m in read_po(handle) if m.id} == template_ids()


@pytest.mark.hostile
def test_a_translation_with_other_placeholders_falls_back_to_english():
    """A translator's "{zona}" for "{zone}" (or a lost brace) would crash the command showing it."""
    import gettext
    import io

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from bot.locales import _checked

    catalog = Catalog(locale="es")
    catalog.add("Time zone: {zone}", "Zona horaria: {zona}")
    catalog.add("Cancelled {n} reminders", "Cancelados {n recordatorios")
    catalog.add("Page {page} of {pages}.", "Página {page} de {pages}.")
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    _ = _checked(gettext.GNUTranslations(compiled).gettext)
    assert _("Time zone: {zone}").format(zone="UTC") == "Time zone: UTC"
    assert _("Cancelled {n} reminders").format(n=2) == "Cancelled 2 reminders"
    assert _("Page {page} of {pages}.").format(page=1, pages=2) == "Página 1 de 2."
