"""The transcript database's tables, as SQLAlchemy models.

The schema itself is created and changed only by the Alembic migrations in
`bot/storage/migrations/`; these models must match them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # stored as naive UTC everywhere


class Base(DeclarativeBase):
    pass


class User(Base):
    """An owner: `tg:<telegram id>` on Telegram, `local:<name>` in the terminal chat."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | allowed | blocked
    profile: Mapped[dict] = mapped_column(JSON, default=dict)
    language: Mapped[str | None] = mapped_column(String(16))  # chosen with /language (None: the app's)
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name, asked when a reminder needs it
    checkin: Mapped[dict | None] = mapped_column(JSON)  # the quarterly check-in: on/off, priorities


class Conversation(Base):
    """A run of turns in one chat that share memory; /new closes it and starts another."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    started_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Turn(Base):
    """One question and the answer given, with everything needed to review it later."""

    __tablename__ = "turns"
    # a period's counts (the review dashboard) read this index alone, not the turns' rows (migration 0013)
    __table_args__ = (Index("ix_turns_period", "created_at", "mode", "covered", "cancelled", "latency_ms", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(Text)
    standalone_question: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    covered: Mapped[bool] = mapped_column(Boolean, default=True)
    mode: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(255))
    sources: Mapped[list] = mapped_column(JSON, default=list)
    best_score: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    delivered: Mapped[bool | None] = mapped_column(Boolean)  # did the answer reach the owner (None: not known)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)  # the model's answer was cut short
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)  # the owner stopped it with /cancel
    profile: Mapped[dict | None] = mapped_column(JSON)  # the owner's profile when they asked
    follow_ups: Mapped[list | None] = mapped_column(JSON)  # the next questions suggested under the answer
    answered_by: Mapped[str | None] = mapped_column(String(255))  # the consultant who wrote a `human` answer
    flagged_gap: Mapped[bool] = mapped_column(Boolean, default=False)  # a consultant: "add to knowledge gaps"
    input_kind: Mapped[str | None] = mapped_column(String(16))  # voice | photo | document; None: typed text


class Feedback(Base):
    """An owner's 👍 or 👎 on a turn, with an optional comment (one per owner and turn)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("turn_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    rating: Mapped[str] = mapped_column(String(8))  # up | down
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class QuestionAsked(Base):
    """One question an owner asked, kept for a day: the rate limits count these, so every bot
    process sharing the database enforces the same limits."""

    __tablename__ = "questions_asked"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    asked_at: Mapped[float] = mapped_column(Float)  # Unix time


class PendingUpdate(Base):
    """A Telegram update some bot process received: answered in the order received per chat,
    whichever process got it, and never twice (rows are kept an hour after the answer)."""

    __tablename__ = "pending_updates"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[float] = mapped_column(Float)
    answered_at: Mapped[float | None] = mapped_column(Float)


class CommentPrompt(Base):
    """A "what was missing?" message after a 👎: the owner's reply to it becomes the comment."""

    __tablename__ = "comment_prompts"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(64))


class Handover(Base):
    """An owner's request for a person: open until a consultant resolves it or it expires
    (HANDOVER_HOURS after the request or the consultant's last reply)."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)  # the owner's Telegram chat
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("turns.id", ondelete="SET NULL"))  # the answer it is about
    request: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))  # the owner's, for what the bot tells them later
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved | expired
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    claimed_by: Mapped[int | None] = mapped_column(BigInteger)  # the consultant who took it (/queue's Claim)
    claimed_by_name: Mapped[str | None] = mapped_column(String(255))  # as the owner and the team see them
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rating: Mapped[str | None] = mapped_column(String(8))  # up | down: the owner's, after Resolve
    rated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class HandoverMessage(Base):
    """A message the bot posted in an admin chat about a hand-over (the card, an owner's
    follow-up): a consultant's Telegram reply to it is delivered to that owner."""

    __tablename__ = "handover_messages"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    handover_id: Mapped[int] = mapped_column(ForeignKey("handovers.id", ondelete="CASCADE"))
    question: Mapped[str | None] = mapped_column(Text)  # the owner's words this message shows


