"""Reminders and strategy check-ins (table `reminders`), an owner's time zone and check-in state
(`users.timezone`, `users.checkin`).

Several bot processes may look for due reminders at once (webhook workers sharing PostgreSQL,
each with its own timer). A reminder is claimed before it is sent, with one guarded UPDATE
(`status = 'pending'` and the `due_at` that was read): of all the processes that saw it due,
exactly one changes the row, and only that one sends it. A repeating reminder is claimed by
moving its `due_at` to the next time in that same UPDATE. Nothing is held in memory, so a
restart loses nothing: what came due while the bot was down is sent when it is back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.advisor.when import next_due
from bot.storage.base import StoreBase
from bot.storage.models import Reminder, User, utcnow

RETRY_AFTER = dt.timedelta(minutes=1)  # a send that failed for a passing reason is tried again then


@dataclass(frozen=True)
class DueReminder:
    """A reminder this process has claimed and must send, with what the owner chose since."""

    reminder: Reminder
    language: str | None  # the owner's /language now (None: the one stored with the reminder)
    zone: str  # the owner's time zone (or the default)


class Reminders(StoreBase):
    async def add_reminder(
        self,
        *,
        user_id: str,
        chat_id: int,
        text: str,
        due_at: dt.datetime,
        every: str | None = None,
        kind: str = "reminder",
        language: str | None = None,
    ) -> Reminder:
        """Store a reminder (due_at: naive UTC); the owner's row is created if they are new."""
        reminder = Reminder(
            user_id=user_id, chat_id=chat_id, kind=kind, text=text, due_at=due_at, every=every, language=language
        )
        reminder.status, reminder.created_at = "pending", utcnow()
        async with self._writing() as session:
            await _owner_row(session, user_id)
            session.add(reminder)
        return reminder

    async def pending_reminders(self, user_id: str, chat_id: int | None = None) -> list[Reminder]:
        """An owner's pending reminders (in one chat, when given), soonest first."""
        query = select(Reminder).where(Reminder.user_id == user_id, Reminder.status == "pending")
        if chat_id is not None:
            query = query.where(Reminder.chat_id == chat_id)
        async with self.sessions() as session:
            return list((await session.scalars(query.order_by(Reminder.due_at, Reminder.id))).all())

    async def cancel_reminder(self, reminder_id: int, *, user_id: str) -> bool:
        """Cancel a pending reminder of this owner's (False: not theirs, or no longer pending)."""
        async with self._writing() as session:
            result = await session.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id, Reminder.user_id == user_id, Reminder.status == "pending")
                .values(status="cancelled")
            )
        return result.rowcount == 1

    async def cancel_reminders(self, user_id: str, *, kind: str) -> int:
        """Cancel all of an owner's pending reminders of one kind (`checkin` when check-ins stop)."""
        async with self._writing() as session:
            result = await session.execute(
                update(Reminder)
                .where(Reminder.user_id == user_id, Reminder.kind == kind, Reminder.status == "pending")
                .values(status="cancelled")
            )
        return result.rowcount

    async def claim_due_reminders(
        self, *, default_zone: str = "UTC", now: dt.datetime | None = None, limit: int = 50
    ) -> list[DueReminder]:
        """The reminders due by `now` that this process claimed (and so must send). A one-off
        becomes `sent`; a repeating one moves to its next time. Blocked owners' reminders are
        cancelled instead: they get none."""
        now = now or utcnow()
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Reminder, User.status, User.language, User.timezone)
                    .join(User, User.id == Reminder.user_id, isouter=True)
                    .where(Reminder.status == "pending", Reminder.due_at <= now)
                    .order_by(Reminder.due_at)
                    .limit(limit)
                )
            ).all()
        claimed = []
        for reminder, status, language, zone in rows:
            zone = zone or default_zone
            if status == "blocked":
                values = {"status": "cancelled"}
            elif reminder.every:
                values = {"due_at": next_due(reminder.due_at, reminder.every, zone, now), "sent_at": now}
            else:
                values = {"status": "sent", "sent_at": now}
            async with self._writing() as session:
                result = await session.execute(
                    update(Reminder)
                    .where(Reminder.id == reminder.id, Reminder.status == "pending", Reminder.due_at == reminder.due_at)
                    .values(**values)
                )
            if result.rowcount == 1 and status != "blocked":
                claimed.append(DueReminder(reminder, language, zone))
        return claimed

    async def release_reminder(self, reminder_id: int, *, now: dt.datetime | None = None) -> None:
        """A claimed one-off reminder could not be sent for a passing reason (the network): it is
        pending again, due a minute from now."""
        async with self._writing() as session:
            await session.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id, Reminder.status == "sent", Reminder.every.is_(None))
                .values(status="pending", due_at=(now or utcnow()) + RETRY_AFTER, sent_at=None)
            )

    async def timezone(self, user_id: str) -> str | None:
        """The owner's time zone (an IANA name), None until they gave one."""
        async with self.sessions() as session:
            return await session.scalar(select(User.timezone).where(User.id == user_id))

    async def set_timezone(self, user_id: str, zone: str) -> None:
        async with self._writing() as session:
            (await _owner_row(session, user_id)).timezone = zone

    async def checkin_state(self, user_id: str) -> dict:
        """The owner's check-in: `on`, `round`, `quarter`, `priorities`, `answers`, `history`."""
        async with self.sessions() as session:
            return dict(await session.scalar(select(User.checkin).where(User.id == user_id)) or {})

    async def change_checkin(self, user_id: str, change: Callable[[dict], dict]) -> dict:
        """Read, change and write the owner's check-in in one transaction, the owner's row locked
        (PostgreSQL; SQLite has one writer anyway): two answers tapped at once both count."""
        async with self._writing() as session:
            await _owner_row(session, user_id)
            current = await session.scalar(select(User.checkin).where(User.id == user_id).with_for_update())
            changed = change(dict(current or {}))
            await session.execute(update(User).where(User.id == user_id).values(checkin=changed))
        return changed


async def _owner_row(session: AsyncSession, user_id: str) -> User:
    """The owner's row, created if they are new."""
    user = await session.get(User, user_id)
    if user is None:
        user = User(id=user_id, profile={})
        session.add(user)
        await session.flush()
    return user
