"""The answer composed without an LLM: the section that answers, said as it is written.

This is what every owner sees until an LLM is configured, and the fallback afterwards, so it
has to read like advice, not like search results:

1. **The lead** is the opening of the section the coverage model chose (`bot.advisor.coverage`):
   the section answers its heading's question first, so its first paragraphs are the answer.
   Whole paragraphs, and lists whole (`bot.advisor.blocks`): a list comes with the sentence that
   introduces it and every one of its items, never from its fifth step. A file's introduction
   ("This file explains…") never leads.
2. **Also relevant**: the opening sentence of up to two sections of other files that come close.
3. **From your document**: with the owner's own document, its passage leads when the question
   is about it (it names the document, or the passage matches better than the knowledge); the
   knowledge then adds to it.

Cross-references to other knowledge files are said as their titles, never as paths. Every
passage is cited once, numbered in order of first use (`[1]`, `[2]` for the knowledge base;
`[D1]` for the owner's documents); the answer stays under ~220 words and is never empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.advisor import texts
from bot.advisor.blocks import (
    Block,
    balanced,
    blocks_of,
    excerpt,
    first_sentence,
    markdown,
    opening,
    referenced_paths,
)
from bot.index.retriever import Passage, Preferences, matched_preferences
from bot.index.sections import Section
from bot.locales import Translate

LEAD_WORDS = 110  # the lead's budget in whole paragraphs
LIST_WORDS = 230  # …or a paragraph with the whole list it introduces
ALSO_FILES = 2  # other files named under "Also relevant"
ALSO_WORDS = 28  # per "Also relevant" line
DOCUMENT_WORDS = 90  # the owner's document's passage when it leads


@dataclass(frozen=True)
class Quoted:
    """A cited piece of the answer: the passage it stands for, and what the Sources button shows."""

    passage: Passage
    excerpt: str


@dataclass
class Composed:
    text: str
    cited: list[Quoted] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # knowledge files the lead points to (paths)


Scored = tuple[Section, float]  # a section and its chance of answering (`bot.advisor.coverage`)


def compose(
    lead: Scored | None,
    also: list[Scored],
    titles: Callable[[str], str | None],
    document: Passage | None = None,
    prefer: Preferences | None = None,
    _: Translate = str,
) -> Composed:
    """The offline answer: `lead`'s opening, then a line from each of `also` (other files' sections
    that come close); with the owner's `document` passage, that leads and the knowledge follows.
    `titles` gives a knowledge file's title by its path (to say cross-references)."""
    composed = Composed("")
    if document is not None:
        quote = _document_quote(document, titles)
        composed.cited.append(quote)
        composed.text = f"{markdown(opening(blocks_of(document.text, titles), DOCUMENT_WORDS, LIST_WORDS))} [D1]"
        if lead is not None:
            also = [lead, *also]
        lead = None
    if lead is not None:
        section, chance = lead
        blocks = blocks_of(section.text, titles)
        chosen = opening(blocks, LEAD_WORDS, LIST_WORDS) or blocks[:1]
        if not chosen:
            return composed
        composed.cited.append(Quoted(_passage(section, chosen, chance), excerpt(chosen)))
        composed.text = f"{markdown(chosen)} {citation(composed.cited)}"
        composed.references = [p for p in referenced_paths(section.text) if p != section.path]
        fits = matched_preferences(section, prefer or {})
        if fits:  # only where the section's front matter supports it
            composed.text = f"{texts.for_a_business_like_yours(_, fits)}\n\n{composed.text}"
    bullets = []
    for section, chance in _other_files(also, composed):
        sentence = _also_line(section, titles)
        if not sentence:
            continue
        composed.cited.append(Quoted(_passage(section, blocks_of(section.text, titles)[:1], chance), sentence))
        bullets.append(f"- {sentence} {citation(composed.cited)}")
    if bullets:
        composed.text += f"\n\n**{texts.also_relevant(_)}**\n" + "\n".join(bullets)
    return composed


def citation(cited: list[Quoted]) -> str:
    """The citation of the last of `cited`: `[n]` counting knowledge passages, `[Dn]` counting
    the owner's document passages (numbered as `answer.numbered_sources` numbers them)."""
    kind = cited[-1].passage.is_document
    number = sum(1 for quote in cited if quote.passage.is_document == kind)
    return f"[D{number}]" if kind else f"[{number}]"


def _other_files(also: list[Scored], composed: Composed) -> list[Scored]:
    """Up to ALSO_FILES sections, one per file, of files not cited yet."""
    files = {quote.passage.path for quote in composed.cited}
    chosen = []
    for section, chance in also:
        if section.path not in files:
            files.add(section.path)
            chosen.append((section, chance))
        if len(chosen) == ALSO_FILES:
            break
    return chosen


def _also_line(section: Section, titles: Callable[[str], str | None]) -> str:
    """The opening sentence of a section (its answer, by the knowledge files' convention),
    shortened to ALSO_WORDS."""
    prose = next((block.text for block in blocks_of(section.text, titles) if not block.is_list), "")
    sentence = first_sentence(prose)
    words = sentence.split()
    if len(words) > ALSO_WORDS:
        sentence = balanced(" ".join(words[:ALSO_WORDS]).rstrip(",;:") + "…")
    return sentence


def section_passage(section: Section, score: float, titles: Callable[[str], str | None], words: int) -> Passage:
    """A section's opening (about `words` words, lists whole) as a `Passage`: what an LLM's prompt quotes."""
    return _passage(section, opening(blocks_of(section.text, titles), words, LIST_WORDS), score)


def _passage(section: Section, chosen: list[Block], score: float = 0.0) -> Passage:
    """A cited section as a `Passage` (what sources and storage record)."""
    return Passage(
        text=markdown(chosen),
        path=section.path,
        title=section.title,
        heading=section.heading,
        score=round(score, 4),
        topic=section.topic,
        tags=section.tags,
        audience=section.audience,
        region=section.region,
        language=section.language,
    )


def _document_quote(passage: Passage, titles: Callable[[str], str | None]) -> Quoted:
    return Quoted(passage, excerpt(blocks_of(passage.text, titles)))
