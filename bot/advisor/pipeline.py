"""The advisor: a question in, an answer with sources out.

It knows nothing of Telegram or terminals; every channel calls `Advisor.answer`
or `Advisor.stream`. With a chat model (LLM_MODEL) it answers from retrieved
passages with verified citations; without one, or when the model fails or
times out, it composes the answer offline from the same passages. It never asks
the model to improvise when retrieval finds nothing relevant.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Sequence

from langchain_core.messages import HumanMessage

from bot.advisor import texts
from bot.advisor.answer import Answer, Failure, Mode, Source, follow_ups, numbered_sources
from bot.advisor.chat_model import chunk_text, describe_failure
from bot.advisor.citations import CitationFilter
from bot.advisor.conversation import (
    Exchange,
    Profile,
    focus_question,
    heuristic_standalone,
    looks_like_follow_up,
    needs_rewrite,
    trim_history,
)
from bot.advisor.offline import compose
from bot.advisor.prompts import (
    Prompts,
    defused,
    history_messages,
    history_text,
    label_number,
    labelled,
    load_prompts,
    passages_text,
)
from bot.config import Settings
from bot.index.language import detect_language
from bot.index.owner_documents import Owner, OwnerDocuments
from bot.index.retriever import Passage, Retriever
from bot.knowledge.tokens import count_tokens
from bot.locales import Translate
from bot.locales import texts as texts_for

log = logging.getLogger(__name__)

KNOWLEDGE_LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "pt": "Portuguese", "ru": "Russian", "fr": "French"}
COMPOSE_DEPTH = 10  # passages the offline answer chooses from
CLEAR_ALONE_MARGIN = 0.15  # above MIN_SCORE: a short question this clear on its own is not rewritten
FALLBACK_NOTE = texts.fallback_note(str)  # in English: what tests and the README quote


class Advisor:
    """Answers owners' questions from the knowledge index (and an owner's own documents), with or
    without a chat model."""

    def __init__(
        self,
        retriever: Retriever,
        settings: Settings,
        chat_model=None,
        prompts: Prompts | None = None,
        owner_documents: OwnerDocuments | None = None,
    ) -> None:
        self.retriever = retriever
        self.settings = settings
        self.chat_model = chat_model
        self.prompts = prompts or load_prompts(settings.prompts_dir)
        self._owner_documents = owner_documents
        self._opening = threading.Lock()

    @property
    def owner_documents(self) -> OwnerDocuments:
        """The owners' private store, opened on first use (in DATA_DIR, or on the Chroma server)."""
        if self._owner_documents is None:
            with self._opening:
                if self._owner_documents is None:
                    self._owner_documents = OwnerDocuments(self.settings, self.retriever.embeddings)
        return self._owner_documents

    @property
    def mode(self) -> Mode:
        return "llm" if self.chat_model is not None else "offline"

    def warm_up(self) -> None:
        """Load the models, the index and the token counter now (~1 s, ~150 MB that the first
        question would otherwise load), so the first owner does not wait for them."""
        self.retriever.warm_up()
        count_tokens("warm up")

    async def answer(
        self,
        question: str,
        conversation: Sequence[Exchange] = (),
        profile: Profile | None = None,
        language: str | None = None,
        owner: Owner | None = None,
    ) -> Answer:
        """The whole answer at once (the same work as `stream`, without the deltas)."""
        final = None
        async for event in self.stream(question, conversation, profile, language, owner):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    async def stream(
        self,
        question: str,
        conversation: Sequence[Exchange] = (),
        profile: Profile | None = None,
        language: str | None = None,
        owner: Owner | None = None,
    ) -> AsyncIterator[str | Answer]:
        """Yield text deltas as the model writes, then the final `Answer`.

        When all goes well the deltas join to exactly `Answer.text`. When the model
        fails half-way, the final `Answer` holds the offline fallback instead, so a
        channel should always show the final `Answer.text`. Fixed texts (notes, the
        not-covered reply) are in the question's language, else the owner's (`language`).
        With an `owner`, the best passages of their own documents (at least MIN_SCORE) join
        the knowledge's, cited `[D1]`, `[D2]`…
        """
        started = time.perf_counter()
        profile = profile or Profile()
        owner_language = texts.language_for(question, language)
        _ = texts_for(owner_language)
        focus = focus_question(question, self.settings.question_max_tokens)
        question = focus.text
        notes = [texts.long_message(_, focus.asked, focus.context)] if focus.cut else []
        if not any(ch.isalnum() for ch in question):  # empty, or only punctuation and symbols: nothing to search
            yield Answer(question=question, text=texts.empty_question(_), covered=False, mode="offline")
            return
        history = trim_history(conversation, self.settings.memory_tokens)
        timings: dict[str, float] = {}
        # One deadline for the model's whole part (a follow-up's rewrite, then the answer): the
        # owner waits at most LLM_TIMEOUT for it, then gets the offline answer.
        deadline = asyncio.get_running_loop().time() + self.settings.llm_timeout
        standalone, error = await self._standalone(question, history, timings, deadline)
        search = focus.question if focus.cut and standalone == question else standalone  # a long message: its question
        passages = await self._retrieve(search, profile, timings, owner)
        best = passages[0].score if passages else 0.0
        answer: Answer | None = None
        if best < self.settings.min_score:
            answer = Answer(question, await asyncio.to_thread(self.not_covered_text, _), False, "offline")
        elif self.chat_model is not None and error is None:
            prompt_passages = [p for p in passages if not p.is_document][: self.settings.top_k]
            prompt_passages += [p for p in passages if p.is_document]
            async for event in self._generate(question, history, profile, prompt_passages, timings, deadline, _):
                if isinstance(event, str):
                    yield event
                elif isinstance(event, Failure):
                    error = event.cause
                else:
                    answer = event
        if answer is None:
            answer = await self._offline(question, passages, error, profile, owner_language)
        answer.standalone_question, answer.best_score, answer.language = standalone, best, owner_language
        if answer.covered:
            answer.follow_ups = follow_ups(passages, answer.sources)
        answer.notes = notes + answer.notes
        timings["total"] = _ms(started)
        answer.timings_ms = timings
        yield answer

    async def offline_answer(
        self, question: str, profile: Profile | None = None, language: str | None = None
    ) -> Answer:
        """The answer composed without the chat model, as owners see it without an LLM (the eval)."""
        owner_language = texts.language_for(question, language)
        passages = await self._retrieve(question, profile or Profile(), {})
        if not passages or passages[0].score < self.settings.min_score:
            text = await asyncio.to_thread(self.not_covered_text, texts_for(owner_language))
            return Answer(question, text, False, "offline", language=owner_language)
        return await self._offline(question, passages, None, profile or Profile(), owner_language)

    # ----------------------------------------------------------------- steps

    async def _standalone(
        self, question: str, history: list[Exchange], timings: dict, deadline: float
    ) -> tuple[str, str | None]:
        """The question to search the knowledge base with: a follow-up made standalone, and a
        question in another language than the knowledge base's translated into it, by the
        model in one call (retrieval then uses the knowledge's own language; the answer is
        still written to the original question).

        Only such questions go to the model: a rewrite costs a whole extra model round trip.
        Without a model, follow-ups are rewritten by a heuristic and other languages are
        searched as they are (the multilingual embedding finds English passages for them).
        """
        foreign = self._foreign(question)
        follow_up = bool(history) and needs_rewrite(question)
        if follow_up and not foreign and not looks_like_follow_up(question):
            follow_up = not await self._clear_alone(question)  # short, but perhaps plain on its own
        if not follow_up and not foreign:
            return question, None
        if self.chat_model is None:
            return heuristic_standalone(question, history, follow_up), None
        started = time.perf_counter()
        prompt = self.prompts.rewrite.format(
            history=defused(history_text(history)) or "(none)",
            question=defused(question),
            language=KNOWLEDGE_LANGUAGE_NAMES.get(self._knowledge_language(), "English"),
        )
        try:
            async with asyncio.timeout_at(deadline):
                reply = await self.chat_model.ainvoke([HumanMessage(prompt)])
        except Exception as exc:  # the model is down: answer offline, and say why in the log
            cause = describe_failure(exc)
            log.warning("LLM rewrite failed (%s); falling back to offline answer", cause)
            return heuristic_standalone(question, history, follow_up), cause
        finally:
            timings["rewrite"] = _ms(started)
        rewritten = " ".join(str(reply.content).split()).strip().strip('"')
        return (rewritten or question), None

    async def _clear_alone(self, question: str) -> bool:
        """Whether a short question with no word pointing back ("Should I sell cross-border?") matches
        a passage so well alone that a rewrite cannot help (no model call; its embedding is cached)."""
        passages = await asyncio.to_thread(self.retriever.retrieve, question, 1)
        return bool(passages) and passages[0].score >= self.settings.min_score + CLEAR_ALONE_MARGIN

    def _knowledge_language(self) -> str:
        languages = self.retriever.catalog().languages
        return "en" if "en" in languages or not languages else sorted(languages)[0]

    def _lead_language(self, cited: list[Passage]) -> str:
        """The language the offline answer quotes: its first knowledge passage's (a Spanish file
        answering a Spanish question needs no "here it is in English"), else the knowledge's."""
        return next((p.language for p in cited if p.language), self._knowledge_language())

    def _foreign(self, question: str) -> bool:
        """Is `question` confidently in another language than the knowledge base?"""
        language = detect_language(question)
        return language is not None and language != self._knowledge_language()

    async def _retrieve(
        self, question: str, profile: Profile, timings: dict, owner: Owner | None = None
    ) -> list[Passage]:
        """The passages for an answer: TOP_K for the model's prompt, and at least COMPOSE_DEPTH
        for the offline answer, which ranks files by more than their best passage. With an
        `owner`, up to TOP_K of their documents' passages scoring at least MIN_SCORE join them,
        all best first. A store that fails is logged; the knowledge still answers."""
        started = time.perf_counter()
        depth = max(self.settings.top_k, COMPOSE_DEPTH)
        passages = await asyncio.to_thread(self.retriever.retrieve, question, depth, None, profile.preferences())
        if owner is not None and owner.documents:
            try:
                own = await asyncio.to_thread(self.owner_documents.search, owner, question, self.settings.top_k)
            except Exception:
                log.exception("could not search the documents of %s; answering from the knowledge base", owner.key)
                own = []
            passages = sorted(
                passages + [p for p in own if p.score >= self.settings.min_score], key=lambda p: -p.score
            )
        timings["retrieve"] = _ms(started)
        return passages

    async def _generate(
        self,
        question: str,
        history: list[Exchange],
        profile: Profile,
        passages: list[Passage],
        timings: dict,
        deadline: float,
        _: Translate = str,
    ) -> AsyncIterator[str | Answer | Failure]:
        """Stream the model's answer with citations checked; end with an Answer or a Failure."""
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
        )
        citations = CitationFilter(set(by_label))
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
                    delta = citations.feed(chunk_text(chunk.content))
                    if delta:
                        text.append(delta)
                        length += len(delta)
                        yield delta
                    if length > self.settings.answer_max_chars:
                        finish = "too long"  # stop reading: an owner on a phone will not read 14 messages
                        break
            if rest := citations.finish():
                text.append(rest)
                yield rest
        except Exception as exc:  # timeout, connection refused, 5xx, 429 after retries
            timings["generate"] = _ms(started)
            cause = describe_failure(exc)
            log.warning("LLM answer failed after %.0f ms (%s); answering offline", timings["generate"], cause)
            yield Failure(cause)
            return
        timings["generate"] = _ms(started)
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

    async def _offline(
        self, question: str, passages: list[Passage], error: str | None, profile: Profile, language: str = "en"
    ) -> Answer:
        _ = texts_for(language)
        embedder = self.retriever.embedder_for(question)

        def following(passage: Passage) -> Passage | None:
            return None if passage.is_document else self.retriever.next_passage(passage)

        composed = await asyncio.to_thread(compose, question, passages, embedder, following, profile.preferences(), _)
        sources = numbered_sources(composed.cited, _)
        if error is not None:  # a model is configured but failed: never also say none is configured
            leads = [texts.fallback_note(_)]
        elif language != self._lead_language(composed.cited):  # no model, and the owner reads another language
            leads = [texts.english_knowledge(_)]
        else:
            leads = []
        text = "\n\n".join([*leads, composed.text])
        return Answer(question, text, True, "offline", sources, error=error, language=language)

    def not_covered_text(self, _: Translate = str) -> str:
        """Say plainly that the question is outside the knowledge base, and what it does cover."""
        return texts.not_covered(_, self.retriever.topics())  # the live version's topics


def make_advisor(settings: Settings, retriever: Retriever | None = None) -> Advisor:
    """The advisor the channels use, built from settings: its chat model, prompts and retriever."""
    from bot.advisor.chat_model import make_chat_model
    from bot.index.retriever import make_retriever

    prompts = load_prompts(settings.prompts_dir)
    chat_model = make_chat_model(settings)
    return Advisor(retriever or make_retriever(settings), settings, chat_model, prompts)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


_SENTENCE_END = re.compile(r"(?:[.!?…](?:\s*\[D?\d+(?:,\s*D?\d+)*\])?[\"')\]*]?|\n)\s")
MIN_KEPT = 40  # characters: less than this of a cut answer is not worth showing


def whole_sentences(text: str) -> str:
    """A cut answer up to its last complete sentence (or line), or "" when too little is left."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text + " ")]
    kept = text[: ends[-1]].rstrip() if ends else ""
    return kept if len(kept) >= MIN_KEPT else ""
