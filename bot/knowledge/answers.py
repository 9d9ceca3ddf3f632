"""A consultant's answer → a knowledge file: owner details removed, then the entry written.

What a consultant wrote to one owner becomes an entry every owner can find: a title (the
first question), the owner's questions as the `Asked:` ways of asking it (`bot.knowledge.asked`),
the consultant's answer as the section's text, and front matter saying who wrote it and that
it came from a consultant (`source: consultant`). Before anyone publishes it, the details that
identify the owner are taken out (`redact`): their names, phone numbers, e-mail addresses,
@usernames and long digit runs such as account numbers; the consultant is told what was removed
so they can check. Pure functions and one file write; it knows nothing of the index or Telegram.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ANSWERS_FOLDER = "answers"
TOPIC = "answers"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_USERNAME = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")
_PHONE = re.compile(r"(?<![\w])\+?\d[\d ()./-]{6,}\d(?![\w])")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")
_DIGITS = re.compile(r"\b\d{7,}\b")  # an account, card or id number (not a year, not an amount)
_PLACEHOLDERS = {
    "an e-mail address": "[e-mail]",
    "a @username": "[username]",
    "a phone number": "[phone]",
    "a long number": "[number]",
    "a name": "[name]",
}


@dataclass(frozen=True)
class Redacted:
    """A text with the owner's details replaced by placeholders, and what was removed (once each)."""

    text: str
    removed: tuple[str, ...] = ()


def redact(text: str, names: list[str] | tuple[str, ...] = ()) -> Redacted:
    """`text` without the owner's details: their `names` (each word of a full name, whole words,
    any case), e-mail addresses, @usernames, phone numbers and runs of 7 or more digits."""
    removed: list[str] = []

    def swap(pattern: re.Pattern, kind: str, current: str, keep=lambda found: False) -> str:
        new, count = pattern.subn(lambda m: m[0] if keep(m[0]) else _PLACEHOLDERS[kind], current)
        count = sum(not keep(m[0]) for m in pattern.finditer(current))
        if count and kind not in removed:
            removed.append(kind)
        return new

    text = swap(_EMAIL, "an e-mail address", text)
    text = swap(_USERNAME, "a @username", text)
    text = swap(_DIGITS, "a long number", text)
    text = swap(_PHONE, "a phone number", text, keep=_not_a_phone)
    words = {w for name in names if name for w in re.findall(r"\w{2,}", name) if not w.isdigit()}
    if words:
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        text = swap(re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), "a name", text)
    return Redacted(text, tuple(removed))


def _not_a_phone(found: str) -> bool:
    """A date (2026-11-26, 26/11/2026) or a short figure is no phone number: 8 digits at least."""
    return sum(c.isdigit() for c in found) < 8 or _DATE.fullmatch(found.strip()) is not None


def redact_all(
    questions: list[str], answer: str, names: list[str] | tuple[str, ...] = ()
) -> tuple[list[str], str, tuple[str, ...]]:
    """The questions and the answer of an entry redacted together: (questions, answer, removed)."""
    cleaned = [redact(q, names) for q in questions]
    said = redact(answer, names)
    removed = tuple(dict.fromkeys([kind for r in [*cleaned, said] for kind in r.removed]))
    return [r.text for r in cleaned], said.text, removed


def slug(title: str, limit: int = 60) -> str:
    """A file name from a title: `how-do-i-register-for-vat` (ASCII, lower case, hyphens)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    text = "-".join(words)[:limit].rstrip("-")
    return text or "answer"


def one_question(text: str) -> str:
    """A question on one line, without Markdown that would break a heading or a list item."""
    return " ".join(text.replace("#", " ").split()).strip(" -*")


def render_entry(
    *, questions: list[str], answer: str, author: str, date: dt.date, title: str | None = None, topic: str = TOPIC
) -> str:
    """The knowledge file of an entry: front matter, `# title`, `## <first question>`, its
    `Asked:` block (every question, the ways owners ask it), then the answer."""
    asked = [q for q in (one_question(q) for q in questions) if q]
    if not asked:
        raise ValueError("an entry needs at least one question")
    heading = asked[0]
    title = one_question(title or heading)
    front = [
        "---",
        f"title: {_yaml_text(title)}",
        f"topic: {topic}",
        f"author: {_yaml_text(author)}",
        f"date: {date.isoformat()}",
        f"updated: {date.isoformat()}",
        "source: consultant",
        "---",
    ]
    body = [f"# {title}", "", f"## {heading}", "", "Asked:", *(f"- {q}" for q in asked), "", answer.strip(), ""]
    return "\n".join([*front, "", *body])


def write_entry(knowledge_dir: Path, text: str, title: str) -> Path:
    """Write an entry under `knowledge_dir/answers/` as `<slug>.md`, never over an existing file
    (`-2`, `-3`, … instead); the path written, relative to `knowledge_dir`."""
    folder = knowledge_dir / ANSWERS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    base = slug(title)
    for number in range(1, 1000):
        name = f"{base}.md" if number == 1 else f"{base}-{number}.md"
        try:
            with open(folder / name, "x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            continue
        return (folder / name).relative_to(knowledge_dir)
    raise FileExistsError(f"{folder / base}.md and 998 numbered copies exist")


def _yaml_text(value: str) -> str:
    """A one-line YAML string, quoted."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
