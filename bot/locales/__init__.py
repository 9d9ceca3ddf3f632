"""The bot's fixed texts in the owner's language: gettext catalogs, one per language.

Code marks a text for translation by calling `_` on it, where `_ = texts(language)`; `python
-m babel.messages.frontend extract` (see docs/languages.md) collects the marked texts into
`messages.pot`, translators fill `<language>/LC_MESSAGES/messages.po`, and `compile` makes the
`.mo` files read here. A text with placeholders is formatted after translation:
`_("Try again in {duration}.").format(duration=…)`, so translations keep the `{…}` names.

May import nothing of `bot`: the advisor and the channels use it.
"""

from __future__ import annotations

import gettext
import logging
import re
import string
from collections.abc import Callable
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).parent
DOMAIN = "messages"
DEFAULT = "en"
# The languages the bot speaks, by ISO 639-1 code, each named in itself (for /language).
LANGUAGES = {
    "en": "English",
    "ru": "Русский",
    "uk": "Українська",
    "es": "Español",
    "pt": "Português",
    "id": "Bahasa Indonesia",
    "tr": "Türkçe",
    "ar": "العربية",
    "zh": "中文",
}
# The same, named in English: what a prompt tells a language model to write in.
IN_ENGLISH = {
    "en": "English",
    "ru": "Russian",
    "uk": "Ukrainian",
    "es": "Spanish",
    "pt": "Portuguese",
    "id": "Indonesian",
    "tr": "Turkish",
    "ar": "Arabic",
    "zh": "Chinese (simplified)",
}
RIGHT_TO_LEFT = {"ar"}
# Bidirectional controls (embeddings, overrides, isolates): in an owner's name or text they reverse
# what is shown after them ("Evil\u202enamreh" reads "Evilherman"); what the bot shows drops them.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Codes that mean one of ours: Telegram sends "pt-br", language detection says "ms" for Indonesian.
ALIASES = {"ms": "id", "zh-hans": "zh", "zh-hant": "zh", "zh-cn": "zh", "zh-tw": "zh", "pt-br": "pt", "pt-pt": "pt"}

Translate = Callable[[str], str]
log = logging.getLogger(__name__)


def supported(code: str | None) -> str | None:
    """The language of ours that `code` (a Telegram language_code, a detected language) means."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    code = ALIASES.get(code, code)
    code = ALIASES.get(code.split("-")[0], code.split("-")[0])
    return code if code in LANGUAGES else None


@cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language` (English, the source language, needs none)."""
    if language == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=FOLDER, languages=[language], fallback=True)


def texts(language: str | None) -> Translate:
    """`_` for `language` (any code `supported` knows; English otherwise). A translation whose
    placeholders are not the English text's ("{zona}" for "{zone}", a "{" lost) is not used: the
    English text is, so a translator's slip never crashes the command that shows it."""
    return _checked(catalog(supported(language) or DEFAULT).gettext)


@cache
def _checked(gettext_: Translate) -> Translate:
    @cache
    def translate(text: str) -> str:
        translated = gettext_(text)
        if translated is text or _placeholders(translated) == _placeholders(text):
            return translated
        log.warning("a translation of %r has other placeholders; the English text is shown", text[:60])
        return text

    return translate


def _placeholders(text: str) -> list[str] | None:
    """The `str.format` fields of `text`, in order; None when it cannot be formatted at all."""
    try:
        return sorted(name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None)
    except ValueError:  # an unmatched "{" or "}"
        return None


def N_(text: str) -> str:
    """Marks a text for translation where it is defined (a table of texts); `_` translates it
    where it is shown."""
    return text
