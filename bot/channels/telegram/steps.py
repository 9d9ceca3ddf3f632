"""Multi-step conversations that any worker can continue.

python-telegram-bot's `ConversationHandler` keeps where each owner is (the guided /profile's
third question, the request after a bare /human) in the process that asked. With several
webhook workers the owner's answer may reach another one, which would take "bakery" for a
question. So, on a shared database, the step travels with the update: before a worker
handles an owner's update it takes the owner's steps from the database (where the last
worker left them; a step older than its conversation's timeout is over), and after, it
writes back those that moved. One small read per update, a write only while a
conversation is open. (PTB's own persistence writes on an interval and reads once at start:
made for restarts, not for processes sharing the work.)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

from telegram import Update
from telegram.ext import ConversationHandler
from telegram.ext._handlers.conversationhandler import PendingState

from bot.storage import Storage

log = logging.getLogger(__name__)


class SharedSteps:
    """The named conversations of an application, their steps kept in `storage`."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.conversations: list[ConversationHandler] = []

    def follow(self, handlers: list) -> None:
        """Keep the steps of every named conversation among `handlers`."""
        self.conversations = [h for h in handlers if isinstance(h, ConversationHandler) and h.name]

    @contextlib.asynccontextmanager
    async def around(self, update: object) -> AsyncIterator[None]:
        """Load the owner's steps before `update` is handled, and save those that moved after."""
        owner = _owner(update)
        if owner is None or not self.conversations:
            yield
            return
        try:
            before = await self._load(owner, update)
        except Exception:  # the database is down: this process's own steps answer this update
            log.warning("could not read the conversation steps of chat %s", owner[0], exc_info=True)
            before = None
        try:
            yield
        finally:
            if before is not None:
                await self._save(owner, update, before)

    async def _load(self, owner: tuple[int, int], update: Update) -> dict[str, object]:
        stored = await self.storage.conversation_steps(*owner)
        now, before = time.time(), {}
        for handler in self.conversations:
            state, at = stored.get(handler.name, (None, 0.0))
            timeout = _seconds(handler.conversation_timeout)
            if state is not None and timeout and now - at > timeout:
                state = None  # timed out in whichever process asked
            key = handler._get_key(update)
            if handler._conversations.get(key) != state:
                _drop_timeout(handler, key)  # the conversation moved on elsewhere
                if state is None:
                    handler._conversations.pop(key, None)
                else:
                    handler._conversations[key] = state
            before[handler.name] = state
        return before

    async def _save(self, owner: tuple[int, int], update: Update, before: dict[str, object]) -> None:
        moved = {}
        for handler in self.conversations:
            state = handler._conversations.get(handler._get_key(update))
            if isinstance(state, PendingState):  # a non-blocking step still running: not a step yet
                continue
            if state is not None or before[handler.name] is not None:  # a step, even the same, renews
                moved[handler.name] = state
        if moved:
            try:
                await self.storage.save_conversation_steps(*owner, moved)
            except Exception:  # the answer went out; the next step may be asked again
                log.warning("could not save the conversation steps of chat %s", owner[0], exc_info=True)


def _owner(update: object) -> tuple[int, int] | None:
    if not isinstance(update, Update) or update.effective_chat is None or update.effective_user is None:
        return None
    return update.effective_chat.id, update.effective_user.id


def _seconds(timeout) -> float:
    return timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout or 0)


def _drop_timeout(handler: ConversationHandler, key: tuple) -> None:
    job = handler.timeout_jobs.pop(key, None)
    if job is not None:
        job.schedule_removal()
