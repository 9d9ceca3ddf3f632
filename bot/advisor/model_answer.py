"""The model's part of an answer: rewriting a question to search with, and the streamed answer.

The pipeline (`bot.advisor.pipeline`) decides whether the model is asked at all (a question the
knowledge base does not cover never reaches it); this module asks it: one call to make a
follow-up standalone or translate a question into the knowledge's language, and the answer
itself, streamed with its citations checked as they arrive, from the openings of the sections
most likely to answer (`prompt_passages`). Any failure (a timeout, a refused connection, a 5xx,
a cut or empty answer) comes back as a `Failure`, and the pipeline answers offline.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable

from bot.advisor import texts
from bot.advisor.answer import Answer, Failure, Source
from bot.advisor.chat_model import chunk_text, describe_failure
from bot.advisor.citations import CitationFilter
from bot.advisor.conversation import Exchange, Profile
from bot.advisor.lookup import Found
from bot.advisor.offline import section_passage
from bot.advisor.prompts import (
    NEXT_CLOSE,
    NEXT_OPEN,
    QUESTION_LANGUAGE,
    Prompts,
    defused,
    history_messages,
    history_text,
    label_number,
    labelled,
    next_questions_text,
    passages_text,
)
from bot.config import Settings
from bot.index.retriever import Passage
from bot.knowledge.tokens import count_tokens
from bot.locales import Translate

log = logging.getLogger(__name__)

PROMPT_MIN_CHANCE = 0.05  # sections less likely than this to answer stay out of the model's prompt
PROMPT_WORDS = 110  # of each section's opening in the prompt (the lead's: twice as many)


class ModelAnswers:
    """The chat model's calls, with the prompts and the limits settings give."""

    def __init__(self, chat_model, prompts: Prompts, settings: Settings) -> None:
        self.chat_model = chat_model
        self.prompts = prompts
        self.settings = settings

    async def rewrite(
        self, question: str, history: list[Exchange], language: str, timings: dict, deadline: float
    ) -> tuple[str, str | None]:
        """The question made standalone and in `language` by the model (one call), and why it
        failed (None when it did not; then the question comes back as it was)."""
        from langchain_core.messages import HumanMessage  # only with a model (offline never loads it)

        started = time.perf_counter()
        prompt = self.prompts.rewrite.format(
            history=defused(history_text(history)) or "(none)",
            question=defused(question),
            language=language,
        )
        try:
            async with asyncio.timeout_at(deadline):
                reply = await self.chat_model.ainvoke([HumanMessage(prompt)])
        except Exception as exc:  # the model is down: answer offline, and say why in the log
            cause = describe_failure(exc)
            log.warning("LLM rewrite failed (%s); falling back to offline answer", cause)
            return question, cause
        finally:
            timings["rewrite"] = _ms(started)
        rewritten = " ".join(str(reply.content).split()).strip().strip('"')
        return (rewritten or question), None

    async def stream(
        self,
        question: str,
        history: list[Exchange],
        profile: Profile,
        passages: list[Passage],
        timings: dict,
        deadline: float,
        _: Translate = str,
        language: str | None = None,
        translate: tuple[list[str], str] = ([], ""),
        translated: dict[str, str] | None = None,
    ) -> AsyncIterator[str | Answer | Failure]:
        """Stream the model's answer with citations checked; end with an Answer or a Failure.
        `language` (an English name): what to write in, whatever the question's (a tapped
        suggestion); `translate`: next questions and the language (an English name) the model
        translates them into in the same call, after the answer: they go in `translated`
        (question → translation), never in the text."""
        started = time.perf_counter()
        by_label = labelled(passages)
        knowledge = passages_text([(n, p) for n, p in by_label.items() if not p.is_document], _)
        documents = passages_text([(n, p) for n, p in by_label.items() if p.is_document], _)
        if "documents" not in self.prompts.answer.input_variables:  # a template without the placeholder
            knowledge, documents = "\n\n".join(t for t in (knowledge, documents) if t), ""
        messages = self.prompts.answer.format_messages(
            history=history_messages(history),
            profile=defused(profile.describe()),
            passages=defused(knowledge),
            documents=defused(documents or "(none)"),
            question=defused(question),
            language=language or QUESTION_LANGUAGE,
            next_questions=defused(next_questions_text(*translate)),
        )
        citations = CitationFilter(set(by_label))
        block = NextQuestions()
        text: list[str] = []
        usage: dict = {}
        finish: str | None = None
        length = 0
        try:
            async with asyncio.timeout_at(deadline):
                async for chunk in self.chat_model.astream(messages):
                    if chunk.usage_metadata:
                        usage = dict(chunk.usage_metadata)
                    finish = chunk.response_metadata.get("finish_reason") or finish
                    delta = citations.feed(block.feed(chunk_text(chunk.content)))
                    if delta:
                        text.append(delta)
                        length += len(delta)
                        yield delta
                    if length > self.settings.answer_max_chars:
                        finish = "too long"  # stop reading: an owner on a phone will not read 14 messages
                        break
            if rest := citations.feed(block.finish()) + citations.finish():
                text.append(rest)
                yield rest
        except Exception as exc:  # timeout, connection refused, 5xx, 429 after retries
            timings["generate"] = _ms(started)
            cause = describe_failure(exc)
            log.warning("LLM answer failed after %.0f ms (%s); answering offline", timings["generate"], cause)
            yield Failure(cause)
            return
        timings["generate"] = _ms(started)
        if translated is not None:
            translated.update(block.translations(translate[0]))
        body = "".join(text).strip()
        truncated = finish not in ("stop", "end_turn", "STOP", "eos")  # cut stream (None), length limit, our cap
        if truncated:
            log.warning("LLM answer was cut short (finish reason %s); keeping its whole sentences", finish)
            body = whole_sentences(body)
        if not body:
            log.warning("LLM returned an empty answer; answering offline")
            yield Failure("the model's answer was cut short" if truncated else "the model returned an empty answer")
            return
        cited = citations.cited or list(by_label)  # no valid citation: list them all
        ordered = sorted(cited, key=lambda label: (isinstance(label, str), label_number(label)))
        yield Answer(
            question=question,
            text=body,
            covered=True,
            mode="llm",
            sources=[Source.from_passage(label_number(label), by_label[label], _) for label in ordered],
            model=self.settings.llm_model,
            input_tokens=usage.get("input_tokens") or sum(count_tokens(str(m.content)) for m in messages),
            output_tokens=usage.get("output_tokens") or count_tokens(body),
            truncated=truncated,
            notes=[texts.cut_short(_)] if truncated else [],
        )


