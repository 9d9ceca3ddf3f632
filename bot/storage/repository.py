"""Everything the program stores and reads back: owners, conversations, turns, feedback.

Channels call these methods; nothing else writes to the database. Every method
commits its own work, so a turn is safely on disk as soon as `record_turn`
returns, before the reply goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import Select, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.advisor import Answer
from bot.conversation import Exchange, Profile
from bot.storage.database import open_engine
from bot.storage.models import (
    CommentPrompt,
    Conversation,
    Feedback,
    PendingUpdate,
    QuestionAsked,
    Turn,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

HISTORY_TURNS = 20  # the advisor trims these further to its token budget
ORDER_WAIT_LIMIT = 120.0  # an earlier update unanswered this long is presumed lost with its process
ANSWERED_KEPT = 3600.0  # Telegram redelivers an update for a while if it thinks it was not received
LOCK_RATE_LIMIT = 1  # PostgreSQL advisory lock namespaces (the second key is the owner's hash)


@dataclass(frozen=True)
class TurnFilter:
    """Which turns an admin wants to see; every field is optional."""

    user: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    feedback: str | None = None  # up | down
    mode: str | None = None
    search: str | None = None
    conversation_id: int | None = None


@dataclass
class TurnRecord:
    """A turn as an admin reviews it: the turn's columns plus its feedback."""

    id: int
    conversation_id: int
    user_id: str
    created_at: dt.datetime
    question: str
    standalone_question: str | None
    answer: str
    covered: bool
    mode: str
    model: str | None
    sources: list
    best_score: float | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    error: str | None
    feedback: str | None = None  # up, down, or mixed when several owners rated it
    comments: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["created_at"] = self.created_at.isoformat(timespec="seconds")
        return data


