"""The consultants' desk: the open requests (/queue), who claimed each, the owners' ratings of
the help they got, and the names consultants go by (/myname).

A claim is one guarded UPDATE (`claimed_by IS NULL`): of two consultants claiming the same
request at once, on any worker, exactly one gets it and the other learns who did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update

from bot.storage.base import StoreBase
from bot.storage.models import ConsultantName, Handover, User, utcnow

RATINGS = ("up", "down")


@dataclass(frozen=True)
class OpenRequest:
    """A request waiting for a consultant, as /queue lists it."""

    id: int
    user_id: str
    owner_name: str | None
    username: str | None
    request: str
    created_at: dt.datetime
    claimed_by: int | None
    claimed_by_name: str | None


class Desk(StoreBase):
    async def open_requests(self, limit: int = 20) -> tuple[list[OpenRequest], int]:
        """(the oldest `limit` open requests, oldest first; how many are open in all)."""
        now = utcnow()
        waiting = (Handover.status == "open", Handover.expires_at > now)
        async with self.sessions() as session:
            total = await session.scalar(select(func.count()).select_from(Handover).where(*waiting))
            rows = await session.execute(
                select(Handover, User.display_name, User.username)
                .join(User, User.id == Handover.user_id)
                .where(*waiting)
                .order_by(Handover.created_at, Handover.id)
                .limit(limit)
            )
            found = [
                OpenRequest(h.id, h.user_id, name, username, h.request, h.created_at, h.claimed_by, h.claimed_by_name)
                for h, name, username in rows
            ]
        return found, total or 0

    async def claim_handover(self, handover_id: int, consultant: int, name: str) -> Handover | None:
        """Claim an open, unclaimed request; the hand-over as it now is (claimed by whoever won,
        or not open any more), None when it is not stored."""
        async with self._writing() as session:
            await session.execute(
                update(Handover)
                .where(Handover.id == handover_id, Handover.status == "open", Handover.claimed_by.is_(None))
                .values(claimed_by=consultant, claimed_by_name=name, claimed_at=utcnow())
            )
        return await self.get_handover(handover_id)

    async def unclaim_handover(self, handover_id: int, consultant: int) -> bool:
        """Give a request back (only its claimer can); True when it was theirs."""
        async with self._writing() as session:
            result = await session.execute(
                update(Handover)
                .where(Handover.id == handover_id, Handover.claimed_by == consultant)
                .values(claimed_by=None, claimed_by_name=None, claimed_at=None)
            )
        return result.rowcount == 1

    async def rate_handover(self, handover_id: int, user_id: str, rating: str) -> bool:
        """The owner's 👍/👎 on a resolved request of theirs (a second tap changes it)."""
        if rating not in RATINGS:
            raise ValueError(f"a rating is one of {RATINGS}, not {rating!r}")
        async with self._writing() as session:
            result = await session.execute(
                update(Handover)
                .where(Handover.id == handover_id, Handover.user_id == user_id, Handover.status == "resolved")
                .values(rating=rating, rated_at=utcnow())
            )
        return result.rowcount == 1

    async def count_ratings(self, since: dt.datetime) -> dict[str, int]:
        """Owners' ratings of hand-overs given since `since`: {"up": a, "down": b}."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Handover.rating, func.count())
                .where(Handover.rating.is_not(None), Handover.rated_at >= since)
                .group_by(Handover.rating)
            )
            counted = dict(rows.all())
        return {rating: counted.get(rating, 0) for rating in RATINGS}

    async def consultant_name(self, consultant: int) -> str | None:
        """The name a consultant set with /myname (None: they set none)."""
        async with self.sessions() as session:
            return await session.scalar(select(ConsultantName.name).where(ConsultantName.user_id == consultant))

    async def set_consultant_name(self, consultant: int, name: str | None) -> None:
        """Set a consultant's name; None removes it (their Telegram first name is used again)."""
        async with self._writing() as session:
            row = await session.get(ConsultantName, consultant)
            if name is None:
                if row is not None:
                    await session.delete(row)
            elif row is None:
                session.add(ConsultantName(user_id=consultant, name=name, updated_at=utcnow()))
            else:
                row.name, row.updated_at = name, utcnow()
