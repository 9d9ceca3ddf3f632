"""What every handler needs: the bot's parts (`BotDeps`, as `context.deps`), who is asking,
and the gates that run before a handler: access for everyone, the desk's commands for
consultants (`consultant_only`), the rest of the admin commands for admins (`admin_only`).

The parts are built once in `bot.channels.telegram.app` and kept in `bot_data`;
`BotContext` gives handlers typed access to them (python-telegram-bot's custom context).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, CallbackContext, ExtBot, filters

from bot.advisor import Advisor
from bot.advisor.speech import SpeechToText
from bot.channels.dialogue import Dialogue
from bot.channels.telegram.access import Access, AccessUnknown, RateLimiter
from bot.channels.telegram.admin_chat import ErrorReports, is_consultant
from bot.channels.telegram.chats import ChatActivity
from bot.config import Settings
from bot.index.reloader import IndexReloader
from bot.locales import DEFAULT, N_, Translate, supported, texts
from bot.storage import OwnerState, Storage

log = logging.getLogger(__name__)

MESSAGES = filters.UpdateType.MESSAGE  # edited messages are ignored, never answered twice


@dataclass
class BotDeps:
    settings: Settings
    advisor: Advisor
    storage: Storage
    dialogue: Dialogue
    access: Access
    limiter: RateLimiter
    activity: ChatActivity = field(default_factory=lambda: ChatActivity(window=1.5))
    reports: ErrorReports = field(default_factory=lambda: ErrorReports(per_hour=10))
    reloader: IndexReloader | None = None  # None with CHROMA_URL: the server is always current
    speech: SpeechToText | None = None  # None without STT_MODEL: voice notes are not transcribed


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    """The context every handler and job gets, with the bot's parts as `context.deps`."""

    @property
    def deps(self) -> BotDeps:
        return self.bot_data["deps"]

    @property
    def owner(self) -> OwnerState | None:
        """What the access gate read about the update's sender (None in jobs, or before the
        gate): handlers use it instead of reading the database again."""
        return self.__dict__.get("_owner")

    @owner.setter
    def owner(self, state: OwnerState) -> None:
        self.__dict__["_owner"] = state


def user_key(update: Update) -> str:
    return f"tg:{update.effective_user.id}"


def names_of(update: Update) -> tuple[str | None, str | None]:
    """The owner's @username and display name, stored so admins can find and recognise them."""
    user = update.effective_user
    return (user.username, user.full_name) if user is not None else (None, None)


def chat_key(update: Update) -> str:
    return f"tg-chat:{update.effective_chat.id}"


def is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


def addressed_to_bot(update: Update, bot_username: str, bot_id: int) -> bool:
    """In a group the bot speaks only when mentioned, replied to, or given a command."""
    message = update.effective_message
    if message is None:
        return False
    if is_private(update):
        return True
    text = message.text or message.caption or ""
    if text.startswith("/"):
        return True
    if bot_username and f"@{bot_username.lower()}" in text.lower():
        return True
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


async def access_gate(update: Update, context: BotContext) -> None:
    """Runs before every other handler: refuses users without access, politely and once.

    The decision is made before anything is sent, and the update stops here whatever
    happens while refusing (a send that fails after its retries included): a refusal that
    cannot be delivered never lets the question through. Anyone may erase their own data
    (/forget and its confirmation), blocked owners too."""
    user = update.effective_user
    if user is None:
        return
    try:
        allowed, context.owner = await context.deps.access.check(user.id)
    except AccessUnknown as unknown:  # reported like any error (the admins' inbox, the user's "ref …"), and stopped
        await context.application.process_error(update, unknown.__cause__ or unknown)
        raise
    context.user_data["language"] = context.owner.language  # /language, read with the access status
    if allowed or erasing_own_data(update) or is_consultant(context.deps.settings, update):
        return  # (everyone in the consultants' group may act on hand-over cards)
    _ = texts_of(update, context)
    try:
        if update.callback_query:
            await update.callback_query.answer(_("Not permitted."))
        elif update.effective_message and addressed_to_bot(update, context.bot.username, context.bot.id):
            await update.effective_message.reply_text(
                _(
                    "Sorry, this advisor is private. Your Telegram user id is {user_id}: send it to the "
                    "person who runs this bot to ask for access."
                ).format(user_id=user.id)
            )
    except Exception:
        log.warning("could not tell user %s that they have no access", user.id, exc_info=True)
    raise ApplicationHandlerStop


