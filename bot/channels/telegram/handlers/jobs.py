"""Work the bot does on its own: the index check, the daily retention prune, telling owners whose
answer a killed bot never sent, and the one error handler every unexpected exception goes to."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.channels.telegram import admin_chat
from bot.channels.telegram.admin_chat import error_report
from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.deps import BotContext, texts_of
from bot.locales import DEFAULT, N_, texts
from bot.storage import AudioFolder

log = logging.getLogger(__name__)


async def check_index(context: BotContext) -> None:
    """Repeating job: switch to an index version that `python ingest.py` has published."""
    reloader = context.deps.reloader
    if reloader is not None:
        await asyncio.to_thread(reloader.check)


async def prune_old_turns(context: BotContext) -> None:
    """Daily job: delete turns older than RETENTION_DAYS."""
    deps = context.deps
    deleted = await deps.storage.prune(deps.settings.retention_days)
    log.info("retention: deleted %d turns older than %d days", deleted, deps.settings.retention_days)
    audio = await asyncio.to_thread(AudioFolder.under(deps.settings.data_dir).prune, deps.settings.retention_days)
    if audio:
        log.info("retention: deleted %d voice notes older than %d days", audio, deps.settings.retention_days)


# An answer not marked delivered this long after it was stored was never sent (a mark is written
# within a second of Telegram's reply; a send's retries take seconds): its bot was killed.
UNSENT_AFTER = dt.timedelta(minutes=1)
UNSENT_WITHIN = dt.timedelta(minutes=15)  # older: the owner has moved on; a late "ask again" confuses
RESTARTED = N_("I was restarted while answering “{question}”, so the answer never reached you. Please ask again.")
# A question a killed process took and never even stored an answer to. Longer than a live one is
# left unanswered: waiting for the chat's earlier questions (two minutes at most, ORDER_WAIT_LIMIT),
# then its own answer (LLM_TIMEOUT; a voice note's transcription first, STT_TIMEOUT).
UNANSWERED_AFTER = dt.timedelta(minutes=5)
LOST = N_("I was restarted while answering your last message, so the answer never reached you. Please send it again.")


async def tell_unsent(context: BotContext) -> None:
    """Repeating job: owners whose answer a killed bot stored but never sent are told to ask
    again (7 of 20 owners once got nothing after a kill -9, and nobody could tell); so are
    owners whose question a killed webhook worker had taken but not answered at all (with a
    shared database, where each question is noted until answered: 3 of 6 owners of a killed
    worker whose answers were still being written heard nothing)."""
    for _turn, chat, question, language in await context.deps.storage.claim_unsent(
        older_than=UNSENT_AFTER, newer_than=UNSENT_WITHIN
    ):
        _ = texts(language or DEFAULT)
        shown = question if len(question) <= 200 else question[:199] + "…"
        try:
            await context.bot.send_message(int(chat.removeprefix("tg-chat:")), _(RESTARTED).format(question=shown))
        except (TelegramError, ValueError) as exc:  # blocked, or the chat is gone: nothing more to do
            log.info("could not tell chat %s its answer was lost: %s", chat, exc)
    # questions taken by a worker killed before it stored the answer: no turn tells of them
    for chat_id, language in await context.deps.storage.claim_unanswered(
        older_than=UNANSWERED_AFTER.total_seconds(), newer_than=UNSENT_WITHIN.total_seconds()
    ):
        try:
            await context.bot.send_message(chat_id, texts(language or DEFAULT)(LOST))
        except TelegramError as exc:
            log.info("could not tell chat %s its question was lost: %s", chat_id, exc)


async def on_error(update: object, context: BotContext) -> None:
    """Log first (with the update id, never the token), then report it to the admin chat (a few
    an hour at most) and tell the owner, both with the same reference."""
    reference = secrets.token_hex(3).upper()
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s (reference %s)", update_id, reference, exc_info=context.error)
    await _report(update, context, reference)
    if isinstance(update, Update) and update.effective_chat is not None:
        _ = texts_of(update, context)
        sorry = _("Sorry, something went wrong on my side (reference {reference}). Please try again.")
        try:
            await context.bot.send_message(update.effective_chat.id, sorry.format(reference=reference))
        except TelegramError:
            log.warning("could not tell chat %s about error %s", update.effective_chat.id, reference)


async def _report(update: object, context: BotContext, reference: str) -> None:
    """The admin chat's short report of an error; a failure here is logged and goes no further."""
    deps = context.deps
    allowed, held_back = deps.reports.allow()
    if not allowed:
        return
    try:
        token = deps.settings.telegram_bot_token.get_secret_value() if deps.settings.telegram_bot_token else ""
        report = escape(error_report(reference, update, context.error, token, held_back))
        await admin_chat.post(context.bot, deps.settings, report, parse_mode=ParseMode.HTML)
    except Exception:
        log.warning("could not report error %s to the admin chat", reference, exc_info=True)
