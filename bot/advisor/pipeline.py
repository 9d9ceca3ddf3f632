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
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence

from bot.advisor import suggestions, texts
from bot.advisor.answer import Answer, Failure, Mode, numbered_sources
from bot.advisor.conversation import (
    Exchange,
    Profile,
    focus_question,
    looks_like_follow_up,
    needs_rewrite,
    trim_history,
)
from bot.advisor.coverage import CoverageModel, default_model
from bot.advisor.lookup import Found, Lookup
from bot.advisor.model_answer import ModelAnswers, prompt_passages
from bot.advisor.offline import compose
from bot.advisor.prompts import (
    Prompts,
    load_prompts,
)
from bot.config import Settings
from bot.index.language import detect_language
from bot.index.lexical import tokenize
from bot.index.owner_documents import Owner, OwnerDocuments
from bot.index.retriever import Passage, Retriever
from bot.knowledge.tokens import count_tokens
from bot.locales import IN_ENGLISH, Translate, supported
from bot.locales import texts as texts_for

log = logging.getLogger(__name__)

KNOWLEDGE_LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "pt": "Portuguese", "ru": "Russian", "fr": "French"}
ALSO_MARGIN = 0.25  # sections of other files this close to the lead's chance are "also relevant"
GUARD_CONFIDENCE = 0.15  # with a model's rewrite, how close the owner's own words must come (an off-topic
# question's lead is under 0.05; 97% of the covered tuning questions in English and 85% of those in
# other languages reach it)
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
        coverage: CoverageModel | None = None,
    ) -> None:
        self.retriever = retriever
        self.settings = settings
        self.chat_model = chat_model
        self.prompts = prompts or load_prompts(settings.prompts_dir)
        if chat_model is not None:  # langchain's templates now, not at the first question (offline: never)
            self.prompts.answer, self.prompts.rewrite  # noqa: B018
        self.lookup = Lookup(retriever, settings, coverage or default_model())
        self.model = ModelAnswers(chat_model, self.prompts, settings)
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

    def _token_counter(self) -> Callable[[str], int]:
        """What the remembered conversation and a long message are measured with: the
        multilingual model's tokenizer, which the serving process holds anyway (tiktoken's
        encoding would add ~40 MB for two budgets that need no chat model's exact count; an
        index without that model's space counts with tiktoken)."""
        return self.retriever.embeddings.token_counter or count_tokens

    @property
    def mode(self) -> Mode:
        return "llm" if self.chat_model is not None else "offline"

    def warm_up(self) -> None:
        """Load the models and the index now (~1 s that the first question would otherwise
        wait for). Not tiktoken's encoding (~40 MB): a provider reports each answer's tokens, and
        the conversation and a long message are counted with e5's tokenizer (`_token_counter`), so
        it loads only for a provider that reports no usage (or an index without e5's space)."""
        self.retriever.warm_up()

    async def answer(
        self,
        question: str,
        conversation: Sequence[Exchange] = (),
        profile: Profile | None = None,
        language: str | None = None,
        owner: Owner | None = None,
        offline: bool = False,
        answer_in: str | None = None,
    ) -> Answer:
        """The whole answer at once (the same work as `stream`, without the deltas)."""
        final = None
        async for event in self.stream(question, conversation, profile, language, owner, offline, answer_in):
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
        offline: bool = False,
        answer_in: str | None = None,
    ) -> AsyncIterator[str | Answer]:
        """Yield text deltas as the model writes, then the final `Answer` (`offline`: composed
        without the chat model, as owners see it without an LLM).

        When all goes well the deltas join to exactly `Answer.text`. When the model
        fails half-way, the final `Answer` holds the offline fallback instead, so a
        channel should always show the final `Answer.text`. Fixed texts (notes, the
        not-covered reply) are in the question's language, else the owner's (`language`).
        With an `owner`, the best passages of their own documents (at least MIN_SCORE) join
        the knowledge's, cited `[D1]`, `[D2]`… `answer_in`: the language of the whole answer,
        whatever the question's (a suggested next question tapped: the language of the answer it
        was under). Suggested next questions are in the answer's language where the model
        translates them (with the answer, in the same call) or the knowledge has them (`bot.advisor.suggestions`).
        """
        started = time.perf_counter()
        profile = profile or Profile()
        owner_language = supported(answer_in) or texts.language_for(question, language)
        _ = texts_for(owner_language)
        focus = focus_question(question, self.settings.question_max_tokens, self._token_counter())
        question = focus.text
        notes = [texts.long_message(_, focus.asked, focus.context)] if focus.cut else []
        if not any(ch.isalnum() for ch in question):  # empty, or only punctuation and symbols: nothing to search
            yield Answer(question=question, text=texts.empty_question(_), covered=False, mode="offline")
            return
        history = trim_history(conversation, self.settings.memory_tokens, self._token_counter())
        timings: dict[str, float] = {}
        # One deadline for the model's whole part (a follow-up's rewrite, then the answer): the
        # owner waits at most LLM_TIMEOUT for it, then gets the offline answer.
        deadline = asyncio.get_running_loop().time() + self.settings.llm_timeout
        asked = focus.question if focus.cut else question  # a long message: its question
        chat_model = None if offline else self.chat_model
        found, standalone, error = await self._find(asked, history, profile, timings, deadline, chat_model)
        found = await self._with_documents(found, asked, owner, timings)
        answer: Answer | None = None
        translated: dict[str, str] = {}
        if not found.covered:
            answer = await self._declined(question, found, _, owner_language)
        elif chat_model is not None and error is None:
            passages = prompt_passages(found, self.settings.top_k, self.retriever.title_of)
            write_in = IN_ENGLISH[owner_language] if supported(answer_in) else None
            translate = suggestions.to_translate(found, owner_language, self._knowledge_language())
            async for event in self.model.stream(
                question, history, profile, passages, timings, deadline, _, write_in, translate, translated
            ):
                if isinstance(event, str):
                    yield event
                elif isinstance(event, Failure):
                    error = event.cause
                else:
                    answer = event
        if answer is None:
            answer = await self._offline(question, found, error, profile, owner_language)
        answer.standalone_question, answer.language = standalone, owner_language
        answer.best_score, answer.confidence = _best_score(found), round(found.judgement.confidence, 4)
        if answer.covered:
            answer.follow_ups = suggestions.next_questions(found, answer, self.retriever, owner_language, translated)
        elif not answer.follow_ups:
            answer.follow_ups = suggestions.closest_questions(found, owner_language)
        answer.notes = notes + answer.notes
        timings["total"] = _ms(started)
        answer.timings_ms = timings
        yield answer

    async def offline_answer(
        self,
        question: str,
        profile: Profile | None = None,
        language: str | None = None,
        conversation: Sequence[Exchange] = (),
    ) -> Answer:
        """The answer composed without the chat model, as owners see it without an LLM (the eval)."""
        return await self.answer(question, conversation, profile, language, offline=True)

    # ----------------------------------------------------------------- steps

    async def _find(
        self, question: str, history: list[Exchange], profile: Profile, timings: dict, deadline: float, chat_model
    ) -> tuple[Found, str, str | None]:
        """What answers `question` (`bot.advisor.lookup`), the question as searched, and why the
        model failed (None when it did not). Offline, every embedding space judges (the second
        opinion pays for itself); with a model, the question's space alone, on the model's
        rewrite when there is one, and the owner's own words must be covered too: a rewrite
        that drifts cannot make an off-topic question covered."""
        started = time.perf_counter()
        prefer = profile.preferences()
        if chat_model is None:
            found = await asyncio.to_thread(self.lookup.find, question, history, prefer)
            timings["retrieve"] = _ms(started)
            return found, found.searched, None
        standalone, error = await self._standalone(question, history, timings, deadline)
        started = time.perf_counter()
        if error is not None:  # the model is down: the offline answer, found as offline
            found = await asyncio.to_thread(self.lookup.find, question, history, prefer)
            standalone = found.searched
        elif standalone == question:
            found = await asyncio.to_thread(self.lookup.find, question, history, prefer, False, True)
        else:
            found = await asyncio.to_thread(self._rewritten, standalone, question, history, prefer)
        timings["retrieve"] = _ms(started)
        return found, standalone, error

    def _rewritten(self, standalone: str, question: str, history: list[Exchange], prefer) -> Found:
        """The model's rewrite judged, and covered only if the owner's own words come close too
        (a confidence of at least GUARD_CONFIDENCE, well below what an answer needs: the owner's
        words may be in another language or lean on the conversation, which the rewrite was for):
        a rewrite that drifts ("What's the weather in Paris?" → "How do I export to France?")
        cannot make an off-topic question covered. A question in another language than the
        knowledge is held to this only when a multilingual model can read it, and a follow-up
        made only of words pointing back ("and what about it?") is not: it has no words of its
        own to hold."""
        judgement = self.lookup.judge(standalone, prefer, thorough=False)
        if judgement.covered and self._readable(question) and has_content_words(question):
            own = self.lookup.find(question, history, prefer, False, True).judgement
            judgement.covered = own.confidence >= GUARD_CONFIDENCE
        return Found(judgement, standalone)

    def _readable(self, question: str) -> bool:
        """Can the question's own words be judged: in the knowledge's language, or with a
        multilingual model to read them?"""
        embeddings = self.retriever.embeddings
        if not self._foreign(question):
            return True
        return embeddings.multilingual is not embeddings.primary and self.retriever.reads(question)

    async def _standalone(
        self, question: str, history: list[Exchange], timings: dict, deadline: float
    ) -> tuple[str, str | None]:
        """The question to search the knowledge base with: a follow-up made standalone, and a
        question in another language than the knowledge base's translated into it, by the
        model in one call (retrieval then uses the knowledge's own language; the answer is
        still written to the original question).

        Only such questions go to the model: a rewrite costs a whole extra model round trip.
        """
        foreign = self._foreign(question)
        follow_up = bool(history) and needs_rewrite(question)
        if follow_up and not foreign and not looks_like_follow_up(question):
            follow_up = not await self._clear_alone(question)  # short, but perhaps plain on its own
        if not follow_up and not foreign:
            return question, None
        language = KNOWLEDGE_LANGUAGE_NAMES.get(self._knowledge_language(), "English")
        return await self.model.rewrite(question, history, language, timings, deadline)

    async def _clear_alone(self, question: str) -> bool:
        """Whether a short question with no word pointing back ("Should I sell cross-border?") is
        covered on its own, so that a rewrite cannot help (no model call)."""
        judgement = await asyncio.to_thread(self.lookup.judge, question, None, frozenset(), False)
        return judgement.covered

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

    async def _with_documents(self, found: Found, question: str, owner: Owner | None, timings: dict) -> Found:
        """The owner's own documents' passages joined to what was found (`Lookup.with_documents`)."""
        if owner is None or not owner.documents:
            return found
        started = time.perf_counter()
        found = await asyncio.to_thread(self.lookup.with_documents, found, question, owner, self.owner_documents)
        timings["documents"] = _ms(started)
        return found

    async def _offline(
        self, question: str, found: Found, error: str | None, profile: Profile, language: str = "en"
    ) -> Answer:
        _ = texts_for(language)
        judgement = found.judgement
        lead = judgement.ranked[0] if judgement.covered and judgement.ranked else None
        floor = self.lookup.model.threshold / 2
        also = judgement.near(ALSO_MARGIN, floor) if lead is not None else []
        if lead is None and found.document_lead is None:
            return Answer(question, await asyncio.to_thread(self.not_covered_text, _), False, "offline")
        scored = (lead[0].section, lead[1]) if lead is not None else None
        also_scored = [(match.section, chance) for match, chance in also]
        composed = compose(scored, also_scored, self.retriever.title_of, found.document_lead, profile.preferences(), _)
        sources = numbered_sources([q.passage for q in composed.cited], _, [q.excerpt for q in composed.cited])
        if error is not None:  # a model is configured but failed: never also say none is configured
            leads = [texts.fallback_note(_)]
        elif language != self._lead_language([q.passage for q in composed.cited]):  # no model, another language
            leads = [texts.english_knowledge(_)]
        else:
            leads = []
        text = "\n\n".join([*leads, composed.text])
        answer = Answer(question, text, True, "offline", sources, error=error, language=language)
        answer.references = composed.references
        return answer

    async def _declined(self, question: str, found: Found, _: Translate, language: str) -> Answer:
        """The honest "no": nothing beyond what was shown fits (a follow-up whose fitting sections
        were all shown; the closest others are offered); not sure (sections came close: the
        closest questions it can answer are offered); or nothing on it (with what it covers).
        A question in another language, searched in a space the index does not keep yet, was not
        judged at all: it is asked to come back, or in English (text in no language it can tell,
        "…xxxx", is not: it gets the honest no)."""
        if self._foreign(question) and not self.retriever.reads(found.searched):  # e5's space not built yet
            return Answer(question, texts.other_languages_later(_), False, "offline")
        closest = suggestions.closest_questions(found, language)  # a follow-up's search leaves those shown out
        if found.exhausted:
            return Answer(question, texts.all_we_have(_), False, "offline", follow_ups=closest)
        if closest:
            return Answer(question, texts.not_sure(_), False, "offline", follow_ups=closest)
        return Answer(question, await asyncio.to_thread(self.not_covered_text, _), False, "offline")

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


def has_content_words(question: str) -> bool:
    """Does the question say anything of its own (a word that is not a stop word)?"""
    return bool(tokenize(question, detect_language(question) or "en"))


def _best_score(found: Found) -> float:
    """How close the lead section's prose or questions came (a cosine, on MIN_SCORE's scale), or
    the owner's document passage that leads: what review reads as "how weak was the match"."""
    if found.document_lead is not None:
        return found.document_lead.score
    lead = found.judgement.lead
    return max([*lead.dense.values(), *lead.asked.values()], default=0.0) if lead is not None else 0.0


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
