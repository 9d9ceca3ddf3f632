"""The advisor: a question in, an answer with sources out.

It knows nothing of Telegram or terminals; every channel calls `Advisor.answer`.
Retrieval runs in a worker thread so an async channel stays responsive while
the embedding model works.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Literal

from bot.config import Settings
from bot.offline import compose
from bot.retrieval import Passage, Retriever

Mode = Literal["offline", "llm"]


@dataclass(frozen=True)
class Source:
    """A cited passage as the owner sees it: `number` matches the `[n]` in the text."""

    number: int
    path: str
    title: str
    heading: str
    score: float
    excerpt: str

    @classmethod
    def from_passage(cls, number: int, passage: Passage) -> Source:
        return cls(number, passage.path, passage.title, passage.heading, passage.score, passage.excerpt())


@dataclass
class Answer:
    """Everything a channel needs to show an answer, and everything an admin needs to review it."""

    question: str
    text: str
    covered: bool
    mode: Mode
    sources: list[Source] = field(default_factory=list)
    best_score: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class Advisor:
    """Answers owners' questions from the knowledge index."""

    def __init__(self, retriever: Retriever, settings: Settings) -> None:
        self.retriever = retriever
        self.settings = settings
        self._topics: dict[str, list[str]] | None = None

    def warm_up(self) -> None:
        """Load the embedding model now, so the first owner does not wait for it."""
        self.retriever.embedder.embed_query("warm up")

    async def answer(self, question: str) -> Answer:
        started = time.perf_counter()
        question = " ".join(question.split())
        passages = await asyncio.to_thread(self.retriever.retrieve, question, self.settings.top_k)
        retrieved = time.perf_counter()
        best = passages[0].score if passages else 0.0
        if best < self.settings.min_score:
            answer = Answer(question, await asyncio.to_thread(self.not_covered_text), False, "offline", best_score=best)
        else:
            composed = await asyncio.to_thread(
                compose, question, passages, self.retriever.embedder, self.retriever.next_passage
            )
            sources = [Source.from_passage(i + 1, p) for i, p in enumerate(composed.cited)]
            answer = Answer(question, composed.text, True, "offline", sources, best)
        done = time.perf_counter()
        answer.timings_ms = {
            "retrieve": round((retrieved - started) * 1000, 1),
            "total": round((done - started) * 1000, 1),
        }
        return answer

    def not_covered_text(self) -> str:
        """Say plainly that the question is outside the knowledge base, and what it does cover."""
        if self._topics is None:
            self._topics = self.retriever.topics()
        lines = [
            "I don't have material on that in my knowledge base, so I won't guess.",
            "",
            "I can help with:",
        ]
        for topic, titles in self._topics.items():
            examples = "; ".join(titles[:3])
            lines.append(f"- {topic.capitalize()}: {examples}")
        return "\n".join(lines)


def make_advisor(settings: Settings, retriever: Retriever | None = None) -> Advisor:
    """The advisor the channels use, built from settings."""
    from bot.retrieval import make_retriever

    return Advisor(retriever or make_retriever(settings), settings)
