"""Reminders and strategy check-ins (table `reminders`), an owner's time zone and check-in state
(`users.timezone`, `users.checkin`).

Several bot processes may look for due reminders at once (webhook workers sharing PostgreSQL,
each with its own timer). A reminder is claimed before it is sent, with one guarded UPDATE
(`status = 'pending'` and the `due_at` that was read; the row becomes `sending`, `sent_at` the
claim's time): of all the processes that saw it due, exactly one changes the row, and only that
one sends it. Only once Telegram accepted it is it marked done (`finish_reminder`: a one-off
becomes `sent`, a repeating one pending at its next time). A claim not finished within
`claim_expires` (REMINDER_CLAIM_SECONDS, CLAIM_EXPIRES by default: the process was killed
mid-delivery) can be claimed again, so a reminder is sent
at least once: after a crash the owner may get one twice, never none. Nothing is held in memory,
so a restart loses nothing: what came due while the bot was down is sent when it is back.
Under a reminder that came, Done makes a one-off `done`; Snooze makes it pending again at the
later time (a repeating one gets a one-off copy then), sent the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.advisor.when import next_due
from bot.storage.base import StoreBase
from bot.storage.models import Reminder, User, utcnow

RETRY_AFTER = dt.timedelta(minutes=1)  # a send that failed for a passing reason is tried again then
# A claim older than this was left by a process that died mid-delivery (a send, with its retries,
# takes well under a minute): the reminder is claimed again and sent.
CLAIM_EXPIRES = dt.timedelta(minutes=5)


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
        """Cancel a pending reminder of this owner's (False: not theirs, or no longer pending); one
        being sent (`sending`) can be cancelled too, so a chat that is gone stops it."""
        async with self._writing() as session:
            result = await session.execute(
                update(Reminder)
                .where(
                    Reminder.id == reminder_id,
                    Reminder.user_id == user_id,
                    Reminder.status.in_(("pending", "sending")),
                )
                .values(status="cancelled")
            )
        return result.rowcount == 1

    async def get_reminder(self, reminder_id: int, *, user_id: str) -> Reminder | None:
        """One of this owner's reminders (None: no such reminder, or not theirs)."""
        async with self.sessions() as session:
            reminder = await session.get(Reminder, reminder_id)
        return reminder if reminder is not None and reminder.user_id == user_id else None

    async def mark_done(self, reminder_id: int, *, user_id: str) -> Reminder | None:
        """Done under a reminder that came: a one-off (sent, or snoozed and pending) becomes
        `done`; a repeating one keeps its next time (Done is for this time, not the series).
        None: not this owner's, or cancelled meanwhile."""
        async with self._writing() as session:
            reminder = await session.get(Reminder, reminder_id)
            if reminder is None or reminder.user_id != user_id or reminder.status not in ("sent", "pending", "done"):
                return None
            if not reminder.every:
                reminder.status = "done"
        return reminder

    async def snooze_reminder(self, reminder_id: int, *, user_id: str, due_at: dt.datetime) -> Reminder | None:
        """Snooze under a reminder that came: a one-off (sent, done, or snoozed before) is pending
        again at `due_at`, so it is sent like any reminder (and survives a restart); of a repeating
        one a one-off copy is stored for `due_at` (the series keeps its times), unless the series
        comes by then anyway. Returns the
        reminder that will come; None: not this owner's, or cancelled meanwhile."""
        async with self._writing() as session:
            reminder = await session.get(Reminder, reminder_id)
            if reminder is None or reminder.user_id != user_id or reminder.status not in ("sent", "pending", "done"):
                return None
            if reminder.every and due_at >= reminder.due_at:
                return reminder  # its next time comes first: no copy (a daily one, till tomorrow)
            if reminder.every:
                reminder = Reminder(
                    user_id=user_id, chat_id=reminder.chat_id, kind=reminder.kind, text=reminder.text,
                    due_at=due_at, language=reminder.language, status="pending", created_at=utcnow(),
                )  # fmt: skip
                session.add(reminder)
            else:
                reminder.status, reminder.due_at, reminder.sent_at = "pending", due_at, None
        return reminder

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
        self,
        *,
        default_zone: str = "UTC",
        now: dt.datetime | None = None,
        limit: int = 50,
        claim_expires: dt.timedelta = CLAIM_EXPIRES,
    ) -> list[DueReminder]:
        """The reminders due by `now` that this process claimed (and so must send, then
        `finish_reminder`), with those whose claim is older than `claim_expires` and unfinished
        (their process died). Blocked owners' reminders are cancelled instead: they get none."""
        now = now or utcnow()
        due = or_(
            and_(Reminder.status == "pending", Reminder.due_at <= now),
            and_(Reminder.status == "sending", Reminder.sent_at <= now - claim_expires),
        )
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Reminder, User.status, User.language, User.timezone)
                    .join(User, User.id == Reminder.user_id, isouter=True)
                    .where(due)
                    .order_by(Reminder.due_at)
                    .limit(limit)
                )
            ).all()
        claimed = []
        for reminder, status, language, zone in rows:
            values = {"status": "cancelled"} if status == "blocked" else {"status": "sending", "sent_at": now}
            async with self._writing() as session:
                result = await session.execute(
                    update(Reminder)
                    .where(
                        Reminder.id == reminder.id,
                        Reminder.status == reminder.status,  # as read: of several processes, one changes it
                        Reminder.due_at == reminder.due_at,
                        _same(Reminder.sent_at, reminder.sent_at),
                    )
                    .values(**values)
                )
            if result.rowcount == 1 and status != "blocked":
                reminder.sent_at = now  # the claim, as `finish_reminder` and `release_reminder` find it
                claimed.append(DueReminder(reminder, language, zone or default_zone))
        return claimed

    async def finish_reminder(self, due: DueReminder, *, now: dt.datetime | None = None) -> None:
        """Telegram accepted the claimed reminder: a one-off is `sent`; a repeating one is pending
        at its next time (counted from the time it was due, so its hour never drifts)."""
        reminder, now = due.reminder, now or utcnow()
        if reminder.every:
            values = {"status": "pending", "due_at": next_due(reminder.due_at, reminder.every, due.zone, now)}
        else:
            values = {"status": "sent"}
        await self._end_claim(reminder, values)

    async def release_reminder(self, due: DueReminder, *, now: dt.datetime | None = None) -> None:
        """A claimed reminder could not be sent for a passing reason (the network): a one-off is
        pending again, due a minute from now; a repeating one at the time it was due (the next
        check tries again)."""
        reminder = due.reminder
        due_at = reminder.due_at if reminder.every else (now or utcnow()) + RETRY_AFTER
        await self._end_claim(reminder, {"status": "pending", "due_at": due_at})

    async def _end_claim(self, reminder: Reminder, values: dict) -> None:
        """Change a reminder this process still holds the claim of (not cancelled meanwhile, nor
        claimed again by another after it expired)."""
        async with self._writing() as session:
            await session.execute(
                update(Reminder)
                .where(Reminder.id == reminder.id, Reminder.status == "sending", Reminder.sent_at == reminder.sent_at)
                .values(**values)
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


def _same(column, value):
    """`column = value`, where None is NULL."""
    return column.is_(None) if value is None else column == value
