"""How updates flow into the bot: Telegram's flood limits for messages, one chat's updates in
order, and, with a shared database, across several bot processes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import AIORateLimiter, BaseUpdateProcessor

from bot.storage import Storage

log = logging.getLogger(__name__)


class MessageRateLimiter(AIORateLimiter):
    """Telegram's flood limits are about messages. Typing indicators and drafts are optional
    extras: they skip the queue (a 429 on them is simply logged by the caller), so they never
    delay a real answer."""

    UNQUEUED = frozenset({"sendChatAction", "sendMessageDraft"})

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if endpoint in self.UNQUEUED:
            return await callback(*args, **kwargs)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


def _chat_of(update: object) -> int | None:
    return update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None


class SharedUpdateQueue(asyncio.Queue):
    """The update queue of a bot process that shares its database with others (webhook workers
    behind one address): each update is noted in the database before Telegram is told it was
    received, so every process knows what its chat's earlier updates are, and an update
    Telegram delivers twice is answered once."""

    def __init__(self, storage: Storage) -> None:
        super().__init__()
        self.storage = storage

    async def put(self, item: object) -> None:
        chat = _chat_of(item)
        if chat is not None and not await self.storage.register_update(chat, item.update_id):
            log.info("update %s was delivered again; it is answered once", item.update_id)
            return
        await super().put(item)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; updates of one chat run one at a time, in
    the order they arrived, so an owner's follow-up never overtakes the question before it.
    With a shared database (`storage` given) the order holds across bot processes too."""

    def __init__(self, max_concurrent_updates: int, storage: Storage | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self.storage = storage
        self._locks: dict[int | None, asyncio.Lock] = {}
        self._waiting: dict[int | None, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = _chat_of(update)
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._waiting[chat] = self._waiting.get(chat, 0) + 1
        try:
            async with lock:
                if self.storage is None or chat is None:
                    await coroutine
                else:
                    async with self.storage.chat_turn(chat, update.update_id):
                        await coroutine
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:  # forget idle chats, so the dicts do not grow forever
                del self._waiting[chat], self._locks[chat]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

