"""Conversations: a chat's open conversation, its memory, and starting afresh."""

from __future__ import annotations

from sqlalchemy import Select, select, update

from bot.advisor.conversation import Exchange, Profile
from bot.storage.base import StoreBase
from bot.storage.models import Conversation, Turn, User, utcnow

HISTORY_TURNS = 20  # the advisor trims these further to its token budget


class Conversations(StoreBase):
    async def context(
        self,
        user_id: str,
        chat_id: str,
        limit: int = HISTORY_TURNS,
        names: tuple[str | None, str | None] = (None, None),
    ) -> tuple[int, list[Exchange], Profile]:
        """Everything a question needs: the chat's open conversation, its recent exchanges and
        the owner's profile. Usually one read; the first question of an owner or in a chat
        also records them (with their `names`, username and display name, when known) or
        starts the conversation. (An owner is recorded as seen with each turn: `record_turn`.)"""
        known = select(User.profile, _open_conversation(chat_id).scalar_subquery()).where(User.id == user_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(known)).first()
            if row is not None and row[1] is not None:
                rows = (await connection.execute(_recent_turns(row[1], limit))).all()
                return row[1], _exchanges(rows), Profile.from_dict(row[0])
        username, display_name = names
        async with self._writing() as session:
            user = await session.get(User, user_id)
            if user is None:
                user = User(id=user_id, username=username, display_name=display_name, profile={})
                session.add(user)
            else:
                user.last_seen = utcnow()
                user.username = username or user.username
                user.display_name = display_name or user.display_name
            conversation_id = await session.scalar(_open_conversation(chat_id))
            if conversation_id is None:
                conversation = Conversation(chat_id=chat_id, started_by=user_id)
                session.add(conversation)
                await session.flush()
                conversation_id = conversation.id
            rows = (await session.execute(_recent_turns(conversation_id, limit))).all()
            profile = Profile.from_dict(user.profile)
        return conversation_id, _exchanges(rows), profile

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
        return _exchanges(rows)


def _open_conversation(chat_id: str) -> Select:
    return (
        select(Conversation.id)
        .where(Conversation.chat_id == chat_id, Conversation.closed_at.is_(None))
        .order_by(Conversation.id.desc())
        .limit(1)
    )


def _exchanges(rows) -> list[Exchange]:
    """Exchanges, oldest first, from turns read newest first (`_recent_turns`)."""
    return [Exchange(q, a, standalone or "", _section_keys(sources)) for q, a, standalone, sources in reversed(rows)]


def _section_keys(sources: list | None) -> tuple[str, ...]:
    """The knowledge sections a turn cited (`path#heading`), from its stored sources."""
    keys = []
    for source in sources or []:
        if isinstance(source, dict) and source.get("kind", "knowledge") == "knowledge" and source.get("path"):
            keys.append(f"{source['path']}#{str(source.get('heading', '')).split(' > ')[-1]}")
    return tuple(keys)


def _recent_turns(conversation_id: int, limit: int) -> Select:
    return (
        select(Turn.question, Turn.answer, Turn.standalone_question, Turn.sources)
        .where(
            Turn.conversation_id == conversation_id,
            Turn.mode.not_in(("smalltalk", "handover")),  # a consultant's reply (`human`) is remembered
            Turn.cancelled.is_(False),
        )
        .order_by(Turn.id.desc())
        .limit(limit)
    )
