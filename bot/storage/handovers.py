"""Hand-overs to a person, and the small facts bot processes share (`bot_state`).

A hand-over is stored, not held in memory: the owner's next message, the consultant's reply
and the expiry may each be handled by a different webhook worker, or after a restart. Every
change is one guarded UPDATE (`status = 'open'`), so two workers never both resolve, expire
or announce the same hand-over.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from bot.storage.base import StoreBase
from bot.storage.models import BotState, Handover, HandoverMessage, Turn, User, utcnow


class Handovers(StoreBase):
    async def open_handover(self, user_id: str, chat_id: int, request: str, hours: float, **details) -> Handover:
        """Start a hand-over: open for `hours`, or until a consultant resolves it (`details`:
        conversation_id, turn_id, language, as `request_handover` takes them)."""
        handover, _opened = await self.request_handover(user_id, chat_id, request, hours, join=False, **details)
        return handover

    async def request_handover(
        self,
        user_id: str,
        chat_id: int,
        request: str,
        hours: float,
        *,
        conversation_id: int | None = None,
        turn_id: int | None = None,
        language: str | None = None,
        join: bool = True,
    ) -> tuple[Handover, bool]:
        """(the hand-over, True when it was opened now). With `join`, an owner's request while
        one of theirs is open returns that one: one open request per owner (21 cards were posted
        in 39 s when taps of "Talk to a consultant" raced each other). The owner's row is locked
        for the check (on PostgreSQL; SQLite writes one at a time), so two workers cannot both open."""
        now = utcnow()
        async with self._writing() as session:
            if await session.scalar(select(User).where(User.id == user_id).with_for_update()) is None:
                session.add(User(id=user_id, profile={}))
                await session.flush()
            if join:
                open_one = await session.scalar(
                    select(Handover)
                    .where(Handover.user_id == user_id, Handover.status == "open", Handover.expires_at > now)
                    .order_by(Handover.id.desc())
                    .limit(1)
                )
                if open_one is not None:
                    return open_one, False
            handover = Handover(
                user_id=user_id,
                chat_id=chat_id,
                request=request,
                conversation_id=conversation_id,
                turn_id=turn_id,
                language=language,
                status="open",
                created_at=now,
                expires_at=now + dt.timedelta(hours=hours),
            )
            session.add(handover)
        return handover, True

    async def active_handover(self, user_id: str) -> tuple[Handover | None, Handover | None]:
        """(the owner's open hand-over, the one that has just expired): an open hand-over past its
        time is marked expired here, and returned second exactly once, so that whoever sees it
        tells the owner that the bot answers again."""
        async with self.sessions() as session:
            found = await session.scalar(
                select(Handover)
                .where(Handover.user_id == user_id, Handover.status == "open")
                .order_by(Handover.id.desc())
                .limit(1)
            )
        if found is None:
            return None, None
        if found.expires_at > utcnow():
            return found, None
        return None, (found if await self._close(found.id, "expired", None) else None)

    async def resolve_handover(self, handover_id: int, by: str) -> Handover | None:
        """Close an open hand-over; None when it was not open (resolved by another consultant,
        expired)."""
        if not await self._close(handover_id, "resolved", by):
            return None
        return await self.get_handover(handover_id)

    async def _close(self, handover_id: int, status: str, by: str | None) -> bool:
        async with self._writing() as session:
            result = await session.execute(
                update(Handover)
                .where(Handover.id == handover_id, Handover.status == "open")
                .values(status=status, resolved_at=utcnow(), resolved_by=by)
            )
        return result.rowcount == 1

    async def extend_handover(self, handover_id: int, hours: float) -> None:
        """A consultant replied: the thread stays open `hours` from now."""
        async with self._writing() as session:
            await session.execute(
                update(Handover)
                .where(Handover.id == handover_id, Handover.status == "open")
                .values(expires_at=utcnow() + dt.timedelta(hours=hours))
            )

    async def attach_turn(self, handover_id: int, turn_id: int) -> None:
        """The turn a hand-over is about, when it was not an answer (a /human request)."""
        async with self._writing() as session:
            await session.execute(update(Handover).where(Handover.id == handover_id).values(turn_id=turn_id))

    async def get_handover(self, handover_id: int) -> Handover | None:
        async with self.sessions() as session:
            return await session.get(Handover, handover_id)

    async def add_handover_message(self, chat_id: int, message_id: int, handover_id: int, question: str | None) -> None:
        """Remember a message posted in an admin chat about a hand-over, so a reply to it finds
        the owner; `question`: the owner's words it shows."""
        async with self._writing() as session:
            session.add(
                HandoverMessage(chat_id=chat_id, message_id=message_id, handover_id=handover_id, question=question)
            )

    async def handover_of_message(self, chat_id: int, message_id: int) -> tuple[Handover, str | None] | None:
        """The hand-over an admin-chat message is about, and the owner's words it shows."""
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(Handover, HandoverMessage.question)
                    .join(HandoverMessage, HandoverMessage.handover_id == Handover.id)
                    .where(HandoverMessage.chat_id == chat_id, HandoverMessage.message_id == message_id)
                )
            ).first()
        return (row[0], row[1]) if row else None

    async def handover_cards(self, handover_id: int) -> list[tuple[int, int]]:
        """(chat, message) of every card of a hand-over: one per admin chat it was sent to."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(HandoverMessage.chat_id, func.min(HandoverMessage.message_id))
                .where(HandoverMessage.handover_id == handover_id)
                .group_by(HandoverMessage.chat_id)
            )
            return [(chat, message) for chat, message in rows]

    async def count_handovers(self, since: dt.datetime) -> dict[str, int]:
        """Hand-overs asked for since `since`, resolved since then, and open now."""
        async with self.sessions() as session:
            asked = await session.scalar(select(func.count()).where(Handover.created_at >= since))
            resolved = await session.scalar(
                select(func.count()).where(Handover.status == "resolved", Handover.resolved_at >= since)
            )
            open_now = await session.scalar(
                select(func.count()).where(Handover.status == "open", Handover.expires_at > utcnow())
            )
        return {"asked": asked or 0, "resolved": resolved or 0, "open": open_now or 0}

    async def flag_gap(self, turn_id: int) -> bool:
        """A consultant marked a turn as a knowledge gap (the gap report counts it)."""
        async with self._writing() as session:
            result = await session.execute(update(Turn).where(Turn.id == turn_id).values(flagged_gap=True))
        return result.rowcount == 1

    async def get_state(self, key: str) -> str | None:
        async with self.sessions() as session:
            return await session.scalar(select(BotState.value).where(BotState.key == key))

    async def claim_state(self, key: str, expected: str | None, new: str) -> bool:
        """Set `key` to `new` only if it still holds `expected`: of several processes that
        decide to do a job at once (send the digest), exactly one wins."""
        async with self._writing() as session:
            if expected is None:
                inserted = self._insert(BotState).values(key=key, value=new).on_conflict_do_nothing()
                return (await session.execute(inserted)).rowcount == 1
            result = await session.execute(
                update(BotState).where(BotState.key == key, BotState.value == expected).values(value=new)
            )
            return result.rowcount == 1
