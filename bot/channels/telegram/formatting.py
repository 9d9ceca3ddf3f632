"""Answers as Telegram messages: Markdown → Telegram HTML, split within Telegram's limits.

The advisor writes Markdown (bold, italics, lists, links, code). Telegram's HTML
mode accepts a few tags and needs every other `<`, `>` and `&` escaped. Long
answers are split into messages of at most 4,096 characters at paragraph, line
or sentence boundaries, never inside a citation like `[12]` or `[D1]`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from bot.advisor import Source
from bot.advisor.chat_model import without_controls
from bot.locales import BIDI_CONTROLS

MESSAGE_LIMIT = 4096
SPLIT_TARGET = 3800  # room for what escaping and the sources list add

_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")


def to_html(markdown: str) -> str:
    """Telegram HTML for the answer's Markdown; everything that is not markup is escaped."""
    markdown = without_controls(markdown)  # a NUL left in the text would be taken for a slot below
    slots: list[str] = []

    def keep(rendered: str) -> str:
        slots.append(rendered)
        return f"\x00{len(slots) - 1}\x00"

    text = _FENCE.sub(
        lambda m: keep(f"<pre><code>{html.escape(m.group(1).rstrip(), quote=False)}</code></pre>"), markdown
    )
    text = _INLINE_CODE.sub(lambda m: keep(f"<code>{escape(m.group(1))}</code>"), text)
    text = _LINK.sub(lambda m: keep(_link(m.group(1), m.group(2))), text)
    text = html.escape(text, quote=False)
    text = _HEADING.sub(lambda m: f"<b>{m.group(1)}</b>", text)
    text = _BOLD.sub(lambda m: f"<b>{m.group(1) or m.group(2)}</b>", text)
    text = _ITALIC.sub(lambda m: f"<i>{m.group(1) or m.group(2)}</i>", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: slots[int(m.group(1))], text)


def escape(text: str) -> str:
    """Text shown as is in Telegram HTML: only `<`, `>` and `&` need escaping, and bidirectional
    controls are dropped (`bot.locales.BIDI_CONTROLS`)."""
    return html.escape(BIDI_CONTROLS.sub("", text), quote=False)


def shortened(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, an ellipsis where it was cut (one line's spaces
    folded, so a card's snippet reads as one)."""
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _link(label: str, url: str) -> str:
    if not url.startswith(_SAFE_SCHEMES):
        return html.escape(f"{label} ({url})", quote=False)
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label, quote=False)}</a>'


def to_plain(markdown: str) -> str:
    """The answer without markup: the fallback when Telegram rejects the HTML."""
    text = _FENCE.sub(lambda m: m.group(1), without_controls(markdown))
    text = _INLINE_CODE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _HEADING.sub(lambda m: m.group(1), text)
    text = _BOLD.sub(lambda m: m.group(1) or m.group(2), text)
    text = _ITALIC.sub(lambda m: m.group(1) or m.group(2), text)
    return _BULLET.sub(lambda m: f"{m.group(1)}• ", text)


def sources_markdown(sources: Sequence[Source], heading: str = "Sources") -> str:
    """The compact numbered source list under an answer: 'n. Title › Section' ('D1. Your document:
    Title, page 3' for the owner's own documents)."""
    if not sources:
        return ""
    lines = [f"**{heading}**"]
    for source in sources:
        parts = [p for p in source.heading.split(" > ") if p and p != source.title]
        label = f"{source.title} › {parts[-1]}" if parts else source.title
        lines.append(f"{source.label}. {label}")
    return "\n".join(lines)


def split_markdown(text: str, limit: int = SPLIT_TARGET) -> list[str]:
    """Pieces of at most `limit` characters, cut at the best boundary available:
    a blank line, then a line break, then a sentence end, then a space. Code fences
    cut in two are closed and reopened, so each piece renders on its own."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head.count("```") % 2:  # inside a code block: close it here, reopen in the next piece
            head += "\n```"
            rest = "```\n" + rest
        pieces.append(head)
    if rest:
        pieces.append(rest)
    return pieces


def _best_cut(text: str, limit: int) -> int:
    window = text[:limit]
    for pattern in (r"\n\s*\n", r"\n", r"(?<=[.!?])\s+(?=\S)", r"\s+"):
        cuts = [m.start() for m in re.finditer(pattern, window) if m.start() > limit // 3]
        cuts = [c for c in cuts if not _inside_citation(text, c)]
        if cuts:
            return cuts[-1]
    return limit  # one unbroken word longer than a message


def _inside_citation(text: str, position: int) -> bool:
    opening = text.rfind("[", 0, position)
    closing = text.rfind("]", 0, position)
    return opening > closing and re.fullmatch(r"\[[\dD,\s]*", text[opening:position]) is not None


def render_messages(
    answer_text: str, sources: Sequence[Source], notes: Sequence[str] = (), heading: str = "Sources"
) -> list[str]:
    """The Markdown of each message of an answer: notes, the answer, then the sources."""
    body = "\n\n".join([*(f"_{note}_" for note in notes), answer_text])
    pieces = split_markdown(body)
    listing = sources_markdown(sources, heading)
    if listing:
        if len(pieces[-1]) + len(listing) + 2 <= SPLIT_TARGET:
            pieces[-1] = f"{pieces[-1]}\n\n{listing}"
        else:
            pieces += split_markdown(listing)
    return pieces


def telegram_messages(
    answer_text: str, sources: Sequence[Source], notes: Sequence[str] = (), heading: str = "Sources"
) -> list[tuple[str, str]]:
    """(HTML, plain text) for each message of an answer, both within Telegram's limit."""
    return [
        (to_html(part), to_plain(part))
        for piece in render_messages(answer_text, sources, notes, heading)
        for part in _fitting(piece)
    ]


def _fitting(markdown: str) -> list[str]:
    """Split a piece again in the rare case escaping pushed it over the limit."""
    if len(to_html(markdown)) <= MESSAGE_LIMIT:
        return [markdown]
    return [part for piece in split_markdown(markdown, len(markdown) // 2 + 1) for part in _fitting(piece)]
