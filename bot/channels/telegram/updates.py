"""How updates flow between Telegram and the bot: flood limits and retries for what it sends,
updates read one by one, and each update noted once in the database."""

from __future__ import annotations

import asyncio
import copy
import logging
import re

from telegram import Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter
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


ASKING_BUTTONS = re.compile(r"^(?:ask|next|docask):")  # example and suggested questions: a tap asks


def is_question(update: object) -> bool:
    """A message the bot may answer as a question (text that is not a command, or /ask; a voice
    note, an audio message, a photo with a caption), or a tap on a button that asks one: these
    are answered one at a time per chat, in order. Commands and other buttons never wait."""
    if not isinstance(update, Update):
        return False
    if update.callback_query is not None:
        return bool(ASKING_BUTTONS.match(update.callback_query.data or ""))
    if update.message is None:
        return False
    message = update.message
    if message.voice or message.audio or (message.photo and message.caption):
        return True
    if not message.text:
        return False
    text = update.message.text.lstrip()
    return not text.startswith("/") or text.split(maxsplit=1)[0].split("@")[0] == "/ask"


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
        # Only questions wait for the chat's earlier questions (`bot.channels.telegram.chats`);
        # with one process (SQLite) nothing waits on the row, so it counts as answered at once.
        answered = not self.storage.shared or not is_question(item)
        if chat is not None and not await self.storage.register_update(chat, item.update_id, answered=answered):
            log.info("update %s was delivered again; it is answered once", item.update_id)
            return
        await super().put(item)
