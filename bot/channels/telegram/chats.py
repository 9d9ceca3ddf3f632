"""What each chat is doing: its questions answered one at a time and in order, a long paste
gathered into one question, and the answer in progress (which /cancel stops).

- **Order.** Updates of different chats run concurrently. A chat's questions (text that is not
  a command, /ask, and taps on buttons that ask a question) run one at a time, in the order they
  arrived, so a follow-up never overtakes the question before it, and /cancel stops the one
  being answered; with a shared database the order holds across bot processes too. Commands
  and other buttons never wait behind a slow answer: /help, /cancel and 👍 work at once.
- **A new question while one is being answered** waits its turn, and the owner is told so in
  one line ("I'll answer it right after").
- **Over the minute's question limit** a question waits until it may be asked (`streaming.
  within_limits`), and the chat's next questions wait behind it, each told so in one line; at
  most MAX_WAITING of them: one more is refused at once (the owner is asked to send it later).
- **Long pastes.** Telegram splits a message over 4,096 characters into several that arrive
  within about a second. A long message (over LONG_MESSAGE characters) waits QUESTION_WINDOW
  seconds for the rest of the owner's messages, and they are answered as one question; sent
  while another question is answered, it gathers the rest meanwhile and waits the window again
  when its turn comes.
- **Steps.** With a shared database, where an owner is in a multi-step conversation (the guided
  /profile…) is read before each of their updates and saved after (`steps.SharedSteps`), so
  any process can take the next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.channels.telegram.steps import SharedSteps
from bot.channels.telegram.updates import is_question
from bot.locales import N_, texts
from bot.storage import Storage

log = logging.getLogger(__name__)

LONG_MESSAGE = 3000  # characters: a message this long may be the first part of a paste Telegram split
MAX_WAITING = 5  # a chat's questions waiting while the owner is over the minute's limit (this one included)
WAITS = N_("I'm still answering your previous question; I'll answer this one right after.")
WAITS_LIMIT = N_("You've asked a lot of questions this minute — I'll answer this one after the ones waiting.")
TOO_MANY = N_("You've asked a lot of questions — {count} are waiting already. Please send this one again in a minute.")


@dataclass
class Gathering:
    """The messages of one owner gathered into one question, until they stop coming."""

    texts: list[str]
    last: float = field(default_factory=time.monotonic)
    open: bool = True

    def add(self, text: str) -> None:
        self.texts.append(text)
        self.last = time.monotonic()

    async def until_quiet(self, window: float) -> str:
        """Wait until no message joined for `window` seconds, counted from its turn at the
        earliest (as when the chat is idle: a paste sent during another answer may have arrived
        long before its turn, and its rest may reach the bot only after that answer's writes);
        then close it and give the text."""
        self.last = max(self.last, time.monotonic())
        while (wait := self.last + window - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        self.open = False
        return "\n".join(self.texts)


class ChatActivity:
    """Per chat, in this process: the answer being prepared and the messages being gathered."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.answering: dict[int, asyncio.Task] = {}  # chat id -> the task preparing its answer
        self.gathered: dict[int, str] = {}  # update id -> the text of the messages gathered into it
        self.gatherings: dict[tuple[int, int], Gathering] = {}  # (chat, user) -> messages gathering
        self.limited: set[int] = set()  # chats whose question waits for the owner's minute limit

    def question_of(self, update: Update) -> str:
        """The text to answer for `update`: its own, or the messages gathered into it."""
        return self.gathered.pop(update.update_id, None) or update.effective_message.text or ""

    def cancel(self, chat_id: int) -> bool:
        """Stop the answer being prepared in the chat; False when there is none."""
        task = self.answering.get(chat_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Runs updates: a chat's questions one at a time and in order (across processes when
    `storage` is shared), everything else at once; see the module's docstring."""

    def __init__(self, max_concurrent_updates: int, activity: ChatActivity, storage: Storage | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self.activity = activity
        self.storage = storage
        self.steps = SharedSteps(storage) if storage is not None else None
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not is_question(update) or update.effective_chat is None:
            async with self._steps(update):
                await coroutine
            return
        chat, user = update.effective_chat.id, update.effective_user.id if update.effective_user else 0
        text = update.message.text if update.message else None  # None: a button that asks
        gathering = self.activity.gatherings.get((chat, user))
        if gathering is not None and gathering.open and text:  # the rest of a long paste
            gathering.add(text)
            coroutine.close()
            await self._answered_with_another(chat, update.update_id)
            return
        if len(text or "") >= LONG_MESSAGE:
            gathering = self.activity.gatherings[(chat, user)] = Gathering([text])
        await self._in_turn(update, chat, user, gathering, coroutine)

    async def _in_turn(
        self, update: Update, chat: int, user: int, gathering: Gathering | None, coroutine: Awaitable[Any]
    ) -> None:
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._waiting[chat] = self._waiting.get(chat, 0) + 1
        try:
            if lock.locked() and chat in self.activity.limited:
                if self._waiting[chat] > MAX_WAITING:
                    coroutine.close()
                    await self._answered_with_another(chat, update.update_id)  # nobody waits for it
                    await _tell(update, TOO_MANY, count=MAX_WAITING)
                    return
                await _tell(update, WAITS_LIMIT)
            elif lock.locked() and chat in self.activity.answering:
                await _tell(update, WAITS)  # in the owner's app language (no /language lookup here)
            async with lock:
                if gathering is not None:
                    self.activity.gathered[update.update_id] = await gathering.until_quiet(self.activity.window)
                    self.activity.gatherings.pop((chat, user), None)
                if self.storage is None:
                    await coroutine
                else:
                    async with self.storage.chat_turn(chat, update.update_id), self._steps(update):
                        await coroutine  # the steps are saved before the next update may start
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:  # forget idle chats, so the dicts do not grow forever
                del self._waiting[chat], self._locks[chat]

    def _steps(self, update: object):
        return self.steps.around(update) if self.steps is not None else contextlib.nullcontext()

    async def _answered_with_another(self, chat: int, update_id: int) -> None:
        """A message gathered into another's question (or refused) needs no answer of its own;
        other processes must not wait for one."""
        if self.storage is not None:
            await self.storage.mark_answered(chat, update_id)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


async def _tell(update: Update, text: str, **values: object) -> None:
    """A courtesy line; if it cannot be sent, the question is still answered."""
    _ = texts(update.effective_user.language_code if update.effective_user else None)
    try:
        await update.get_bot().send_message(update.effective_chat.id, _(text).format(**values))
    except Exception as exc:
        log.info("could not tell chat %s its question waits: %s", update.effective_chat.id, exc)
