"""What the advisor gives back: an `Answer` with its numbered `Source`s.

Channels show it, storage records it, review reads it back. It holds everything an
owner sees and everything an admin needs to review how it was made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Literal

from bot.advisor import texts
from bot.index.retriever import Passage
from bot.locales import Translate

# offline / llm: the advisor's; smalltalk: "hi" and "thanks"; human: a consultant's reply;
# handover: an owner's request or message passed on to a consultant
Mode = Literal["offline", "llm", "smalltalk", "human", "handover"]


@dataclass(frozen=True)
class Failure:
    """Why the model gave no answer (it is logged, stored with the turn, and answered offline)."""

    cause: str


@dataclass(frozen=True)
class Source:
    """A cited passage as the owner sees it: `label` matches the citation in the text, `[n]` for
    the knowledge base and `[Dn]` for the owner's own documents (`kind` "document", whose
    `path` is `doc:<id>` and `chunk` the passage's place in it)."""

    number: int
    path: str
    title: str
    heading: str
    score: float
    excerpt: str
    kind: str = "knowledge"
    chunk: int = 0

    @property
    def label(self) -> str:
        return f"D{self.number}" if self.kind == "document" else str(self.number)

    @classmethod
    def from_passage(cls, number: int, passage: Passage, _: Translate = str) -> Source:
        if not passage.is_document:
            return cls(number, passage.path, passage.title, passage.heading, passage.score, passage.excerpt())
        title = texts.your_document(_, passage.title, passage.page)
        heading = f"{title} > {passage.section}" if passage.section else title
        excerpt = passage.excerpt()
        return cls(number, passage.path, title, heading, passage.score, excerpt, "document", passage.chunk_index)


def numbered_sources(passages: list[Passage], _: Translate = str, excerpts: list[str] | None = None) -> list[Source]:
    """The sources of cited passages, in order, numbered per kind: knowledge 1, 2…; documents D1,
    D2…; `excerpts`: what the Sources button shows of each (default: the passage's text, cut)."""
    counts = {True: 0, False: 0}
    sources = []
    for n, passage in enumerate(passages):
        counts[passage.is_document] += 1
        source = Source.from_passage(counts[passage.is_document], passage, _)
        if excerpts is not None and excerpts[n]:
            source = dataclasses.replace(source, excerpt=excerpts[n])
        sources.append(source)
    return sources


@dataclass
class Answer:
    """Everything a channel needs to show an answer, and everything an admin needs to review it."""

    question: str
    text: str
    covered: bool
    mode: Mode
    sources: list[Source] = field(default_factory=list)
    standalone_question: str = ""
    best_score: float = 0.0
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None  # why the LLM was not used, when it should have been
    truncated: bool = False  # the model stopped before it finished (length limit, cut stream)
    cancelled: bool = False  # the owner stopped it (/cancel) before it was finished
    follow_ups: list[str] = field(default_factory=list)  # next questions the knowledge base answers too
    notes: list[str] = field(default_factory=list)
    answered_by: str | None = None  # the consultant who wrote a `human` answer
    input_kind: str | None = None  # how the question arrived: voice | photo | document; None: typed
    language: str = ""  # its fixed texts' language (the question's, else the owner's): the channel's follow it
    confidence: float = 0.0  # how likely the section it leads with answers the question (`bot.advisor.coverage`)
    references: list[str] = field(default_factory=list)  # knowledge files its lead points to (paths, never shown)

    @property
    def lead(self) -> Source | None:
        """The source the answer opens with (None: it quotes none)."""
        cited = self.cited_sources()
        return cited[0] if cited else None

    def cited_sources(self) -> list[Source]:
        """The sources in the order the text first cites them (then any it does not cite)."""

        def first_use(source: Source) -> int:
            found = self.text.find(f"[{source.label}]")
            return found if found >= 0 else len(self.text) + source.number

        return sorted(self.sources, key=first_use)

    def to_dict(self) -> dict:
        return asdict(self)


FOLLOW_UPS = 2
FOLLOW_UP_CHARACTERS = 60  # short enough to read whole on a button on a phone


def follow_ups(candidates: list[str], count: int = FOLLOW_UPS) -> list[str]:
    """Up to `count` (two) next questions the knowledge base answers, from question-headings in
    the order given: questions short enough to read whole on a button on a phone, each once."""
    questions: list[str] = []
    for candidate in candidates:
        question = (candidate or "").strip()
        if question.endswith("?") and len(question) <= FOLLOW_UP_CHARACTERS and question not in questions:
            questions.append(question)
        if len(questions) == count:
            break
    return questions
