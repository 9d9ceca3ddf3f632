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
against its prose. It knows nothing of the index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LABEL = re.compile(r"^\s*(?:also\s+)?asked\s*:\s*$", re.IGNORECASE)
_ITEM = re.compile(r"^\s*[-*+]\s+(.*\S)\s*$")
MAX_WAYS = 30  # per section: more only dilutes the match and slows the ingest
MAX_CHARACTERS = 200  # per way: a question, not a paragraph


@dataclass(frozen=True)
class AskedBlock:
    """A section's text without its `Asked:` block, and the ways it lists (in order, once each)."""

    text: str
    ways: tuple[str, ...] = ()


def take_asked(body: str) -> AskedBlock:
    """Split the first `Asked:` block (the label alone on its line, then `- ` items) out of a
    section's body. A label with no items under it is left as text: it is not a block."""
    lines = body.split("\n")
    for start, line in enumerate(lines):
        if not _LABEL.match(line):
            continue
        end = start + 1
        items: list[str] = []
        while end < len(lines) and (match := _ITEM.match(lines[end])):
            items.append(match.group(1))
            end += 1
        if not items:
            continue
        rest = "\n".join(lines[:start] + lines[end:])
        return AskedBlock(_tidy(rest), _distinct(items))
    return AskedBlock(body)


def _distinct(items: list[str]) -> tuple[str, ...]:
    ways: dict[str, str] = {}
    for item in items:
        way = " ".join(item.split())[:MAX_CHARACTERS]
        ways.setdefault(way.casefold(), way)
    return tuple(ways.values())[:MAX_WAYS]


def _tidy(text: str) -> str:
    """No run of blank lines where the block was."""
    return re.sub(r"\n{3,}", "\n\n", text).strip()