class NextQuestions:
    """Holds back the `<next>` block that ends a streamed answer (the next questions translated,
    `prompts.next_questions_text`): the owner never sees it, in a draft or in the answer."""

    def __init__(self) -> None:
        self._pending = ""  # text that may be the start of NEXT_OPEN
        self.block: str | None = None  # what came after NEXT_OPEN

    def feed(self, text: str) -> str:
        """The part of `text` to show."""
        if self.block is not None:
            self.block += text
            return ""
        text, self._pending = self._pending + text, ""
        at = text.find(NEXT_OPEN)
        if at >= 0:
            self.block = text[at + len(NEXT_OPEN) :]
            return text[:at]
        keep = next((n for n in range(len(NEXT_OPEN) - 1, 0, -1) if text.endswith(NEXT_OPEN[:n])), 0)
        if keep:
            text, self._pending = text[:-keep], text[-keep:]
        return text

    def finish(self) -> str:
        """What was held back and turned out not to be the block."""
        rest, self._pending = self._pending, ""
        return rest

    def translations(self, questions: list[str]) -> dict[str, str]:
        """Each of `questions` to its translation, by number (the model's numbered lines); a
        question the model left out has none."""
        lines = (self.block or "").split(NEXT_CLOSE)[0].splitlines()
        numbered = (re.match(r"\s*(\d{1,2})[.)]\s+(.+?)\s*$", line) for line in lines)
        found = {int(m.group(1)): m.group(2) for m in numbered if m}
        return {q: found[n][:MAX_TRANSLATION] for n, q in enumerate(questions, start=1) if found.get(n)}


MAX_TRANSLATION = 120  # characters: a button's question, not a paragraph


def prompt_passages(found: Found, top_k: int, titles: Callable[[str], str | None]) -> list[Passage]:
    """The model's passages: the openings of the TOP_K likeliest sections, the lead's first and
    longest, then the owner's document passages (the one the question is about first)."""
    ranked = [(m.section, c) for m, c in found.judgement.ranked if c >= PROMPT_MIN_CHANCE][:top_k]
    passages = [
        section_passage(section, chance, titles, PROMPT_WORDS * (2 if n == 0 else 1))
        for n, (section, chance) in enumerate(ranked)
    ]
    documents = found.documents
    if found.document_lead is not None:
        documents = [found.document_lead, *[p for p in documents if p is not found.document_lead]]
    return passages + documents


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


_SENTENCE_END = re.compile(r"(?:[.!?…](?:\s*\[D?\d+(?:,\s*D?\d+)*\])?[\"')\]*]?|\n)\s")
MIN_KEPT = 40  # characters: less than this of a cut answer is not worth showing


def whole_sentences(text: str) -> str:
    """A cut answer up to its last complete sentence (or line), or "" when too little is left."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text + " ")]
    kept = text[: ends[-1]].rstrip() if ends else ""
    return kept if len(kept) >= MIN_KEPT else ""
