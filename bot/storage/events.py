"""Events worth counting that are not turns (`events`): a voice note nobody could transcribe
because speech-to-text is off (`voice_unanswered`), or because it failed (`voice_failed`).
Admins read the counts in /stats; /forget unlinks an owner's events from them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.storage.base import StoreBase
from bot.storage.models import Event, utcnow


class Events(StoreBase):
    async def record_event(self, kind: str, user_id: str | None = None) -> None:
        async with self._writing() as session:
            session.add(Event(kind=kind, user_id=user_id, created_at=utcnow()))

    async def count_events(self, since: dt.datetime) -> dict[str, int]:
        """How many events of each kind happened since `since`."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Event.kind, func.count()).where(Event.created_at >= since).group_by(Event.kind)
            )
            return {kind: count for kind, count in rows}
