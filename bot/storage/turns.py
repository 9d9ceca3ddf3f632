"""Turns and feedback: what was asked and answered, how owners rated it, and reading it back."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from sqlalchemy import Select, exists, or_, select, update

from bot.advisor.answer import Answer, Source
from bot.storage.base import StoreBase
from bot.storage.models import Conversation, Feedback, Turn, User, utcnow
from bot.storage.records import GapCandidate, TurnFacts, TurnFilter, TurnRecord


class Turns(StoreBase):
    async def record_turn(
        self,
        conversation_id: int,
        user_id: str,
        answer: Answer,
        latency_ms: float,
        profile: dict | None = None,
        names: tuple[str | None, str | None] = (None, None),
    ) -> int:
        """Store a turn and commit it; returns its id (used by feedback buttons). `profile`: the
        owner's profile as it shaped the answer. The owner is recorded as seen, with their
        `names` (@username, display name) when known: admins find owners by them."""
        values = {
            "conversation_id": conversation_id,
            "user_id": user_id,
            "question": answer.question,
            "standalone_question": answer.standalone_question or None,
            "answer": answer.text,
            "covered": answer.covered,
            "mode": answer.mode,
            "model": answer.model,
            "sources": [_source(s) for s in answer.sources],
            "best_score": answer.best_score,
            "latency_ms": round(latency_ms, 1),
            "input_tokens": answer.input_tokens or None,
            "output_tokens": answer.output_tokens or None,
            "error": answer.error,
            "truncated": answer.truncated,
            "cancelled": answer.cancelled,
            "profile": profile or None,
            "follow_ups": answer.follow_ups or None,
            "answered_by": answer.answered_by,
            "input_kind": answer.input_kind,
            "created_at": utcnow(),
            "flagged_gap": False,
        }
        return await self._turn_writer.write(values, names)

    async def record_feedback(self, turn_id: int, user_id: str, rating: str, comment: str | None = None) -> bool:
        """An owner's 👍/👎 on a turn; a second press replaces the first. False when the turn is
        gone (deleted by /forget or retention), so there is nothing to rate."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        values = {"turn_id": turn_id, "user_id": user_id, "rating": rating, "comment": comment, "created_at": utcnow()}
        statement = self._insert(Feedback).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["turn_id", "user_id"],
            set_={"rating": rating, "created_at": values["created_at"]},
        )
        rater = self._insert(User).values(id=user_id, profile={}).on_conflict_do_nothing()  # a group member never seen
        async with self._writing() as session:
            if await session.scalar(select(Turn.id).where(Turn.id == turn_id)) is None:
                return False
            await session.execute(rater)
            await session.execute(statement)
        return True

    async def mark_delivered(self, turn_id: int, delivered: bool) -> None:
        """Record whether the turn's answer reached the owner (sent, or given up after retries);
        written within a second, together with other marks and turns (`GroupCommit.mark`)."""
        self._turn_writer.mark(turn_id, delivered)

    async def claim_unsent(
        self, *, older_than: dt.timedelta, newer_than: dt.timedelta, now: dt.datetime | None = None
    ) -> list[tuple[int, str, str, str | None]]:
        """Answers to Telegram owners that no process said it delivered (`delivered` unset) and
        were asked between `newer_than` and `older_than` ago: a bot killed between answering and
        sending. Each is claimed with one guarded UPDATE (`delivered` false: it did not arrive),
        so of several workers one tells the owner; a late mark of a real delivery overwrites it.
        Returns (turn id, chat key, question, the owner's language)."""
        now = now or utcnow()
        query = (
            select(Turn.id, Conversation.chat_id, Turn.question, User.language)
            .join(Conversation, Conversation.id == Turn.conversation_id)
            .join(User, User.id == Turn.user_id, isouter=True)
            .where(
                Turn.delivered.is_(None),
                Turn.mode.in_(("offline", "llm")),
                Turn.cancelled.isnot(True),  # the owner stopped it: nothing was to be sent
                Turn.created_at >= now - newer_than,
                Turn.created_at <= now - older_than,
                Conversation.chat_id.like("tg-chat:%"),
            )
            .order_by(Turn.id)
        )
        async with self.sessions() as session:
            rows = (await session.execute(query)).all()
        claimed = []
        for turn_id, chat, question, language in rows:
            async with self._writing() as session:
                result = await session.execute(
                    update(Turn).where(Turn.id == turn_id, Turn.delivered.is_(None)).values(delivered=False)
                )
            if result.rowcount == 1:
                claimed.append((turn_id, chat, question, language))
        return claimed

    async def turn_chat(self, turn_id: int) -> str | None:
        """The chat a turn was asked in (None when the turn is gone): buttons under an answer
        only work in the chat the answer was given in."""
        async with self.sessions() as session:
            chat = select(Conversation.chat_id).join(Turn, Turn.conversation_id == Conversation.id)
            return await session.scalar(chat.where(Turn.id == turn_id))

    async def add_feedback_comment(self, turn_id: int, user_id: str, comment: str) -> None:
        async with self._writing() as session:
            await session.execute(
                update(Feedback).where(Feedback.turn_id == turn_id, Feedback.user_id == user_id).values(comment=comment)
            )

    async def comments_since(self, since) -> list[tuple[int, str, str]]:
        """👎 comments given since `since`: (turn id, question, comment), newest first."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Turn.id, Turn.question, Feedback.comment)
                .join(Feedback, Feedback.turn_id == Turn.id)
                .where(Feedback.rating == "down", Feedback.comment.is_not(None), Feedback.created_at >= since)
                .order_by(Feedback.created_at.desc())
            )
            return [(turn_id, question, comment) for turn_id, question, comment in rows]

    async def turn_owner(self, turn_id: int) -> str | None:
        async with self.sessions() as session:
            return await session.scalar(select(Turn.user_id).where(Turn.id == turn_id))

    async def list_turns(self, filters: TurnFilter, limit: int | None = 50) -> list[TurnRecord]:
        """Turns matching `filters`, newest first."""
        return [t async for t in self.stream_turns(filters, limit=limit, newest_first=True)]

    async def stream_turns(
        self, filters: TurnFilter, limit: int | None = None, newest_first: bool = False
    ) -> AsyncIterator[TurnRecord]:
        """Turns matching `filters`, fetched in batches so an export never holds them all."""
        statement = _filtered(select(Turn.__table__), filters)
        statement = statement.order_by(Turn.id.desc() if newest_first else Turn.id)
        if limit is not None:
            statement = statement.limit(limit)
        async for record in self._records(statement):
            yield record

    async def stream_gap_candidates(self, filters: TurnFilter, weak_below: float) -> AsyncIterator[GapCandidate]:
        """The matching turns the gap report may find a reason in (`bot.review.gaps.gap_reasons`):
        flagged by a consultant, or an advisor's answer, not cancelled, that was not covered, scored
        below `weak_below` or got a 👎; oldest first, their questions and the columns the reasons
        look at. The others never leave the database, nor does any answer: a month of a busy bot is
        ~80,000 turns, 13,000 of them candidates, and reading each whole took ~1 s."""
        rated = _rated()
        answered = Turn.mode.in_(("offline", "llm")) & Turn.cancelled.isnot(True)
        weak = or_(Turn.covered.isnot(True), Turn.best_score < weak_below, rated["down"])
        columns = (
            Turn.id,
            Turn.user_id,
            Turn.question,
            Turn.standalone_question,
            Turn.mode,
            Turn.covered,
            Turn.cancelled,
            Turn.best_score,
            Turn.flagged_gap,
            rated["up"],
            rated["down"],
        )
        statement = _filtered(select(*columns), filters).where(or_(Turn.flagged_gap.is_(True), answered & weak))
        async with self.sessions() as session:
            result = await session.stream(statement.order_by(Turn.id).execution_options(yield_per=2000))
            async for rows in result.partitions():
                for *row, flagged, up, down in rows:
                    yield GapCandidate(*row, bool(flagged), _feedback(up, down))

    async def stream_turn_facts(self, filters: TurnFilter) -> AsyncIterator[TurnFacts]:
        """The matching turns as `/stats` and the digest count them, oldest first: a few columns,
        the first cited source's path and the feedback, never the texts (reading every answer of a
        month, ~80,000 turns on a busy bot, took seconds)."""
        rated = _rated()
        columns = (
            Turn.id,
            Turn.user_id,
            Turn.created_at,
            Turn.mode,
            Turn.covered,
            Turn.error.is_not(None),
            Turn.cancelled,
            Turn.latency_ms,
            Turn.sources[(0, "path")].as_string(),
            rated["up"],
            rated["down"],
        )
        statement = _filtered(select(*columns), filters).order_by(Turn.id)
        async with self.sessions() as session:
            result = await session.stream(statement.execution_options(yield_per=2000))
            async for rows in result.partitions():
                for id_, user, created, mode, covered, failed, cancelled, latency, source, up, down in rows:
                    yield TurnFacts(
                        id_, user, created, mode, covered, bool(failed), cancelled, latency, source, _feedback(up, down)
                    )

    async def _records(self, statement: Select) -> AsyncIterator[TurnRecord]:
        """The turns `statement` selects (the table's rows, not ORM objects: building one per turn
        cost as much as reading it), with their feedback, fetched in batches."""
        async with self.sessions() as session:
            result = await session.stream(statement.execution_options(yield_per=500))
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


def _rated() -> dict:
    """Whether a turn got a 👍 (`up`) and a 👎 (`down`), as columns of a read."""
    return {rating: exists().where(Feedback.turn_id == Turn.id, Feedback.rating == rating) for rating in ("up", "down")}


def _feedback(up, down) -> str | None:
    """`TurnRecord.feedback` from whether a turn got a 👍 and a 👎."""
    return "mixed" if up and down else "up" if up else "down" if down else None


def _filtered(statement: Select, filters: TurnFilter) -> Select:
    if filters.user:
        statement = statement.where(Turn.user_id == filters.user)
    if filters.since or filters.until:
        # the turns of a period by their ids: asked for `created_at >= x ORDER BY id`, SQLite reads
        # the whole table in id order rather than the date's index then sorts (at a million turns,
        # 3.7 GB read for a month's 80,000); `id IN (…)` takes the index, then the ids in order
        period = select(Turn.id)
        if filters.since:
            period = period.where(Turn.created_at >= filters.since)
        if filters.until:
            period = period.where(Turn.created_at < filters.until)
        statement = statement.where(Turn.id.in_(period))
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


def _source(source: Source) -> dict:
    """A cited source as stored with its turn. A passage of an owner's own document keeps its
    place (`chunk`), not its text: the Sources button reads it from the owner's store, and it
    goes when the document does."""
    stored = {
        "number": source.number,
        "path": source.path,
        "title": source.title,
        "heading": source.heading,
        "score": source.score,
        "excerpt": source.excerpt if source.kind != "document" else "",
    }
    return stored | ({"kind": source.kind, "chunk": source.chunk} if source.kind == "document" else {})


def _record(turn, ratings: list[tuple[str, str | None]]) -> TurnRecord:
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
        delivered=turn.delivered,
        truncated=turn.truncated,
        cancelled=turn.cancelled,
        profile=turn.profile,
        follow_ups=turn.follow_ups or [],
        answered_by=turn.answered_by,
        input_kind=turn.input_kind,
        flagged_gap=bool(turn.flagged_gap),
        feedback=None if not kinds else kinds.pop() if len(kinds) == 1 else "mixed",
        comments=[c for _, c in ratings if c],
    )
