"""How updates flow into the bot: Telegram's flood limits for messages, one chat's updates in
order, and, with a shared database, across several bot processes."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter, BaseUpdateProcessor
from telegram.request import HTTPXRequest

from bot.storage import Storage

log = logging.getLogger(__name__)


class MessageRateLimiter(AIORateLimiter):
    """Every request the bot makes passes here. Telegram's flood limits are about messages;
    typing indicators and drafts are optional extras: they skip the queue (a failure on them
    is simply logged by the caller), so they never delay a real answer. What the bot sends
    (answers, refusals, replies to buttons) is retried a few times on a transient failure (a
    5xx from Telegram or a dropped connection), so one bad gateway does not lose an answer;
    Telegram refusing the request itself (400) is not retried, and 429s are waited out by
    the limiter. A message whose request timed out may have arrived and then comes twice:
    better than not at all."""

    UNQUEUED = frozenset({"sendChatAction", "sendMessageDraft"})
    NOT_RETRIED = frozenset({"getUpdates", "getMe", "setWebhook", "deleteWebhook", "close", "logOut"})
    RETRY_DELAYS = (0.5, 1.0, 2.0)

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if endpoint in self.UNQUEUED:
            return await callback(*args, **kwargs)
        if endpoint in self.NOT_RETRIED:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        for delay in (*self.RETRY_DELAYS, None):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except NetworkError as exc:
                if isinstance(exc, BadRequest) or delay is None:
                    raise
                log.warning("%s failed (%s); trying again in %.1f s", endpoint, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


class TolerantUpdates(HTTPXRequest):
    """The getUpdates connection, reading each update on its own.

    python-telegram-bot reads a batch of updates in one go: one it cannot read fails the
    batch, the same batch is fetched again, and the bot stops answering anyone while logging
    the same traceback in a tight loop. Here an unreadable update is logged once (its id and
    the error, not its content) and replaced by an empty update with its id, which no handler
    answers and which moves the offset past it, so Telegram forgets it."""

    async def post(self, url, request_data=None, **timeouts):
        result = await super().post(url, request_data, **timeouts)
        if not isinstance(result, list):
            return result
        return [readable for data in result if (readable := _readable(data)) is not None]


def _readable(data: object) -> dict | None:
    if read_update(copy.deepcopy(data), None) is not None:
        return data
    update_id = data.get("update_id") if isinstance(data, dict) else None
    return {"update_id": update_id} if isinstance(update_id, int) else None


def read_update(data: object, bot) -> Update | None:
    """The update in `data`, or None (logged once: its id and the error, not its content)."""
    try:
        return Update.de_json(data, bot)
    except Exception as exc:
        update_id = data.get("update_id") if isinstance(data, dict) else None
        log.error("update %s could not be read (%s: %s); skipped", update_id, type(exc).__name__, str(exc)[:200])
        return None


def _chat_of(update: object) -> int | None:
    return update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None


class SharedUpdateQueue(asyncio.Queue):
    """The update queue: each update is noted in the database before Telegram is told it was
    received, so an update Telegram delivers twice (a webhook it thinks failed) is answered
    once. When processes share the database (webhook workers behind one address), every
    process also knows what its chat's earlier updates are (`PerChatUpdateProcessor`)."""

    def __init__(self, storage: Storage) -> None:
        super().__init__()
        self.storage = storage

    async def put(self, item: object) -> None:
        chat = _chat_of(item)
        # one process (SQLite): nothing waits for the row, so it counts as answered from the start
        answered = not self.storage.shared
        if chat is not None and not await self.storage.register_update(chat, item.update_id, answered=answered):
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

