"""One owner's question through memory, the advisor and the transcript.

Every channel (terminal chat, Telegram) answers the same way: load the chat's
conversation and the owner's profile from storage, ask the advisor, store the
turn, then reply. The turn is committed before the channel sends anything; if
storage fails, the failure is logged and the owner still gets the answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.advisor import Advisor, Answer
from bot.advisor.conversation import Exchange, Profile
from bot.advisor.smalltalk import small_talk
from bot.index.owner_documents import Owner
from bot.locales import DEFAULT, supported, texts
from bot.storage import Storage
from bot.storage.base import Names  # an owner's username and display name, when the channel knows them

log = logging.getLogger(__name__)

DeltaCallback = Callable[[str], Awaitable[None]]


@dataclass
class Reply:
    answer: Answer
    turn_id: int | None  # None when the turn could not be stored
    examples: bool = False  # show example questions with it (a greeting, "what can you do?")
    language: str | None = None  # the language a small-talk reply is in (its examples follow it)


class Dialogue:
    def __init__(self, advisor: Advisor, storage: Storage) -> None:
        self.advisor = advisor
        self.storage = storage

    async def ask(
        self,
        user_id: str,
        chat_id: str,
        question: str,
        on_delta: DeltaCallback | None = None,
        language: str | None = None,
        names: Names = (None, None),
        input_kind: str | None = None,
        documents: bool = False,
        answer_in: str | None = None,
    ) -> Reply:
        """Answer `question` in the chat's conversation; `on_delta` receives streamed text;
        `input_kind` (voice, photo, document) is stored with the turn: how the question arrived.
        `documents`: search the owner's own documents too (private chats only: a group never
        sees them). `answer_in`: the language to answer in, whatever the question's (a suggested
        question tapped under an answer in that language).

        Cancelled (the owner's /cancel), the turn is stored as cancelled, with what was written
        so far, and the cancellation goes on to the caller."""
        started = time.perf_counter()
        conversation_id, history, profile = await self._context(user_id, chat_id, names)
        owner = await self._owner(user_id) if documents else None
        answer = None
        written: list[str] = []
        try:
            async for event in self.advisor.stream(question, history, profile, language, owner, answer_in=answer_in):
                if isinstance(event, Answer):
                    answer = event
                else:
                    written.append(event)
                    if on_delta is not None:
                        await on_delta(event)
        except asyncio.CancelledError:
            stopped = Answer(question, "".join(written), True, self.advisor.mode, cancelled=True, input_kind=input_kind)
            latency_ms = (time.perf_counter() - started) * 1000
            await asyncio.shield(self._store(conversation_id, user_id, stopped, latency_ms, profile, names))
            raise
        assert answer is not None
        answer.input_kind = input_kind
        latency_ms = (time.perf_counter() - started) * 1000
        turn_id = await self._store(conversation_id, user_id, answer, latency_ms, profile, names)
        return Reply(answer, turn_id)

    async def small_talk(
        self,
        user_id: str,
        chat_id: str,
        text: str,
        language: str | None = None,
        names: Names = (None, None),
        input_kind: str | None = None,
    ) -> Reply | None:
        """A friendly reply to "hi", "thanks", "who are you?" and the like, stored as a small-talk
        turn (no model, no question limit, no knowledge gap); None when `text` may be a question.
        It is in the language of the phrase ("привет": Russian), or else the owner's."""
        talk = small_talk(text)
        if talk is None:
            return None
        said_in = supported(talk.language) if talk.language != DEFAULT else None
        reply_language = said_in or language or ""
        _ = texts(reply_language)
        answer = Answer(text, _(talk.reply), True, "smalltalk", input_kind=input_kind, language=reply_language)
        conversation_id = (await self._context(user_id, chat_id, names))[0]
        turn_id = await self._store(conversation_id, user_id, answer, 0.0, names=names)
        return Reply(answer, turn_id, talk.shows_examples, reply_language or None)

    async def record(self, user_id: str, chat_id: str, answer: Answer, names: Names = (None, None)) -> int | None:
        """Store a turn no model wrote (a consultant's reply, a message passed on to one) in the
        chat's conversation; its id, or None when storage failed (logged)."""
        conversation_id = (await self._context(user_id, chat_id, names))[0]
        return await self._store(conversation_id, user_id, answer, 0.0, names=names)

    async def answer_now(
        self, user_id: str, question: str, language: str | None = None, offline: bool = False
    ) -> Answer:
        """`question`, asked before, answered as it would be now, for the owner's profile and
        without the conversation since (an owner who asked to hear back); nothing is stored
        (`record` stores it once it is worth sending). `offline`: without the chat model (cheap:
        what a check of what the knowledge now covers needs)."""
        try:
            profile = await self.storage.profile(user_id)
        except Exception:
            log.exception("could not load the profile of %s; answering without it", user_id)
            profile = Profile()
        return await self.advisor.answer(question, (), profile, language, offline=offline)

    async def _owner(self, user_id: str) -> Owner | None:
        """The owner's documents to search (None when they have none, or they cannot be read)."""
        try:
            ids = await self.storage.document_ids(user_id)
        except Exception:
            log.exception("could not list the documents of %s; answering from the knowledge base", user_id)
            return None
        return Owner(user_id, ids) if ids else None

    async def _context(
        self, user_id: str, chat_id: str, names: Names = (None, None)
    ) -> tuple[int | None, list[Exchange], Profile]:
        try:
            return await self.storage.context(user_id, chat_id, names=names)
        except Exception:
            log.exception("could not load the conversation of chat %s; answering without memory", chat_id)
            return None, [], Profile()

    async def _store(
        self,
        conversation_id: int | None,
        user_id: str,
        answer: Answer,
        latency_ms: float,
        profile: Profile | None = None,
        names: Names = (None, None),
    ) -> int | None:
        if conversation_id is None:
            return None
        shaped = profile.to_dict() if profile is not None and not profile.is_empty() else None
        try:
            return await self.storage.record_turn(conversation_id, user_id, answer, latency_ms, shaped, names)
        except Exception:
            log.exception("could not store the turn of %s; the answer is sent anyway", user_id)
            return None

    async def delivered(self, turn_id: int | None, delivered: bool) -> None:
        """Record whether the answer reached the owner; a storage failure is logged, not raised."""
        if turn_id is None:
            return
        try:
            await self.storage.mark_delivered(turn_id, delivered)
        except Exception:
            log.exception("could not record the delivery of turn %s", turn_id)