class Storage:
    """The transcript database behind an async API."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time. Writers queue here, in the event loop, instead of
        # inside SQLite's busy handler, where under load they time out ("database is locked").
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._turn_writer = GroupCommit(self._writing)

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator:
        """A session in a write transaction, committed on exit."""
        if self._write_lock is None:
            async with self.sessions.begin() as session:
                yield session
            return
        async with self._write_lock, self.sessions.begin() as session:
            yield session

    @classmethod
    async def open(cls, url: str) -> Storage:
        return cls(await open_engine(url))

    @property
    def shared(self) -> bool:
        """True on a database server, which several bot processes may share; a SQLite file
        belongs to one process."""
        return self.engine.dialect.name != "sqlite"

    def _insert(self, model):
        """INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL spell them alike)."""
        return (postgresql_insert if self.shared else sqlite_insert)(model)

    async def close(self) -> None:
        await self._turn_writer.close()
        await self.engine.dispose()

    # ------------------------------------------------------------------ owners

    async def touch_user(self, user_id: str, username: str | None = None, display_name: str | None = None) -> User:
        """Record that an owner showed up (creating them on first sight); returns the stored user."""
        async with self._writing() as session:
            user = await session.get(User, user_id)
            if user is None:
                user = User(id=user_id, username=username, display_name=display_name, profile={})
                session.add(user)
            else:
                user.last_seen = utcnow()
                user.username = username or user.username
                user.display_name = display_name or user.display_name
        return user

    async def get_user(self, user_id: str) -> User | None:
        async with self.sessions() as session:
            return await session.get(User, user_id)

    async def profile(self, user_id: str) -> Profile:
        user = await self.get_user(user_id)
        return Profile.from_dict(user.profile if user else None)

    async def set_profile(self, user_id: str, profile: Profile) -> None:
        await self.touch_user(user_id)
        async with self._writing() as session:
            await session.execute(update(User).where(User.id == user_id).values(profile=profile.to_dict()))

    async def set_status(self, user_id: str, status: str) -> None:
        """Access status: 'allowed' or 'blocked' (set by admins), 'active' otherwise."""
        await self.touch_user(user_id)
        async with self._writing() as session:
            await session.execute(update(User).where(User.id == user_id).values(status=status))

    async def users_with_status(self, status: str) -> set[str]:
        async with self.sessions() as session:
            return set((await session.scalars(select(User.id).where(User.status == status))).all())

    async def user_status(self, user_id: str) -> str | None:
        """'allowed', 'blocked', 'active', or None for an owner never seen."""
        async with self.engine.connect() as connection:  # read on every update: no ORM session needed
            return await connection.scalar(select(User.status).where(User.id == user_id))

    # ------------------------------------------------------------------ shared by every bot process

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
        async with self._writing() as session:
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

    async def register_update(self, chat_id: int, update_id: int) -> bool:
        """Note an update as received, before it is queued; False if it already was (Telegram
        redelivered it), so it is answered once whichever process got it."""
        now = time.time()
        async with self._writing() as session:
            await session.execute(
                delete(PendingUpdate).where(
                    PendingUpdate.chat_id == chat_id, PendingUpdate.answered_at < now - ANSWERED_KEPT
                )
            )
            statement = self._insert(PendingUpdate).values(chat_id=chat_id, update_id=update_id, received_at=now)
            result = await session.execute(statement.on_conflict_do_nothing())
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

    async def _advisory_lock(self, session: AsyncSession, namespace: int, key: str) -> None:
        """Serialise this transaction with others on the same key, across processes
        (PostgreSQL); SQLite's single writer already serialises every write."""
        if self.shared:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                {"namespace": namespace, "key": zlib.crc32(key.encode()) - 2**31},
            )

    # ------------------------------------------------------------------ conversations

    async def context(
        self, user_id: str, chat_id: str, limit: int = HISTORY_TURNS
    ) -> tuple[int, list[Exchange], Profile]:
        """Everything a question needs, in one transaction: the owner is recorded as seen, and
        the chat's open conversation (started if need be), its recent exchanges and the owner's
        profile are returned."""
        async with self._writing() as session:
            user = await session.get(User, user_id)
            if user is None:
                user = User(id=user_id, profile={})
                session.add(user)
            else:
                user.last_seen = utcnow()
            conversation_id = await session.scalar(_open_conversation(chat_id))
            if conversation_id is None:
                conversation = Conversation(chat_id=chat_id, started_by=user_id)
                session.add(conversation)
                await session.flush()
                conversation_id = conversation.id
            rows = (await session.execute(_recent_turns(conversation_id, limit))).all()
            profile = Profile.from_dict(user.profile)
        return conversation_id, [Exchange(q, a, st or "") for q, a, st in reversed(rows)], profile

    async def current_conversation(self, chat_id: str, user_id: str) -> int:
        """The open conversation of a chat, started on first use."""
        async with self._writing() as session:
            found = await session.scalar(_open_conversation(chat_id))
            if found is not None:
                return found
            conversation = Conversation(chat_id=chat_id, started_by=user_id)
            session.add(conversation)
            await session.flush()
            return conversation.id

    async def new_conversation(self, chat_id: str, user_id: str) -> int:
        """Close the chat's open conversation (its memory ends there) and start another."""
        async with self._writing() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.chat_id == chat_id, Conversation.closed_at.is_(None))
                .values(closed_at=utcnow())
            )
        return await self.current_conversation(chat_id, user_id)

    async def history(self, conversation_id: int, limit: int = HISTORY_TURNS) -> list[Exchange]:
        """The conversation's latest exchanges, oldest first: the advisor's memory."""
        async with self.sessions() as session:
            rows = (await session.execute(_recent_turns(conversation_id, limit))).all()
        return [Exchange(q, a, s or "") for q, a, s in reversed(rows)]

    # ------------------------------------------------------------------ turns and feedback

    async def record_turn(self, conversation_id: int, user_id: str, answer: Answer, latency_ms: float) -> int:
        """Store a turn and commit it; returns its id (used by feedback buttons)."""
        turn = Turn(
            conversation_id=conversation_id,
            user_id=user_id,
            question=answer.question,
            standalone_question=answer.standalone_question or None,
            answer=answer.text,
            covered=answer.covered,
            mode=answer.mode,
            model=answer.model,
            sources=[
                {
                    "number": s.number,
                    "path": s.path,
                    "title": s.title,
                    "heading": s.heading,
                    "score": s.score,
                    "excerpt": s.excerpt,
                }
                for s in answer.sources
            ],
            best_score=answer.best_score,
            latency_ms=round(latency_ms, 1),
            input_tokens=answer.input_tokens or None,
            output_tokens=answer.output_tokens or None,
            error=answer.error,
        )
        return await self._turn_writer.write(turn)

    async def record_feedback(self, turn_id: int, user_id: str, rating: str, comment: str | None = None) -> None:
        """An owner's 👍/👎 on a turn; a second press replaces the first."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        values = {"turn_id": turn_id, "user_id": user_id, "rating": rating, "comment": comment, "created_at": utcnow()}
        statement = self._insert(Feedback).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["turn_id", "user_id"],
            set_={"rating": rating, "created_at": values["created_at"]},
        )
        async with self._writing() as session:
            await session.execute(statement)

    async def add_feedback_comment(self, turn_id: int, user_id: str, comment: str) -> None:
        async with self._writing() as session:
            await session.execute(
                update(Feedback).where(Feedback.turn_id == turn_id, Feedback.user_id == user_id).values(comment=comment)
            )

    async def turn_owner(self, turn_id: int) -> str | None:
        async with self.sessions() as session:
            return await session.scalar(select(Turn.user_id).where(Turn.id == turn_id))

    # ------------------------------------------------------------------ owners' rights

    async def forget(self, user_id: str) -> dict[str, int]:
        """Delete an owner's turns, feedback, profile and user row (keeping only an admin's block/allow)."""
        async with self._writing() as session:
            feedback = await session.execute(delete(Feedback).where(Feedback.user_id == user_id))
            await session.execute(delete(QuestionAsked).where(QuestionAsked.user_id == user_id))
            await session.execute(delete(CommentPrompt).where(CommentPrompt.user_id == user_id))
            # feedback others gave on this owner's turns goes with the turns
            turn_ids = select(Turn.id).where(Turn.user_id == user_id).scalar_subquery()
            await session.execute(delete(Feedback).where(Feedback.turn_id.in_(turn_ids)))
            turns = await session.execute(delete(Turn).where(Turn.user_id == user_id))
            await session.execute(
                update(Conversation).where(Conversation.started_by == user_id).values(started_by=None)
            )
            await session.execute(
                delete(Conversation).where(
                    Conversation.started_by.is_(None),
                    ~select(Turn.id).where(Turn.conversation_id == Conversation.id).exists(),
                )
            )
            # an admin's allow/block decision outlives the owner's data, so /forget cannot lift a block
            status = await session.scalar(select(User.status).where(User.id == user_id))
            if status in ("allowed", "blocked"):
                await session.execute(
                    update(User).where(User.id == user_id).values(profile={}, username=None, display_name=None)
                )
            else:
                await session.execute(delete(User).where(User.id == user_id))
        return {"turns": turns.rowcount, "feedback": feedback.rowcount}

    async def prune(self, older_than_days: int) -> int:
        """Delete turns (and their feedback) older than the retention period; returns how many."""
        cutoff = utcnow() - dt.timedelta(days=older_than_days)
        async with self._writing() as session:
            old = select(Turn.id).where(Turn.created_at < cutoff).scalar_subquery()
            await session.execute(delete(Feedback).where(Feedback.turn_id.in_(old)))
            result = await session.execute(delete(Turn).where(Turn.created_at < cutoff))
        return result.rowcount

    # ------------------------------------------------------------------ review

    async def list_turns(self, filters: TurnFilter, limit: int | None = 50) -> list[TurnRecord]:
        """Turns matching `filters`, newest first."""
        return [t async for t in self.stream_turns(filters, limit=limit, newest_first=True)]

    async def stream_turns(
        self, filters: TurnFilter, limit: int | None = None, newest_first: bool = False
    ) -> AsyncIterator[TurnRecord]:
        """Turns matching `filters`, fetched in batches so an export never holds them all."""
        statement = _filtered(select(Turn), filters)
        statement = statement.order_by(Turn.id.desc() if newest_first else Turn.id)
        if limit is not None:
            statement = statement.limit(limit)
        async with self.sessions() as session:
            result = await session.stream_scalars(statement.execution_options(yield_per=500))
            async for batch in result.partitions():
                ratings = await _feedback_for(session, [t.id for t in batch])
                for turn in batch:
                    yield _record(turn, ratings.get(turn.id, []))

    async def get_turn(self, turn_id: int) -> TurnRecord | None:
        async with self.sessions() as session:
            turn = await session.get(Turn, turn_id)
            if turn is None:
                return None
            ratings = await _feedback_for(session, [turn_id])
            return _record(turn, ratings.get(turn_id, []))

    async def count(self, model) -> int:
        async with self.sessions() as session:
            return await session.scalar(select(func.count()).select_from(model))


class GroupCommit:
    """Turns that finish at the same moment are committed in one transaction.

    Each caller still waits until its own turn is committed (so a turn is on disk before
    its answer is sent), but many owners share one commit instead of queueing for one
    each: under load, commits, not inserts, are what a single SQLite writer runs out of.
    """

    MAX_BATCH = 200

    def __init__(self, writing) -> None:
        self._writing = writing
        self._queue: list[tuple[Turn, asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def write(self, turn: Turn) -> int:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((turn, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.MAX_BATCH], self._queue[self.MAX_BATCH :]
            try:
                async with self._writing() as session:
                    session.add_all([turn for turn, _ in batch])
                    await session.flush()
                for turn, future in batch:
                    if not future.done():
                        future.set_result(turn.id)
            except Exception as exc:  # every waiter learns that its turn was not stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


def _question_wait(earlier: list[float], now: float, day_start: float, per_minute: int, per_day: int) -> float | None:
    """Seconds until an owner who asked at `earlier` times (the last minute and today) may ask
    again, or None if they may ask now."""
    if sum(t >= day_start for t in earlier) >= per_day:
        return day_start + 86400 - now
    recent = [t for t in earlier if t > now - 60]
    if len(recent) >= per_minute:
        return recent[-per_minute] + 60 - now
    return None


def _open_conversation(chat_id: str) -> Select:
    return (
        select(Conversation.id)
        .where(Conversation.chat_id == chat_id, Conversation.closed_at.is_(None))
        .order_by(Conversation.id.desc())
        .limit(1)
    )


def _recent_turns(conversation_id: int, limit: int) -> Select:
    return (
        select(Turn.question, Turn.answer, Turn.standalone_question)
        .where(Turn.conversation_id == conversation_id)
        .order_by(Turn.id.desc())
        .limit(limit)
    )


def _filtered(statement: Select, filters: TurnFilter) -> Select:
    if filters.user:
        statement = statement.where(Turn.user_id == filters.user)
    if filters.since:
        statement = statement.where(Turn.created_at >= filters.since)
    if filters.until:
        statement = statement.where(Turn.created_at < filters.until)
    if filters.mode:
        statement = statement.where(Turn.mode == filters.mode)
    if filters.conversation_id:
        statement = statement.where(Turn.conversation_id == filters.conversation_id)
    if filters.search:
        pattern = f"%{filters.search}%"
        statement = statement.where(or_(Turn.question.ilike(pattern), Turn.answer.ilike(pattern)))
    if filters.feedback:
        rated = select(Feedback.id).where(Feedback.turn_id == Turn.id, Feedback.rating == filters.feedback)
        statement = statement.where(rated.exists())
    return statement


async def _feedback_for(session, turn_ids: list[int]) -> dict[int, list[tuple[str, str | None]]]:
    if not turn_ids:
        return {}
    rows = await session.execute(
        select(Feedback.turn_id, Feedback.rating, Feedback.comment).where(Feedback.turn_id.in_(turn_ids))
    )
    found: dict[int, list[tuple[str, str | None]]] = {}
    for turn_id, rating, comment in rows:
        found.setdefault(turn_id, []).append((rating, comment))
    return found


def _record(turn: Turn, ratings: list[tuple[str, str | None]]) -> TurnRecord:
    kinds = {r for r, _ in ratings}
    return TurnRecord(
        id=turn.id,
        conversation_id=turn.conversation_id,
        user_id=turn.user_id,
        created_at=turn.created_at,
        question=turn.question,
        standalone_question=turn.standalone_question,
        answer=turn.answer,
        covered=turn.covered,
        mode=turn.mode,
        model=turn.model,
        sources=turn.sources or [],
        best_score=turn.best_score,
        latency_ms=turn.latency_ms,
        input_tokens=turn.input_tokens,
        output_tokens=turn.output_tokens,
        error=turn.error,
        feedback=None if not kinds else kinds.pop() if len(kinds) == 1 else "mixed",
        comments=[c for _, c in ratings if c],
    )
