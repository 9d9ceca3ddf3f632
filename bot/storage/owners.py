"""Owners: who they are, their profile, their access status, and their right to be forgotten."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select, update

from bot.advisor.conversation import Profile
from bot.storage.base import StoreBase
from bot.storage.models import (
    CommentPrompt,
    ConsultantName,
    Conversation,
    Event,
    Feedback,
    Handover,
    OwnerDocument,
    QuestionAsked,
    Reminder,
    Turn,
    User,
    Wish,
    utcnow,
)


@dataclass(frozen=True)
class OwnerState:
    """What the bot needs to know about whoever sent an update, read in one query before any
    handler runs (`Owners.owner_state`), so that a question costs no further reads for it."""

    status: str | None = None  # 'allowed', 'blocked', 'active'; None for an owner never seen
    language: str | None = None  # chosen with /language
    in_handover: bool = False  # a request to a person is open (maybe just expired: `active_handover`)
    has_documents: bool = False  # their own documents to search (/documents)


class Owners(StoreBase):
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

    async def user_by_username(self, username: str) -> str | None:
        """The key (tg:123) of the owner with this Telegram @username (case-insensitive), last seen first."""
        async with self.sessions() as session:
            return await session.scalar(
                select(User.id)
                .where(func.lower(User.username) == username.lower())
                .order_by(User.last_seen.desc())
                .limit(1)
            )

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

    async def owner_state(self, user_id: str) -> OwnerState:
        """Access status, language, an open hand-over and documents, in one read: every update
        needs the first two, and every question the others."""
        handover = exists().where(Handover.user_id == User.id, Handover.status == "open")
        documents = exists().where(OwnerDocument.user_id == User.id)
        statement = select(User.status, User.language, handover, documents).where(User.id == user_id)
        async with self.engine.connect() as connection:  # read on every update: no ORM session needed
            row = (await connection.execute(statement)).first()
        return OwnerState(row[0], row[1], bool(row[2]), bool(row[3])) if row else OwnerState()

    async def set_language(self, user_id: str, language: str | None) -> None:
        """The language the owner chose with /language (None: follow their Telegram app)."""
        await self.touch_user(user_id)
        async with self._writing() as session:
            await session.execute(update(User).where(User.id == user_id).values(language=language))

    async def forget(self, user_id: str) -> dict[str, int]:
        """Delete an owner's turns, feedback, profile, wishes to hear back and user row (keeping only
        an admin's block/allow)."""
        async with self._writing() as session:
            feedback = await session.execute(delete(Feedback).where(Feedback.user_id == user_id))
            await session.execute(delete(QuestionAsked).where(QuestionAsked.user_id == user_id))
            await session.execute(delete(CommentPrompt).where(CommentPrompt.user_id == user_id))
            await session.execute(delete(Handover).where(Handover.user_id == user_id))  # its admin-chat messages too
            await session.execute(delete(Reminder).where(Reminder.user_id == user_id))  # and check-ins
            await session.execute(delete(OwnerDocument).where(OwnerDocument.user_id == user_id))  # rows only
            await session.execute(delete(Wish).where(Wish.user_id == user_id))  # "Tell me when you know"
            await session.execute(update(Event).where(Event.user_id == user_id).values(user_id=None))  # counts stay
            if user_id.startswith("tg:") and user_id[3:].lstrip("-").isdigit():  # a consultant's /myname too
                await session.execute(delete(ConsultantName).where(ConsultantName.user_id == int(user_id[3:])))
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
                    update(User)
                    .where(User.id == user_id)
                    .values(profile={}, username=None, display_name=None, timezone=None, checkin=None)
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
