"""The bot's fixed texts in the owner's language: gettext catalogs, one per language.

Code marks a text for translation by calling `_` on it, where `_ = texts(language)`; `python
-m babel.messages.frontend extract` (see README: Languages) collects the marked texts into
`messages.pot`, translators fill `<language>/LC_MESSAGES/messages.po`, and `compile` makes the
`.mo` files read here. A text with placeholders is formatted after translation:
`_("Try again in {duration}.").format(duration=…)`, so translations keep the `{…}` names.

May import nothing of `bot`: the advisor and the channels use it.
"""

from __future__ import annotations

import gettext
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
RIGHT_TO_LEFT = {"ar"}
# Codes that mean one of ours: Telegram sends "pt-br", language detection says "ms" for Indonesian.
ALIASES = {"ms": "id", "zh-hans": "zh", "zh-hant": "zh", "zh-cn": "zh", "zh-tw": "zh", "pt-br": "pt", "pt-pt": "pt"}

Translate = Callable[[str], str]


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
    """`_` for `language` (any code `supported` knows; English otherwise)."""
    return catalog(supported(language) or DEFAULT).gettext


def N_(text: str) -> str:
    """Marks a text for translation where it is defined (a table of texts); `_` translates it
    where it is shown."""
    return text
