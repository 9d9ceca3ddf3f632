"""Owners who asked to hear back ("Tell me when you know" under a not-covered answer): one row
per question, open until an entry answering it is published and the owner is told. An owner
is told at most once a day (`last_told`); /forget deletes their wishes with the rest."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update

from bot.storage.base import StoreBase
from bot.storage.models import User, Wish, utcnow


class Wishes(StoreBase):
    async def add_wish(
        self,
        *,
        user_id: str,
        chat_id: int,
        question: str,
        turn_id: int | None = None,
        searched: str | None = None,
        language: str | None = None,
    ) -> bool:
        """Note that the owner wants to hear back on `question` (asked in turn `turn_id`); False
        when it is already noted and open (the same answer's button, or the same question)."""
        async with self._writing() as session:
            same = Wish.question == question
            if turn_id is not None:
                same = same | (Wish.turn_id == turn_id)
            noted = await session.scalar(select(Wish.id).where(Wish.user_id == user_id, Wish.told_at.is_(None), same))
            if noted is not None:
                return False
            if await session.get(User, user_id) is None:
                session.add(User(id=user_id, profile={}))
                await session.flush()
            session.add(
                Wish(
                    user_id=user_id,
                    chat_id=chat_id,
                    turn_id=turn_id,
                    question=question,
                    searched=searched or None,
                    language=language,
                    asked_at=utcnow(),
                )
            )
        return True

    async def open_wishes(self, user_id: str | None = None) -> list[Wish]:
        """Wishes not yet told, oldest first (only `user_id`'s when given)."""
        statement = select(Wish).where(Wish.told_at.is_(None)).order_by(Wish.asked_at, Wish.id)
        if user_id is not None:
            statement = statement.where(Wish.user_id == user_id)
        async with self.sessions() as session:
            return list(await session.scalars(statement))

    async def wishes_of(self, user_id: str) -> list[Wish]:
        """All of an owner's wishes, told or not, oldest first (what /mydata shows)."""
        async with self.sessions() as session:
            return list(await session.scalars(select(Wish).where(Wish.user_id == user_id).order_by(Wish.id)))

    async def last_told(self, user_id: str) -> dt.datetime | None:
        """When the owner was last told an answer they waited for (None: never)."""
        async with self.sessions() as session:
            return await session.scalar(select(func.max(Wish.told_at)).where(Wish.user_id == user_id))

    async def wish_found_in(self, wish_id: int, path: str) -> None:
        """A file answers the wish, but the owner was told something today: remember it for later."""
        async with self._writing() as session:
            await session.execute(update(Wish).where(Wish.id == wish_id).values(found_in=path[:512]))

    async def claim_wish(self, wish_id: int) -> bool:
        """Mark the wish told before its answer is sent, so of several processes one sends it;
        False when it is gone or told already. A send that fails reopens it (`reopen_wish`)."""
        async with self._writing() as session:
            result = await session.execute(
                update(Wish).where(Wish.id == wish_id, Wish.told_at.is_(None)).values(told_at=utcnow())
            )
        return result.rowcount == 1

    async def reopen_wish(self, wish_id: int) -> None:
        """The answer did not reach the owner: the wish is open again."""
        async with self._writing() as session:
            await session.execute(update(Wish).where(Wish.id == wish_id).values(told_at=None, told_turn_id=None))

    async def wish_told_in(self, wish_id: int, turn_id: int | None) -> None:
        """The turn (the follow-up in the owner's transcript) that told the owner."""
        async with self._writing() as session:
            await session.execute(update(Wish).where(Wish.id == wish_id).values(told_turn_id=turn_id))

    async def drop_wish(self, wish_id: int) -> None:
        """The owner cannot be told (they blocked the bot, or the chat is gone): the wish goes."""
        async with self._writing() as session:
            await session.execute(delete(Wish).where(Wish.id == wish_id))

    async def delete_wishes(self, user_id: str) -> int:
        """Delete every wish of the owner; how many."""
        async with self._writing() as session:
            result = await session.execute(delete(Wish).where(Wish.user_id == user_id))
        return result.rowcount
