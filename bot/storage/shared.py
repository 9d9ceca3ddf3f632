"""What every bot process sharing the database must agree on: question limits, the order of
a chat's updates, open comment prompts, and where an owner is in a multi-step conversation.
On PostgreSQL several webhook workers use these at once; advisory locks and unique keys make
them agree."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator

from sqlalchemy import delete, func, insert, select, update

from bot.storage.base import StoreBase
from bot.storage.models import (
    CommentPrompt,
    Conversation,
    ConversationStep,
    PendingUpdate,
    QuestionAsked,
    Turn,
    User,
)

log = logging.getLogger(__name__)

ORDER_WAIT_LIMIT = 120.0  # an earlier update unanswered this long is presumed lost with its process
ANSWERED_KEPT = 3600.0  # Telegram redelivers an update for a while if it thinks it was not received
CLEAN_EVERY = 64  # updates: every so many, those answered more than ANSWERED_KEPT ago are deleted
LOCK_RATE_LIMIT = 1  # PostgreSQL advisory lock namespaces (the second key is the owner's hash)


class SharedState(StoreBase):
    async def take_question(
        self, user_id: str, per_minute: int, per_day: int, now: float | None = None
    ) -> float | None:
        """Count a question against the owner's limits (a sliding minute and the UTC calendar
        day); None if it may be asked, else the seconds until the owner may ask again. Kept in
        the database, so several bot processes share one count."""
        now = time.time() if now is None else now
        day_start = now // 86400 * 86400
        window = min(day_start, now - 60)
        asked, mine = QuestionAsked.asked_at, QuestionAsked.user_id == user_id
        async with self._transaction() as session:
            await self._advisory_lock(session, LOCK_RATE_LIMIT, user_id)
            # Written first: on SQLite the first write is what serialises this with other writers.
            added = insert(QuestionAsked).values(user_id=user_id, asked_at=now).returning(QuestionAsked.id)
            question = await session.scalar(added)
            earlier = select(asked).where(mine, asked >= window, QuestionAsked.id != question).order_by(asked)
            times = (await session.scalars(earlier)).all()
            wait = _question_wait(times, now, day_start, per_minute, per_day)
            if wait is not None:  # a refused question does not count
                await session.execute(delete(QuestionAsked).where(QuestionAsked.id == question))
            elif not any(t >= day_start for t in times):  # first today: yesterday's count is done with
                await session.execute(delete(QuestionAsked).where(mine, asked < window))
        return wait

    async def give_back_question(self, user_id: str) -> None:
        """Uncount the owner's latest question: it was not answered after all (a voice note that
        could not be transcribed, an answer /cancel stopped, an error)."""
        latest = select(func.max(QuestionAsked.id)).where(QuestionAsked.user_id == user_id).scalar_subquery()
        async with self._writing() as session:
            await session.execute(delete(QuestionAsked).where(QuestionAsked.id == latest))

    async def register_update(self, chat_id: int, update_id: int, answered: bool = False) -> bool:
        """Note an update as received, before it is queued; False if it already was (Telegram
        redelivered it), so it is answered once whichever process got it. `answered`: no
        process will wait for it (one bot process), so it is kept only to spot redeliveries."""
        now = time.time()
        values = {"chat_id": chat_id, "update_id": update_id, "received_at": now}
        statement = self._insert(PendingUpdate).values(**values, answered_at=now if answered else None)
        async with self._transaction() as connection:
            if update_id % CLEAN_EVERY == 0:  # now and then, not on every update: one statement less
                await connection.execute(delete(PendingUpdate).where(PendingUpdate.answered_at < now - ANSWERED_KEPT))
            result = await connection.execute(statement.on_conflict_do_nothing())
        return result.rowcount == 1

    @contextlib.asynccontextmanager
    async def chat_turn(
        self, chat_id: int, update_id: int, wait_limit: float = ORDER_WAIT_LIMIT
    ) -> AsyncIterator[None]:
        """Wait until the chat's earlier updates are answered (by any process), run the body,
        then mark this one answered: per-chat order across processes."""
        started = time.monotonic()
        while await self._earlier_unanswered(chat_id, update_id, time.time() - wait_limit):
            if time.monotonic() - started > wait_limit:
                log.warning("chat %s: gave up waiting for updates before %s", chat_id, update_id)
                break
            await asyncio.sleep(0.05)
        try:
            yield
        finally:
            await self.mark_answered(chat_id, update_id)

    async def mark_answered(self, chat_id: int, update_id: int) -> None:
        """Note an update as dealt with (e.g. gathered into another message's question)."""
        async with self._writing() as session:
            await session.execute(
                update(PendingUpdate)
                .where(PendingUpdate.chat_id == chat_id, PendingUpdate.update_id == update_id)
                .values(answered_at=time.time())
            )

    async def _earlier_unanswered(self, chat_id: int, update_id: int, received_after: float) -> bool:
        async with self.sessions() as session:
            found = await session.scalar(
                select(PendingUpdate.update_id)
                .where(
                    PendingUpdate.chat_id == chat_id,
                    PendingUpdate.update_id < update_id,
                    PendingUpdate.answered_at.is_(None),
                    PendingUpdate.received_at > received_after,
                )
                .limit(1)
            )
        return found is not None

    async def claim_unanswered(
        self, *, older_than: float, newer_than: float, now: float | None = None
    ) -> list[tuple[int, str | None]]:
        """Chats whose question a process received (Telegram was told so, and will not send it
        again) and never answered: it was killed before the answer was even stored, so no turn
        tells `claim_unsent` of it, and the owner heard nothing (a kill -9 of one of two workers
        while answers were being written). A chat's questions received between `newer_than` and
        `older_than` seconds ago and still unanswered are claimed at once, by one process, with
        one guarded UPDATE (marked answered: nobody waits for them any more); the chat is
        returned, as (chat id, the owner's language), when it got no turn since the last of
        them (a turn stored and not sent is `claim_unsent`'s to tell). Only with a shared
        database: with one process, questions are noted answered when received."""
        now = time.time() if now is None else now
        stale = (
            PendingUpdate.answered_at.is_(None),
            PendingUpdate.received_at >= now - newer_than,
            PendingUpdate.received_at <= now - older_than,
        )
        async with self.sessions() as session:
            chats = (
                await session.execute(
                    select(PendingUpdate.chat_id, func.max(PendingUpdate.received_at))
                    .where(*stale)
                    .group_by(PendingUpdate.chat_id)
                )
            ).all()
        lost = []
        for chat, last in chats:
            async with self._writing() as session:
                result = await session.execute(
                    update(PendingUpdate).where(PendingUpdate.chat_id == chat, *stale).values(answered_at=now)
                )
            if not result.rowcount:  # another process claimed them
                continue
            since = dt.datetime.fromtimestamp(last, dt.UTC).replace(tzinfo=None)  # turns' naive UTC
            async with self.sessions() as session:
                answered = await session.scalar(
                    select(Turn.id)
                    .join(Conversation, Conversation.id == Turn.conversation_id)
                    .where(Conversation.chat_id == f"tg-chat:{chat}", Turn.created_at >= since)
                    .limit(1)
                )
                language = await session.scalar(select(User.language).where(User.id == f"tg:{chat}"))
            if answered is None:
                lost.append((chat, language))
        return lost

    async def add_comment_prompt(self, chat_id: int, message_id: int, turn_id: int, user_id: str) -> None:
        async with self._writing() as session:
            session.add(CommentPrompt(chat_id=chat_id, message_id=message_id, turn_id=turn_id, user_id=user_id))

    async def take_comment_prompt(self, chat_id: int, message_id: int, user_id: str) -> int | None:
        """The turn an owner's reply comments on, if the message replied to is their open prompt
        (which is then closed); None otherwise."""
        async with self._writing() as session:
            prompt = await session.get(CommentPrompt, (chat_id, message_id))
            if prompt is None or prompt.user_id != user_id:
                return None
            await session.delete(prompt)
            return prompt.turn_id

    async def conversation_steps(self, chat_id: int, user_id: int) -> dict[str, tuple[object, float]]:
        """Where the owner is in each multi-step conversation: name -> (state, Unix time of the
        last step)."""
        step = ConversationStep
        query = select(step.name, step.state, step.updated_at).where(step.chat_id == chat_id, step.user_id == user_id)
        async with self.engine.connect() as connection:  # Core, no ORM objects: read before every update
            rows = (await connection.execute(query)).all()
        return {name: (json.loads(state), at) for name, state, at in rows}

    async def save_conversation_steps(self, chat_id: int, user_id: int, steps: dict[str, object | None]) -> None:
        """Record the owner's new step in each named conversation (None: it ended)."""
        now = time.time()
        async with self._transaction() as connection:
            for name, state in steps.items():
                key = {"chat_id": chat_id, "user_id": user_id, "name": name}
                if state is None:
                    await connection.execute(delete(ConversationStep).filter_by(**key))
                    continue
                values = {"state": json.dumps(state), "updated_at": now}
                upsert = self._insert(ConversationStep).values(**key, **values)
                await connection.execute(upsert.on_conflict_do_update(index_elements=list(key), set_=values))


def _question_wait(earlier: list[float], now: float, day_start: float, per_minute: int, per_day: int) -> float | None:
    """Seconds until an owner who asked at `earlier` times (the last minute and today) may ask
    again, or None if they may ask now."""
    if sum(t >= day_start for t in earlier) >= per_day:
        return day_start + 86400 - now
    recent = [t for t in earlier if t > now - 60]
    if len(recent) >= per_minute:
        return recent[-per_minute] + 60 - now
    return None
