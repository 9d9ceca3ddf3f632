"""The ways owners ask a section's question: the `Asked:` block under a heading.

A section opens with its question as the heading; consultants add the other ways owners put
it, right under the heading:

    ## What documents do I need for a business loan application?

    Asked:
    - what paperwork does the bank want for a loan
    - steps to apply for a bank loan

The block is taken out of the section's text (an owner never reads it as advice) and kept
with the section, so the index can match an owner's question against the questions a section
answers (question-to-question similarity is what both embedding models do best), not only
against its prose. The label may be bold (`**Asked:**`) or followed by a blank line, as
Markdown habits go; a section may hold more than one block (two sections under the same
heading are read as one); a label with no items under it is dropped, never quoted; an `Asked:`
inside a fenced code block is text (an example of the format, say). It knows nothing of the
index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LABEL = re.compile(r"^\s*(?:\*\*|__)?\s*(?:also\s+)?asked\s*:\s*(?:\*\*|__)?\s*$", re.IGNORECASE)
_ITEM = re.compile(r"^\s*[-*+]\s+(.*\S)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
MAX_WAYS = 30  # per section: more only dilutes the match and slows the ingest
MAX_CHARACTERS = 200  # per way: a question, not a paragraph


@dataclass(frozen=True)
class AskedBlock:
    """A section's text without its `Asked:` blocks, and the ways they list (in order, once each)."""

    text: str
    ways: tuple[str, ...] = ()


def take_asked(body: str) -> AskedBlock:
    """Split every `Asked:` block (the label alone on its line, then `- ` items, a blank line
    between them allowed) out of a section's body; a label with nothing under it goes too."""
    lines = body.split("\n")
    kept: list[str] = []
    items: list[str] = []
    fenced = False
    number = 0
    while number < len(lines):
        line = lines[number]
        if _FENCE.match(line):
            fenced = not fenced
        if fenced or not _LABEL.match(line):
            kept.append(line)
            number += 1
            continue
        number += 1
        while number < len(lines) and not lines[number].strip():  # a blank line after the label
            number += 1
        while number < len(lines) and (match := _ITEM.match(lines[number])):
            items.append(match.group(1))
            number += 1
    if len(kept) == len(lines):
        return AskedBlock(body)
    return AskedBlock(_tidy("\n".join(kept)), _distinct(items))


def _distinct(items: list[str]) -> tuple[str, ...]:
    ways: dict[str, str] = {}
    for item in items:
        way = " ".join(item.split())[:MAX_CHARACTERS]
        ways.setdefault(way.casefold(), way)
    return tuple(ways.values())[:MAX_WAYS]


def _tidy(text: str) -> str:
    """No run of blank lines where the block was."""
    return re.sub(r"\n{3,}", "\n\n", text).strip()
