"""How transcript text reads in the review browser: answers as Markdown, sources as a list,
long text folded away, ratings as 👍/👎.

Everything here is owners' or a model's text, so none of it is trusted: raw HTML in it is
escaped (markdown-it with `html` off), and links keep only the schemes markdown-it allows (no
`javascript:`). It returns `Markup` that Datasette's templates insert as it is. For a terminal,
`printable` takes out the control characters that could move an admin's cursor or retitle
their terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from markupsafe import Markup, escape

FOLD_AFTER = 300  # characters shown before a long text folds into <details>
CITATION = re.compile(r"\[(\d{1,2})\]")
RATINGS = {"up": "👍", "down": "👎"}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_parser = None


def printable(text: object) -> str:
    """Someone else's text, safe to print on a terminal: C0 and C1 control characters (ESC, so no
    escape sequence starts) and bidi overrides removed; tabs and newlines kept."""
    return _CONTROL.sub("", str(text))


def _markdown():
    """The parser, built on first use (no work at import time)."""
    global _parser
    if _parser is None:
        from markdown_it import MarkdownIt

        # breaks: a newline in a Telegram answer is a line break, as the owner saw it
        _parser = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    return _parser


def markdown_html(text: str | None, cite: Callable[[int], str | None] | None = None) -> Markup:
    """`text` rendered as Markdown; `cite(n)` gives the link of citation [n] (None: no link)."""
    html = _markdown().render(text or "")
    if cite is not None:

        def link(match: re.Match) -> str:
            href = cite(int(match.group(1)))
            return f'<a class="cite" href="{escape(href)}">{match.group(0)}</a>' if href else match.group(0)

        html = CITATION.sub(link, html)
    return Markup(html)


def preview(text: str, limit: int = FOLD_AFTER) -> str:
    """The first `limit` characters of `text` on one line, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " …"


def folded(text: str, body: Markup, limit: int = FOLD_AFTER) -> Markup:
    """`body` behind a one-line preview of `text` (its plain words) when `text` is long, and
    as it is otherwise."""
    if len(text) <= limit:
        return body
    return Markup(
        '<details class="fold"><summary><span class="preview">{}</span>'
        '<span class="more">show all {:,} characters</span></summary>{}</details>'
    ).format(preview(text, limit), len(text), body)


def folded_text(text: str, limit: int = FOLD_AFTER) -> Markup:
    """Plain text with its line breaks, folded when long."""
    return folded(text, Markup('<div class="text">{}</div>').format(text), limit)


def folded_markdown(text: str, limit: int = FOLD_AFTER) -> Markup:
    """Markdown rendered, folded when long; the preview shows the words, not the markup."""
    html = markdown_html(text)
    return folded(html.striptags(), Markup('<div class="md">{}</div>').format(html), limit)


def parse_sources(value) -> list[dict] | None:
    """A turn's sources column (JSON text in SQLite) as a list of dicts, or None if it is not one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
        return None
    return value


def section_of(source: dict) -> str:
    """The heading path without the document title, which is shown beside it anyway."""
    heading = str(source.get("heading") or "")
    title = str(source.get("title") or "")
    return heading.removeprefix(title).removeprefix(" > ") if title else heading


def sources_html(sources: list[dict], anchor: Callable[[int], str] | None = None) -> Markup:
    """Cited sources as a numbered list: title, section, file path and retrieval score."""
    if not sources:
        return Markup('<span class="none">no sources</span>')
    items = []
    for number, source in enumerate(sources, start=1):
        number = source.get("number", number)
        score = source.get("score")
        item_id = Markup(' id="{}"').format(anchor(number)) if anchor else ""
        items.append(
            Markup(
                '<li{}><span class="n">[{}]</span> <strong class="title">{}</strong>'
                ' <span class="section">{}</span> <code class="path">{}</code> <span class="score">{}</span></li>'
            ).format(
                item_id,
                number,
                source.get("title") or source.get("path") or "?",
                section_of(source),
                source.get("path") or "",
                f"score {score:.2f}" if isinstance(score, int | float) else "",
            )
        )
    return Markup('<ol class="sources">{}</ol>').format(Markup("").join(items))


def ratings_html(value: str) -> Markup | None:
    """'up', 'down' or a comma-separated list of them as 👍/👎 (None for other values)."""
    parts = [p.strip() for p in value.split(",")]
    if not parts or any(p not in RATINGS for p in parts):
        return None
    return Markup('<span class="rating" title="{}">{}</span>').format(value, " ".join(RATINGS[p] for p in parts))
