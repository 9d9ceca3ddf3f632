"""What answers a question: the knowledge's sections, the owner's documents, and whether the
question is covered at all, on its own or as a follow-up in a conversation.

- **On its own.** Every section is scored against the question (`Retriever.sections`) and the
  coverage model (`bot.advisor.coverage`) picks the lead, or declines.
- **Asking for more** ("what else?", "tell me more") searches the latest answered question again,
  without the sections already shown.
- **A follow-up** ("and what about the bank?", "is it expensive?", a fragment, a short question)
  is also searched together with the conversation's topic (the previous question's words), and
  offline the sections the owner was already shown in the conversation are left out, so the
  answer adds, never repeats. A follow-up whose fitting sections were all shown is `exhausted`:
  the owner is told nothing else fits well, offered the closest other questions and a consultant.
- **The owner's documents.** Their passages (at least MIN_SCORE) come with the knowledge's; one
  leads when the question is about the document (it names it, as its suggested questions do)
  or matches it better than the knowledge.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.advisor.conversation import (
    Exchange,
    asks_for_more,
    heuristic_standalone,
    looks_like_follow_up,
    needs_rewrite,
)
from bot.advisor.coverage import CoverageModel, Judgement
from bot.config import Settings
from bot.index.owner_documents import Owner, OwnerDocuments
from bot.index.retriever import Passage, Preferences, Retriever

log = logging.getLogger(__name__)

# "What else?" asks for the next section on the topic, not for one that answers a new question:
# a section this likely to answer the topic's question is worth showing (the calibrated bar,
# about 0.8, is for leading an answer to the question itself).
MORE_MIN_CONFIDENCE = 0.5


@dataclass
class Found:
    """What a question is answered from."""

    judgement: Judgement
    searched: str  # what was searched: the question, or the question with the conversation's topic
    follow_up: bool = False  # searched with the conversation's topic
    exhausted: bool = False  # a follow-up whose fitting sections the owner has all been shown
    documents: list[Passage] = field(default_factory=list)  # the owner's passages (≥ MIN_SCORE), best first
    document_lead: Passage | None = None  # the owner's passage the answer leads with

    @property
    def covered(self) -> bool:
        return self.judgement.covered or self.document_lead is not None


def shown_sections(history: Sequence[Exchange]) -> set[str]:
    """The sections (`path#heading`) the conversation's answers cited (all the remembered ones:
    with only the latest few, two declined follow-ups let "what else?" repeat the first answer)."""
    return {key for exchange in history for key in exchange.sections}


class Lookup:
    """Finds what answers a question, for the advisor (it composes nothing)."""

    def __init__(self, retriever: Retriever, settings: Settings, model: CoverageModel) -> None:
        self.retriever = retriever
        self.settings = settings
        self.model = model

    def judge(
        self,
        question: str,
        prefer: Preferences | None = None,
        exclude: set[str] = frozenset(),
        thorough: bool = True,
        threshold: float | None = None,
    ) -> Judgement:
        """The sections that may answer `question`, judged; `thorough` asks every embedding space
        for its opinion (offline, where it pays for itself), else only the question's; covered at
        `threshold` (default: MIN_CONFIDENCE, else the calibrated one)."""
        search = self.retriever.sections(question, second_opinion=thorough)
        limit = threshold if threshold is not None else self.settings.min_confidence
        judgement = self.model.judge(question, search.matches, prefer, exclude, limit)
        lead = judgement.lead
        if judgement.covered and lead is not None and max(lead.dense.values(), default=0.0) < self.settings.min_score:
            judgement.covered = lead.asked.get(search.space, 0.0) >= self.settings.min_score  # a floor for both
        return judgement

    def find(
        self,
        question: str,
        history: Sequence[Exchange] = (),
        prefer: Preferences | None = None,
        thorough: bool = True,
        repeat: bool = False,
    ) -> Found:
        """The sections for `question` in its conversation (see the module's docstring);
        `repeat` allows sections already shown (an LLM writes a new answer from them)."""
        if history and asks_for_more(question):
            return self._more(history, prefer, thorough, repeat)
        alone = self.judge(question, prefer, thorough=thorough)
        if not history or not needs_rewrite(question):
            return Found(alone, question)
        pointing = looks_like_follow_up(question)
        if alone.covered and not pointing:
            return Found(alone, question)
        searched = heuristic_standalone(question, history, unclear=True)
        if searched == question:
            return Found(alone, question)
        shown = set() if repeat else shown_sections(history)
        together = self.judge(searched, prefer, shown, thorough)
        if together.covered:
            return Found(together, searched, follow_up=True)
        if alone.covered:
            return Found(alone, question)
        exhausted = bool(shown) and self.judge(searched, prefer, thorough=thorough).covered
        return Found(together, searched, follow_up=True, exhausted=exhausted)

    def _more(self, history: Sequence[Exchange], prefer: Preferences | None, thorough: bool, repeat: bool) -> Found:
        """More on the conversation's topic ("what else?", "tell me more"): the latest answered
        question, and the latest one asked on its own (a follow-up's words may have drifted),
        searched again without the sections already shown; the surer of the two answers. When
        nothing else fits well, that is said (`exhausted`) and the closest others are offered."""
        shown = set() if repeat else shown_sections(history)
        threshold = max(MORE_MIN_CONFIDENCE, self.settings.min_confidence or 0.0)
        found = None
        for topic in _topics(history):
            judgement = self.judge(topic, prefer, shown, thorough, threshold)
            if found is None or judgement.confidence > found.judgement.confidence:
                found = Found(judgement, topic, follow_up=True, exhausted=bool(shown) and not judgement.covered)
        return found

    def with_documents(self, found: Found, question: str, owner: Owner | None, store: OwnerDocuments) -> Found:
        """Add the owner's document passages (at least MIN_SCORE, or of a document the question
        names) and choose whether one leads. A store that fails is logged; the knowledge still answers."""
        if owner is None or not owner.documents:
            return found
        try:
            own = store.search(owner, found.searched, self.settings.top_k)
        except Exception:
            log.exception("could not search the documents of %s; answering from the knowledge base", owner.key)
            return found
        named = _named(question, own)
        found.documents = [p for p in own if p.score >= self.settings.min_score or p.path in named]
        if not found.documents:
            return found
        best = next((p for p in found.documents if p.path in named), found.documents[0])
        lead = found.judgement.lead
        knowledge = max(lead.dense.values(), default=0.0) if lead is not None and found.judgement.covered else 0.0
        if best.path in named or best.score >= knowledge:
            found.document_lead = best
        return found


def _topics(history: Sequence[Exchange]) -> list[str]:
    """What "what else?" is about: the latest answered question (as searched), then the latest
    one asked on its own, if that is another."""
    answered = [exchange for exchange in history if exchange.sections] or list(history[-1:])
    latest = answered[-1].standalone_question or answered[-1].question
    own = next((e.question for e in reversed(answered) if e.standalone_question in {"", e.question}), latest)
    return [latest] if own == latest else [latest, own]


def _named(question: str, passages: list[Passage]) -> set[str]:
    """The documents (`doc:<id>`) whose title the question names ("the main points of “Plan”")."""
    folded = " ".join(question.casefold().split())
    names = set()
    for passage in passages:
        title = " ".join(passage.title.casefold().split())
        if len(title) >= 3 and re.search(rf"(?<!\w){re.escape(title)}(?!\w)", folded):
            names.add(passage.path)
    return names