def language_of(update: Update, context: BotContext) -> str:
    """The owner's language: their /language choice, else their Telegram app's, else English."""
    chosen = context.user_data.get("language") if context.user_data is not None else None
    app = update.effective_user.language_code if update.effective_user else None
    return supported(chosen) or supported(app) or DEFAULT


def texts_of(update: Update, context: BotContext) -> Translate:
    """`_` in the owner's language."""
    return texts(language_of(update, context))


def erasing_own_data(update: Update) -> bool:
    """/forget, or a tap on its confirmation buttons."""
    if update.callback_query is not None:
        return update.callback_query.data in ("forget:yes", "forget:no")
    text = update.message.text if update.message is not None and update.message.text else ""
    command = text.split(maxsplit=1)[0] if text.strip() else ""
    return command.split("@", 1)[0] == "/forget"


def admin_only(handler):
    """Admin commands (access control, export, settings) answer 'Not permitted.' to owners, and
    reveal nothing more; a consultant is told that only admins may use them."""

    async def wrapped(update: Update, context: BotContext) -> None:
        if not context.deps.access.is_admin(update.effective_user.id):
            consultant = is_consultant(context.deps.settings, update)
            await _refuse(update, context, ONLY_ADMINS if consultant else None)
            return
        await handler(update, context)

    return _like(wrapped, handler)


def consultant_only(handler):
    """The desk's commands (/queue, /transcript, /gaps, /stats, /digest, /myname): consultants
    (CONSULTANT_USER_IDS, anyone in ADMIN_CHAT_ID) and admins; everyone else is told who may. Only
    in a private chat or the consultants' group: in an owners' group every member would read
    other owners' questions, names and requests."""

    async def wrapped(update: Update, context: BotContext) -> None:
        if not is_consultant(context.deps.settings, update):
            await _refuse(update, context, ONLY_CONSULTANTS)
            return
        if not _team_chat(context.deps.settings, update):
            await _refuse(update, context, ONLY_HERE)
            return
        await handler(update, context)

    return _like(wrapped, handler)


ONLY_ADMINS = "Only admins (ADMIN_USER_IDS) may use this command."  # consultants read English
ONLY_HERE = (
    "The team's commands work in a private chat with me or in the consultants' group, not where owners read them."
)
ONLY_CONSULTANTS = N_("Only the advisor's consultants and admins may use this command.")


def _team_chat(settings, update: Update) -> bool:
    chat = update.effective_chat
    return chat is None or chat.type == ChatType.PRIVATE or chat.id == settings.admin_chat_id


async def _refuse(update: Update, context: BotContext, why: str | None) -> None:
    """One line, in the sender's language; the refusal is a courtesy, and the command never runs."""
    with contextlib.suppress(Exception):
        _ = texts_of(update, context)
        text = _("Not permitted.") if why is None else why if why in (ONLY_ADMINS, ONLY_HERE) else _(why)
        await update.effective_message.reply_text(text)


def _like(wrapped, handler):
    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


async def acknowledge(update: Update) -> None:
    """Stop a tapped button's spinner. A button that asks a question may have waited its turn
    behind a slow answer, and Telegram refuses to acknowledge a tap that old: the question is
    asked anyway."""
    try:
        await update.callback_query.answer()
    except TelegramError as exc:
        log.info("could not acknowledge a tap in chat %s: %s", update.effective_chat.id, exc)


async def downloaded(media, seconds: float, what: str) -> bytes | None:
    """A voice note's or photo's bytes from Telegram (getFile, then the file) within `seconds`,
    or None when they cannot be had (logged): the caller gives the owner today's reply."""
    try:
        async with asyncio.timeout(seconds):
            file = await media.get_file(read_timeout=seconds)
            return bytes(await file.download_as_bytearray(read_timeout=seconds))
    except (TelegramError, TimeoutError) as exc:
        log.warning("could not download %s (%s): %s", what, media.file_unique_id, exc)
        return None


async def pressed_request(update: Update, context: BotContext, refusal: str):
    """The (action, hand-over) a consultant's button under a card or /queue names
    (`kind:action:number`), or None when the presser is no consultant or the request is gone;
    either way the tap is answered here."""
    query = update.callback_query
    if not is_consultant(context.deps.settings, update):
        await query.answer(refusal)
        return None
    _kind, action, number = query.data.split(":")
    handover = await context.deps.storage.get_handover(int(number))
    if handover is None:
        await query.answer("This request is gone (the owner deleted their data).")
        return None
    return action, handover
