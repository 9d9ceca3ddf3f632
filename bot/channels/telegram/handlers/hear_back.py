"""Owners hear back. "🔔 Tell me when you know" under a not-covered answer notes the owner's wish
(`wish:<turn>:<language>`, once; a second tap says it is noted already; only the asker's own, in
a private chat: the data can be forged, and a group's answer would reach the whole group). When an entry is
published that now answers the question, `tell_waiting_owners` sends the owner one message in
the language they asked in: "You asked: …", the answer as the bot gives it now, its sources and
the usual buttons, stored in their transcript as a turn marked `follow-up`.

At most one such message per owner a day (TOLD_EVERY): a second wish answered meanwhile keeps
the file found to answer it (`found_in`) and is told by the hourly `tell_held` job once the day
is over (or at a publish after that). A send Telegram forbids (the owner blocked the bot)
drops the wish; any other send that fails (after the retries every message gets,
`bot.channels.telegram.updates`) leaves the wish open; so does an answer that cannot be made.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden
from telegram.ext import CallbackQueryHandler

from bot.advisor import Answer
from bot.channels.dialogue import Reply
from bot.channels.telegram.handlers.buttons import from_this_chat
from bot.channels.telegram.handlers.deps import BotContext, BotDeps, acknowledge, language_of, user_key
from bot.channels.telegram.handlers.streaming import send_answer
from bot.channels.telegram.handlers.voice import you_asked
from bot.locales import N_, supported, texts
from bot.storage.models import Wish, utcnow

log = logging.getLogger(__name__)

TOLD_EVERY = dt.timedelta(days=1)  # an owner hears back at most once in this time
FOLLOW_UP = "follow-up"  # the turn's input kind: not asked just now, but an answer the owner waited for

NOTED = N_("🔔 Noted. I'll tell you here once I know the answer to “{question}”.")
ALREADY_NOTED = N_("Already noted: I'll tell you when I know.")
NOW_I_KNOW = N_("🔔 You asked me to tell you when I know. Now I do.")


async def wish(update: Update, context: BotContext) -> None:
    """A tap on "Tell me when you know": the owner's question is noted once, and they are told so
    in the language of the answer the button was under."""
    query = update.callback_query
    _kind, turn_id, *language = query.data.split(":")
    if not await from_this_chat(update, context, int(turn_id)):
        return
    code = (supported(language[0]) if language else None) or language_of(update, context)
    _ = texts(code)
    storage = context.deps.storage
    turn = await storage.get_turn(int(turn_id))
    if turn is None:  # gone between the check and now (/forget in another chat)
        await acknowledge(update)
        return
    if update.effective_chat.type != ChatType.PRIVATE or turn.user_id != user_key(update):
        await query.answer(_("Not permitted."))  # forged: groups have no such button, nor others' questions
        return
    added = await storage.add_wish(
        user_id=user_key(update),
        chat_id=update.effective_chat.id,
        question=turn.question,
        turn_id=turn.id,
        searched=turn.standalone_question,
        language=code,
    )
    if not added:
        await query.answer(_(ALREADY_NOTED))
        return
    await acknowledge(update)
    shown = turn.question if len(turn.question) <= 200 else turn.question[:199].rstrip() + "…"
    await context.bot.send_message(update.effective_chat.id, _(NOTED).format(question=shown))


async def tell_waiting_owners(application_or_context, source_path: str | None) -> int:
    """After a publish: tell each owner whose open wish the entry at `source_path` (relative to
    the knowledge dir, or a path inside it) now answers, one message at most, and none to an
    owner told in the last day (their wish waits, `tell_held`). `None`: only wishes already
    found answered while their owner waited. How many owners were told.

    Each open wish is asked again without the chat model first (cheap: which file leads the
    answer now); only when that lead is the new file is the answer written as the owner would
    get it (with the model, when one is configured), stored and sent."""
    deps: BotDeps = application_or_context.bot_data["deps"]
    if deps.reloader is not None and source_path is not None:  # the version just published, not the next check's
        await asyncio.to_thread(deps.reloader.check)
    wanted = relative_path(source_path, deps.settings.knowledge_dir) if source_path else None
    told: set[str] = set()
    for waiting in await deps.storage.open_wishes():
        files = {path for path in (wanted, waiting.found_in) if path}
        if not files or waiting.user_id in told:
            continue
        try:
            checked = await deps.dialogue.answer_now(waiting.user_id, asked(waiting), waiting.language, offline=True)
        except Exception:
            log.exception("could not check wish %s against the knowledge; it stays open", waiting.id)
            continue
        lead = lead_path(checked)
        if lead not in files:
            log.debug("wish %s: the answer now leads with %s, not %s", waiting.id, lead, files)
            continue
        last = await deps.storage.last_told(waiting.user_id)
        if last is not None and utcnow() - last < TOLD_EVERY:  # once a day: this one waits
            if waiting.found_in != lead:
                await deps.storage.wish_found_in(waiting.id, lead)
            continue
        if await tell(application_or_context.bot, deps, waiting, files):
            told.add(waiting.user_id)
    return len(told)


async def tell_held(context: BotContext) -> None:
    """Repeating job: wishes found answered while their owner had heard back that day."""
    told = await tell_waiting_owners(context, None)
    if told:
        log.info("told %d owners the answer they waited a day for", told)


async def tell(bot, deps: BotDeps, waiting: Wish, files: set[str]) -> bool:
    """Send the owner the answer to their wish (claimed first, so of several processes one
        sends it); True when it arrived. Anything failing reopens the wish. An owner who may no
        longer use the bot (blocked meanwhile) is not told; the wish stays. An owner who blocked the
    bot (Telegram's 403) loses the wish: it is not answered again at every publish."""
    try:
        if not await deps.access.may_use(int(waiting.user_id.removeprefix("tg:"))):
            return False
    except Exception:
        log.exception("could not check whether %s may use the bot; wish %s stays open", waiting.user_id, waiting.id)
        return False
    if not await deps.storage.claim_wish(waiting.id):
        return False
    turn_id = None
    try:
        answer = await deps.dialogue.answer_now(waiting.user_id, asked(waiting), waiting.language)
        if not answer.covered or lead_path(answer) not in files:  # the model's answer leads elsewhere
            log.info("wish %s: the answer written now does not lead with %s; it stays open", waiting.id, files)
            await deps.storage.reopen_wish(waiting.id)
            return False
        language = answer.language or waiting.language or ""
        _ = texts(language)
        answer.question, answer.input_kind = waiting.question, FOLLOW_UP
        answer.notes[:0] = [_(NOW_I_KNOW), you_asked(waiting.question, _)]
        turn_id = await deps.dialogue.record(waiting.user_id, f"tg-chat:{waiting.chat_id}", answer)
        await send_answer(bot, waiting.chat_id, Reply(answer, turn_id), None, language)
    except Forbidden as exc:  # blocked by the owner, or out of their group: never tried again
        log.info("wish %s: %s cannot be told (%s); the wish is dropped", waiting.id, waiting.user_id, exc)
        await deps.storage.drop_wish(waiting.id)
        await deps.dialogue.delivered(turn_id, False)
        return False
    except Exception:
        log.exception("could not tell %s the answer to wish %s; it stays open", waiting.user_id, waiting.id)
        await deps.storage.reopen_wish(waiting.id)
        await deps.dialogue.delivered(turn_id, False)
        return False
    await deps.dialogue.delivered(turn_id, True)
    await deps.storage.wish_told_in(waiting.id, turn_id)
    return True


def asked(waiting: Wish) -> str:
    """The question as it was searched (a follow-up's rewrite stands alone), else as asked."""
    return waiting.searched or waiting.question


def lead_path(answer: Answer) -> str | None:
    """The knowledge file the answer opens with (None: not covered, or led by the owner's own document)."""
    lead = answer.lead if answer.covered else None
    return lead.path if lead is not None and lead.kind == "knowledge" else None


def relative_path(path: str, knowledge_dir: Path) -> str:
    """`path` as the index names files: relative to the knowledge dir, with forward slashes."""
    given = Path(path)
    if given.is_absolute():
        for root in (knowledge_dir, knowledge_dir.resolve()):
            if given.is_relative_to(root):
                return given.relative_to(root).as_posix()
            if given.resolve().is_relative_to(root):
                return given.resolve().relative_to(root).as_posix()
    return given.as_posix().removeprefix("./")


HANDLERS = [CallbackQueryHandler(wish, pattern=r"^wish:\d+(?::[a-z]{2})?$")]