class ConsultantName(Base):
    """The name a consultant chose with /myname: what owners read above their replies ("From
    Anna (consultant):") and the team sees on claimed requests."""

    __tablename__ = "consultant_names"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the consultant's Telegram id
    name: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ConversationStep(Base):
    """Where an owner is in one of the bot's multi-step conversations (the guided /profile, the
    request after a bare /human, …), by the conversation's name: on PostgreSQL the owner's next
    message may reach another worker than the one that asked the question."""

    __tablename__ = "conversation_steps"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(64))  # the conversation's state, as JSON
    updated_at: Mapped[float] = mapped_column(Float)  # Unix time: a step older than its timeout is over


class BotState(Base):
    """Small facts every bot process shares, by key (e.g. when the daily digest last went out)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)


class Event(Base):
    """Something worth counting that is not a turn (a voice note nobody could transcribe)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class OwnerDocument(Base):
    """A document an owner sent: what was read (pages, sections, chunks, size), never its text;
    its passages live in the owner's private vector store."""

    __tablename__ = "owner_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    file_name: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str | None] = mapped_column(String(16))
    pages: Mapped[int | None] = mapped_column(Integer)
    sections: Mapped[int | None] = mapped_column(Integer)
    chunks: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    content_sha256: Mapped[str | None] = mapped_column(String(64))  # the file as sent: a repeat is kept once
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Reminder(Base):
    """A reminder or a strategy check-in the bot sends an owner when it is due; claimed before
    sending, so of several bot processes exactly one sends it."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), default="reminder")  # reminder | checkin
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # naive UTC
    every: Mapped[str | None] = mapped_column(String(64))  # a repeating reminder's interval
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | done | cancelled
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Draft(Base):
    """A knowledge entry a consultant is writing from Telegram: from a reply to a hand-over
    (`kind` reply) or an answer to a knowledge gap (`kind` gap), until it is published (a file
    under KNOWLEDGE_DIR, `path`) or discarded. Kept here, not in memory, so a restart or another
    worker continues it."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # reply | gap
    handover_id: Mapped[int | None] = mapped_column(Integer)  # kind reply: the request it came from
    gap_turn_id: Mapped[int | None] = mapped_column(Integer)  # kind gap: the first turn of the gap's theme
    questions: Mapped[list] = mapped_column(JSON, default=list)  # the ways owners ask it, owner details removed
    answer: Mapped[str] = mapped_column(Text, default="")
    removed: Mapped[list] = mapped_column(JSON, default=list)  # what was removed as owner details ("a phone number")
    author: Mapped[str] = mapped_column(String(255))
    author_id: Mapped[int] = mapped_column(BigInteger)
    # awaiting (a gap waiting for its answer) | draft | held (by the eval) | published | discarded | rolled_back
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    path: Mapped[str | None] = mapped_column(String(512))  # the published file, relative to KNOWLEDGE_DIR
    chat_id: Mapped[int] = mapped_column(BigInteger)  # the admin chat it is edited in
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Wish(Base):
    """An owner's "Tell me when you know" under a not-covered answer: open until an entry that
    answers the question is published and the owner is told (`told_at`), or /forget."""

    __tablename__ = "wishes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)  # the owner's private chat, where the answer goes
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("turns.id", ondelete="SET NULL"))  # the not-covered answer
    question: Mapped[str] = mapped_column(Text)  # as the owner asked it (shown back to them)
    searched: Mapped[str | None] = mapped_column(Text)  # as it was searched (a follow-up's rewrite), asked again
    language: Mapped[str | None] = mapped_column(String(16))  # the language they were answered in
    asked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    found_in: Mapped[str | None] = mapped_column(String(512))  # a file found to answer it while the owner waited a day
    told_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    told_turn_id: Mapped[int | None] = mapped_column(ForeignKey("turns.id", ondelete="SET NULL"))  # the follow-up
