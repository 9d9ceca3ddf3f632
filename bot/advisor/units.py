"""A passage as the offline answer reads it: sentences and list items ("units"), in order,
with their Markdown, minus headings, tables and lines that instruct the reader.

Passages are other people's text: a line that speaks to the reader as instructions ("SYSTEM:",
"ignore previous instructions", "transfer the fee to IBAN…") is never a unit, so no answer
quotes it as advice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_LIST_MARK = re.compile(r"^\s*((?:[-*+•]|\d+[.)]))\s+(?:\[[ xX]\]\s+)?")  # bullets, numbers, checkboxes
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]*]*\s+(?=[*_]*[A-Z0-9\"'(])")
_SEE_FILE = re.compile(r"\s*\((?:see|See) [^)]*\.md[^)]*\)")  # "(see credit/x.md)": the sources list does that
# Lines that speak to the reader as instructions: a system prompt, a request to ignore rules, a
# request to pay or send credentials.
_INSTRUCTION = re.compile(
    r"^\W*(?:system|assistant|user|developer)\s*:"
    r"|\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instructions?|rules|prompts?|everything above)\b"
    r"|\byou are now\b|\bact as\b.{0,40}\b(?:assistant|admin|system)\b"
    r"|^\W*(?:please\s+)?(?:send|transfer|wire|pay|deposit)\b.{0,80}"
    r"\b(?:iban|bitcoin|btc|crypto|wallet|gift cards?|account (?:number|no\.?)|bank details)\b"
    r"|\b(?:send|share|reply with|tell us|give us|enter)\b.{0,20}\byour\b.{0,20}"
    r"\b(?:password|pin|one-time code|verification code|card number)s?\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Unit:
    """A sentence or a list item of one passage, with its Markdown."""

    position: int
    text: str
    marker: str  # the list marker ("-", "1.") of a list item, "" for a sentence
    lead_in: bool  # a sentence ending in ':' that introduces a list
    block: int  # a paragraph and the list items that follow it share a block

    @property
    def is_item(self) -> bool:
        return bool(self.marker)

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def plain(self) -> str:
        return self.text.replace("**", "").replace("__", "")


def is_instruction(text: str) -> bool:
    """Does this line address the reader as instructions (see _INSTRUCTION)?"""
    return bool(_INSTRUCTION.search(text))


def units_of(text: str) -> list[Unit]:
    """Split a chunk into sentences and list items, in order, keeping their bold; headings,
    tables, code and lines that instruct the reader are left out.

    Every paragraph line starts a new block, so a list belongs to the line just above it.
    """
    units: list[Unit] = []
    block = 0
    for line in _logical_lines(text):
        mark = _LIST_MARK.match(line)
        marker = mark.group(1) if mark else ""
        line = _LIST_MARK.sub("", line).strip()
        if not line:
            continue
        if not marker:
            block += 1
        if line.startswith(("#", "|", "```")) or _INSTRUCTION.search(line):
            continue
        line = _SEE_FILE.sub("", _MD_LINK.sub(r"\1", line))
        for part in [line] if marker else _SENTENCE_END.split(line):
            part = balanced(part.strip())
            lead_in = part.endswith(":")
            if len(part.split()) < (3 if marker or lead_in else 6) or _INSTRUCTION.search(part):
                continue
            if not lead_in and part.rstrip("*_")[-1:] not in (".", "!", "?"):
                part += "."
            units.append(Unit(len(units), part, "-" if marker in ("*", "+", "•") else marker, lead_in, block))
    return units


def balanced(text: str) -> str:
    """A sentence cut out of a bold span would leave an odd `**`: then the bold goes."""
    return text.replace("**", "") if text.count("**") % 2 else text


def _logical_lines(text: str) -> list[str]:
    """Undo soft wrapping: a line that continues a paragraph or a list item joins it."""
    lines: list[str] = []
    joinable = False
    for raw in text.splitlines():
        stripped = raw.strip()
        starts_block = not stripped or _LIST_MARK.match(raw) or stripped.startswith(("#", "|", "```"))
        if joinable and not starts_block:
            lines[-1] += " " + stripped
            continue
        lines.append(raw)
        joinable = bool(stripped) and not stripped.startswith(("#", "|", "```"))
    return lines
