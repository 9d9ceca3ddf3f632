"""The admin chat: where hand-over cards, error reports and the daily digest go.

It is ADMIN_CHAT_ID (a group of consultants) when set, else each admin's private chat with the
bot. Sending there never raises: a consultant who never opened the bot, or a group that removed
it, is logged and skipped, and the owner's side goes on.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

from telegram import Message, Update
from telegram.error import TelegramError

from bot.config import Settings

log = logging.getLogger(__name__)

OWNER_TEXT_IN_REPORTS = 200  # characters of an owner's message an error report may quote


def admin_chats(settings: Settings) -> list[int]:
    """The chats the bot reports to: the consultants' group, else each admin privately."""
    return [settings.admin_chat_id] if settings.admin_chat_id is not None else list(settings.admin_user_ids)


def in_admin_chat(settings: Settings, update: Update) -> bool:
    """Sent in the consultants' group, or in an admin's private chat."""
    chat = update.effective_chat
    return chat is not None and chat.id in admin_chats(settings)


def is_consultant(settings: Settings, update: Update) -> bool:
    """Who may answer owners, act on cards and use the desk's commands (/queue, /transcript, …):
    an admin or a CONSULTANT_USER_IDS user anywhere, or anyone in the consultants' group (being
    in the group is what makes them one)."""
    user = update.effective_user
    if user is not None and (user.id in settings.admin_user_ids or user.id in settings.consultant_user_ids):
        return True
    chat = update.effective_chat
    return settings.admin_chat_id is not None and chat is not None and chat.id == settings.admin_chat_id


async def reachable(bot, settings: Settings) -> bool:
    """Whether a consultant can be reached at all: an admin chat is set and Telegram knows it
    (getChat; an admin who never opened the bot is "chat not found", a group the bot was removed
    from refuses). Checked before an owner is asked to write a request that could not be sent."""
    for chat_id in admin_chats(settings):
        try:
            await bot.get_chat(chat_id)
            return True
        except TelegramError as exc:
            log.warning("admin chat %s is unreachable: %s", chat_id, exc)
    return False


async def post(bot, settings: Settings, text: str, **kwargs) -> list[Message]:
    """Send `text` to every admin chat; the messages that arrived."""
    sent = []
    for chat_id in admin_chats(settings):
        try:
            sent.append(await bot.send_message(chat_id, text, **kwargs))
        except TelegramError as exc:
            log.warning("could not post to admin chat %s: %s", chat_id, exc)
    return sent


@dataclass
class ErrorReports:
    """At most `per_hour` error reports an hour (python-telegram-bot's errorhandlerbot sends one
    per error; a crash loop must not flood the consultants' chat). Errors left unreported are
    counted and mentioned in the next report."""

    per_hour: int
    sent: deque[float] = field(default_factory=deque)
    suppressed: int = 0

    def allow(self, now: float | None = None) -> tuple[bool, int]:
        """(may a report go now, how many were held back before it)."""
        now = time.monotonic() if now is None else now
        while self.sent and self.sent[0] <= now - 3600:
            self.sent.popleft()
        if len(self.sent) >= self.per_hour:
            self.suppressed += 1
            return False, 0
        self.sent.append(now)
        held, self.suppressed = self.suppressed, 0
        return True, held


def error_report(reference: str, update: object, error: BaseException | None, token: str, held_back: int = 0) -> str:
    """The admin's line about an error: reference, kind of update, exception; never the token,
    and at most 200 characters of what the owner wrote. The exception's message is cut to 200
    characters too, since it may quote an owner (a question, a profile, SQL parameters); the
    token is taken out before the cut, which could otherwise leave a piece of it."""
    kind, who, said = "job", "", ""
    if isinstance(update, Update):
        kind = next((name for name in UPDATE_KINDS if getattr(update, name, None) is not None), "update")
        if update.effective_user is not None:
            who = f" from tg:{update.effective_user.id}"
        message = update.effective_message
        text = (message.text or message.caption or "") if message is not None else ""
        if update.callback_query is not None:
            text = f"button {update.callback_query.data}"
        if text:
            said = "\nText: " + _cut(text, OWNER_TEXT_IN_REPORTS)
    problem = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
    problem = problem.replace(token, "<TELEGRAM_BOT_TOKEN>") if token else problem
    lines = f"⚠️ Error {reference} in a {kind}{who}\n{_cut(problem, OWNER_TEXT_IN_REPORTS)}{said}"
    if held_back:
        lines += f"\n({held_back} more errors were logged but not reported: at most a few an hour)"
    return lines.replace(token, "<TELEGRAM_BOT_TOKEN>") if token else lines


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


UPDATE_KINDS = ("message", "edited_message", "callback_query", "channel_post", "inline_query", "my_chat_member")
