"""The answer composed without an LLM: the most relevant sentences and steps, cited.

This is the embedded default and the fallback when an LLM fails. It breaks the
best passages into units (sentences and list items), scores them by meaning
against the question, skips ones that repeat what is already said or only make
sense in context, and renders them per source, in the source's own order, with
a citation number that matches the sources list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.index.embedder import Embedder
from bot.index.retriever import Passage

MAX_UNITS = 5
MAX_WORDS = 140
REDUNDANT = 0.85  # cosine above which a unit says nothing new
PASSAGE_MARGIN = 0.12  # passages this far below the best one are not quoted
RELEVANCE_DROP = 0.2  # units this far below the best unit are not quoted
LIST_ALLOWANCE = 60  # extra words a quoted list may take to be shown whole
MAX_CONTINUATIONS = 3  # following chunks read to finish a list the splitter cut

_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+(?:\[[ xX]\]\s+)?")  # bullets, numbers, checkboxes
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(])")
_SEE_FILE = re.compile(r"\s*\((?:see|See) [^)]*\.md[^)]*\)")  # "(see credit/x.md)": the sources list does that
_META = re.compile(r"\bthis (?:file|guide|folder|document)\b|\bsee also\b|\.md\b", re.IGNORECASE)
# Lines that speak to the reader as instructions: a system prompt, a request to ignore rules, a
# request to pay or send credentials. Passages are other people's text; an answer never quotes
# such a line as if it were advice.
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
_DANGLING = re.compile(r"^(?:it|this|that|these|those|they|he|she|but|and|so|also|however)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Unit:
    """A sentence or a list item of one passage."""

    passage: int
    position: int
    text: str
    is_item: bool
    lead_in: bool  # a sentence ending in ':' that introduces a list
    block: int  # a paragraph and the list items that follow it share a block

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class Composed:
    text: str
    cited: list[Passage]


def compose(
    question: str,
    passages: list[Passage],
    embedder: Embedder,
    next_passage: Callable[[Passage], Passage | None] | None = None,
) -> Composed:
    """Select a few units that answer the question and cite their passages.

    `next_passage` lets a quoted list that the splitter cut at a chunk's end be
    finished from the following chunk of the same file.
    """
    usable = _usable_passages(passages)
    units = [u for i, p in enumerate(usable) for u in units_of(p.text, i) if not _INSTRUCTION.search(u.text)]
    candidates = [u for u in units if not _META.search(u.text)]
    if not candidates:
        return _excerpt_of_best(usable)
    question_vector = embedder.embed_query(question)
    vectors = embedder.embed([u.text for u in candidates])
    relevance = _relevance(candidates, vectors @ question_vector, usable)
    chosen = [candidates[i] for i in _select(relevance, vectors, candidates)]
    chosen += _lead_ins(chosen, units)
    chosen += _list_items(chosen, units, usable, next_passage)
    return _render(_first_occurrences(chosen), usable)


def _excerpt_of_best(passages: list[Passage]) -> Composed:
    """When no sentence stands on its own (a table, short list items), the best passage itself,
    shortened: an answer is never empty."""
    for passage in passages:
        lines, size = [], 0
        for line in passage.text.splitlines():
            if line.strip() and not _INSTRUCTION.search(line) and size + len(line) <= 600:
                lines.append(line.rstrip())
                size += len(line)
        if lines:
            return Composed("\n".join(lines) + " [1]", [passage])
    return Composed("", [])


def is_instruction(text: str) -> bool:
    """Does this line address the reader as instructions (see _INSTRUCTION)?"""
    return bool(_INSTRUCTION.search(text))


def _usable_passages(passages: list[Passage]) -> list[Passage]:
    """The passages close to the best one. A file's introduction (the text under its title,
    usually a summary of what the file covers) is quoted only when nothing else matches."""
    if not passages:
        return []
    best = passages[0].score
    close = [p for p in passages if p.score >= best - PASSAGE_MARGIN]
    sections = [p for p in close if p.section]
    return (sections or close)[:4]


def _relevance(units: list[Unit], similarity: np.ndarray, passages: list[Passage]) -> np.ndarray:
    """Similarity to the question, plus a share of the passage's score, plus writing-shape hints:
    a section's first sentence usually states its point; a sentence opening with 'It' or 'This'
    leans on one we may not quote."""
    scores = 0.7 * similarity + 0.3 * np.array([passages[u.passage].score for u in units])
    scores += np.array([0.04 if u.position == 0 else 0.0 for u in units])
    scores -= np.array([0.08 if _DANGLING.match(u.text) else 0.0 for u in units])
    return scores


def _select(relevance: np.ndarray, vectors: np.ndarray, units: list[Unit]) -> list[int]:
    """Greedy pick by relevance, skipping near-duplicates, within a word budget."""
    chosen: list[int] = []
    words = 0
    for i in np.argsort(-relevance):
        i = int(i)
        if len(chosen) >= MAX_UNITS or (chosen and relevance[i] < relevance[chosen[0]] - RELEVANCE_DROP):
            break
        if chosen and float(np.max(vectors[chosen] @ vectors[i])) > REDUNDANT:
            continue
        if chosen and words + units[i].words > MAX_WORDS:
            continue
        chosen.append(i)
        words += units[i].words
    return chosen


def _lead_ins(chosen: list[Unit], units: list[Unit]) -> list[Unit]:
    """A quoted list item brings the sentence that introduces its list, so it reads in context."""
    extra: list[Unit] = []
    for item in (u for u in chosen if u.is_item):
        for unit in units:
            same_block = unit.passage == item.passage and unit.block == item.block
            if same_block and unit.lead_in and unit not in chosen and unit not in extra:
                extra.append(unit)
    return extra


def _list_items(
    chosen: list[Unit],
    units: list[Unit],
    passages: list[Passage],
    next_passage: Callable[[Passage], Passage | None] | None,
) -> list[Unit]:
    """A quoted sentence that introduces a list ('…has four steps:') brings the list with it."""
    extra: list[Unit] = []
    words = sum(u.words for u in chosen)
    for lead in [u for u in chosen if u.lead_in]:
        items = [u for u in units if u.passage == lead.passage and u.block == lead.block and u.is_item]
        last = [u for u in units if u.passage == lead.passage][-1]
        runs_to_end = (items[-1] if items else lead) == last  # the splitter cut the list off here
        if runs_to_end and next_passage is not None:
            items += _continued_items(lead, passages[lead.passage], next_passage, {u.text for u in items})
        for unit in items:
            if words + unit.words > MAX_WORDS + LIST_ALLOWANCE:
                break
            if unit not in chosen and unit not in extra:
                extra.append(unit)
                words += unit.words
    return extra


def _continued_items(
    lead: Unit, passage: Passage, next_passage: Callable[[Passage], Passage | None], seen: set[str]
) -> list[Unit]:
    """The list items at the start of the following chunks (a long list may span several),
    minus those repeated by the chunk overlap."""
    continued: list[Unit] = []
    for _ in range(MAX_CONTINUATIONS):
        following = next_passage(passage)
        if following is None:
            break
        units = units_of(following.text, -1)
        for unit in units:
            if not unit.is_item:
                return continued
            if unit.text not in seen:  # placed after the passage's own units, in the lead-in's list
                seen.add(unit.text)
                position = 10_000 + len(continued)
                continued.append(Unit(lead.passage, position, unit.text, True, False, lead.block))
        passage = following
    return continued


def _first_occurrences(units: list[Unit]) -> list[Unit]:
    """Overlapping chunks (and continued lists) can offer the same text twice; quote it once."""
    seen: set[str] = set()
    kept = []
    for unit in sorted(units, key=lambda u: (u.passage, u.position)):
        if unit.text not in seen:
            seen.add(unit.text)
            kept.append(unit)
    return kept


def _render(chosen: list[Unit], passages: list[Passage]) -> Composed:
    """One block per cited passage (best first); sentences as a paragraph, items as a list."""
    cited: list[Passage] = []
    blocks = []
    for passage_no in sorted({u.passage for u in chosen}):
        cited.append(passages[passage_no])
        number = len(cited)
        lines: list[str] = []
        for unit in sorted((u for u in chosen if u.passage == passage_no), key=lambda u: u.position):
            if unit.is_item:
                lines.append(f"- {unit.text}")
            elif lines and not lines[-1].startswith("- "):
                lines[-1] += " " + unit.text
            else:
                lines.append(unit.text)
        lines[-1] += f" [{number}]"
        blocks.append("\n".join(lines))
    return Composed("\n\n".join(blocks), cited)


def units_of(text: str, passage: int) -> list[Unit]:
    """Split a chunk into sentences and list items, in order; headings, tables and code are left out.

    Every paragraph line starts a new block, so a list belongs to the line just above it.
    """
    units: list[Unit] = []
    block = 0
    for line in _logical_lines(text):
        is_item = bool(_LIST_MARK.match(line))
        line = _LIST_MARK.sub("", line).strip()
        if not line:
            continue
        if not is_item:
            block += 1
        if line.startswith(("#", "|", "```")):
            continue
        line = _SEE_FILE.sub("", _MD_LINK.sub(r"\1", line)).replace("**", "").replace("__", "")
        parts = [line] if is_item else _SENTENCE_END.split(line)
        for part in parts:
            part = part.strip()
            lead_in = part.endswith(":")
            if len(part.split()) < (3 if is_item or lead_in else 6):
                continue
            if not lead_in and part[-1] not in ".!?":
                part += "."
            units.append(Unit(passage, len(units), part, is_item, lead_in, block))
    return units


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
