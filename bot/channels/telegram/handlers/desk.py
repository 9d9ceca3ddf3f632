"""The consultants' desk: /queue (the open requests, oldest first, with Claim and Open), the
claim shown on each card, /myname (the name owners read above a consultant's replies), and the
owner's 👍/👎 on the help after a request is resolved.

A claim is decided in the database (`bot.storage.desk`): of two consultants tapping Claim at
once, the second is told who has it; answering an unclaimed request claims it. Consultants read
English; what the owner reads is in their language.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.channels.telegram.cards import card_buttons, one_line, owner_label
from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.deps import (
    MESSAGES,
    BotContext,
    acknowledge,
    consultant_only,
    pressed_request,
    texts_of,
)
from bot.channels.telegram.handlers.handover import admin_chat_note
from bot.locales import N_, Translate
from bot.storage.desk import OpenRequest
from bot.storage.models import Handover, utcnow

log = logging.getLogger(__name__)

LISTED = 15  # open requests /queue shows; the rest are counted
REQUEST_QUOTE = 80  # characters of a request's first line
OWNER_SHOWN = 90  # characters of an owner's label ("Name (@username, tg:id)")
QUEUE_ROOM = 3800  # characters of /queue's lines (HTML tags included): under Telegram's 4,096
NAME_LIMIT = 40
QUEUE_HEADING = "📋 Open requests"
MYNAME_USAGE = "/myname NAME sets the name owners read, e.g. /myname Anna; /myname - goes back to your first name."
DID_IT_HELP = N_("Did this help?")


async def shown_name(context: BotContext, user: User) -> str:
    """What owners and the team call a consultant: their /myname, else their Telegram first name."""
    try:
        chosen = await context.deps.storage.consultant_name(user.id)
    except Exception:  # the name is a courtesy: a reply still goes out under the first name
        log.warning("could not read the /myname of %s", user.id, exc_info=True)
        chosen = None
    return chosen or user.first_name or "A consultant"


def waiting(since: dt.datetime, now: dt.datetime) -> str:
    """ "2 h 5 min", "45 min", "3 d 4 h": how long a request has waited."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


@consultant_only
async def queue(update: Update, context: BotContext) -> None:
    """/queue: the open requests, oldest first, with who claimed each; Claim and Open under each."""
    text, markup = await queue_message(context, update.effective_user.id)
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def queue_message(context: BotContext, viewer: int) -> tuple[str, InlineKeyboardMarkup | None]:
    requests, total = await context.deps.storage.open_requests(LISTED)
    if not requests:
        return "No open requests.", None
    now = utcnow()
    lines = [f"<b>{QUEUE_HEADING}</b> ({total}, oldest first)"]
    rows = []
    for request in requests:
        line = _queue_line(request, now)
        if sum(len(shown) + 2 for shown in (*lines, line)) > QUEUE_ROOM:  # long names: the rest are counted
            break
        lines.append(line)
        mine = request.claimed_by == viewer
        claim = f"↩️ Unclaim #{request.id}" if mine else f"🙋 Claim #{request.id}"
        rows.append(
            [
                InlineKeyboardButton(claim, callback_data=f"q:claim:{request.id}"),
                InlineKeyboardButton(f"📂 Open #{request.id}", callback_data=f"q:open:{request.id}"),
            ]
        )
    if total > len(rows):
        lines.append(f"…and {total - len(rows)} more.")
    return "\n\n".join(lines), InlineKeyboardMarkup(rows)


def _queue_line(request: OpenRequest, now: dt.datetime) -> str:
    owner = one_line(owner_label(request.user_id, request.username, request.owner_name), OWNER_SHOWN)
    first_line = one_line((request.request.strip().splitlines() or [""])[0], REQUEST_QUOTE)
    who = f"claimed by <b>{escape(request.claimed_by_name or '?')}</b>" if request.claimed_by else "<i>unclaimed</i>"
    return (
        f"<b>#{request.id}</b> {escape(owner)}\n“{escape(first_line)}”\n"
        f"⏳ waiting {waiting(request.created_at, now)} · {who}"
    )


async def desk_button(update: Update, context: BotContext) -> None:
    """Claim (or give back) and Open, under /queue and on a claimed card."""
    pressed = await pressed_request(update, context, "Only consultants and admins may use the desk.")
    if pressed is None:
        return
    action, handover = pressed
    if action == "open":
        await _open(update, context, handover)
    else:
        await _claim(update, context, handover)


async def _claim(update: Update, context: BotContext, handover: Handover) -> None:
    """Claim an unclaimed request, give back one's own, or learn who has it."""
    query, storage, user = update.callback_query, context.deps.storage, update.effective_user
    if handover.status != "open":
        await query.answer(f"Request #{handover.id} is closed ({handover.status}).")
        return
    if handover.claimed_by == user.id:
        await storage.unclaim_handover(handover.id, user.id)
        await query.answer(f"You gave request #{handover.id} back.")
        claimed = None
    else:
        now = await storage.claim_handover(handover.id, user.id, await shown_name(context, user))
        if now is None or now.claimed_by != user.id:
            holder = now.claimed_by_name if now is not None and now.claimed_by else None
            await query.answer(f"Request #{handover.id} is already claimed by {holder or 'someone else'}.")
            return
        await query.answer(f"Request #{handover.id} is yours now.")
        claimed = now.claimed_by_name
    await _show_claim_on_cards(context, handover.id, claimed)
    message = query.message
    shown = re.sub(r"<[^>]+>", "", message.text or "") if message is not None else ""  # HTML in tests' stand-in
    if shown.startswith(QUEUE_HEADING):  # a tap under /queue: the queue, as it is now
        text, markup = await queue_message(context, user.id)
        try:
            await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        except TelegramError as exc:
            log.info("could not refresh the queue in chat %s: %s", message.chat_id, exc)


async def claim_on_reply(context: BotContext, handover_id: int, user: User) -> None:
    """A consultant answered an unclaimed request: it is theirs, and its cards say so. Only a
    courtesy: the reply has reached the owner whatever happens here."""
    try:
        now = await context.deps.storage.claim_handover(handover_id, user.id, await shown_name(context, user))
        if now is not None and now.claimed_by == user.id:
            await _show_claim_on_cards(context, handover_id, now.claimed_by_name)
    except Exception:
        log.warning("could not claim request %s for its answerer %s", handover_id, user.id, exc_info=True)


async def _show_claim_on_cards(context: BotContext, handover_id: int, claimed_by: str | None) -> None:
    """Every card of the request shows who has it (or nobody again)."""
    for chat, card in await context.deps.storage.handover_cards(handover_id):
        try:
            await context.bot.edit_message_reply_markup(chat, card, reply_markup=card_buttons(handover_id, claimed_by))
        except TelegramError as exc:
            log.info("could not show the claim of request %s on card %s/%s: %s", handover_id, chat, card, exc)


async def _open(update: Update, context: BotContext, handover: Handover) -> None:
    """The request here, as a message to reply to (under its card when the card is in this chat)."""
    await acknowledge(update)
    deps, chat = context.deps, update.effective_chat.id
    owner = await deps.storage.get_user(handover.user_id)
    label = owner_label(handover.user_id, owner.username if owner else None, owner.display_name if owner else None)
    claimed = f"claimed by {handover.claimed_by_name}" if handover.claimed_by else "unclaimed"
    text = (
        f"🙋 <b>Request #{handover.id}</b> from <b>{escape(label)}</b>\n\n"
        f"<b>Request:</b> {escape(one_line(handover.request, 1000))}\n"
        f"⏳ waiting {waiting(handover.created_at, utcnow())} · {escape(claimed)} · {handover.status}\n\n"
        "<i>Reply to this message to answer the owner.</i>"
    )
    card = dict(await deps.storage.handover_cards(handover.id)).get(chat)
    sent = await context.bot.send_message(
        chat,
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=card_buttons(handover.id, handover.claimed_by_name if handover.claimed_by else None),
        reply_to_message_id=card,
        allow_sending_without_reply=True,
    )
    await deps.storage.add_handover_message(sent.chat_id, sent.message_id, handover.id, None)


@consultant_only
async def myname(update: Update, context: BotContext) -> None:
    """/myname [NAME]: the name owners read above your replies ("From Anna (consultant):")."""
    storage, user, message = context.deps.storage, update.effective_user, update.effective_message
    given = " ".join(context.args or []).strip()
    if not given:
        chosen = await storage.consultant_name(user.id)
        where = "the name you set" if chosen else "your Telegram first name"
        await message.reply_text(
            f"Owners read your replies as from “{chosen or user.first_name}” ({where}).\n{MYNAME_USAGE}"
        )
        return
    if given == "-":
        await storage.set_consultant_name(user.id, None)
        await message.reply_text(f"Owners will read your Telegram first name, “{user.first_name}”.")
        return
    if len(given) > NAME_LIMIT or not any(ch.isalnum() for ch in given):
        why = f"at most {NAME_LIMIT} characters" if len(given) > NAME_LIMIT else "at least one letter"
        await message.reply_text(f"A name needs {why}. {MYNAME_USAGE}")
        return
    await storage.set_consultant_name(user.id, given)
    await message.reply_text(f"Owners will read “From {given} (consultant):” above your replies.")


def rating_buttons(handover_id: int) -> InlineKeyboardMarkup:
    """👍 / 👎 under "Did this help?" after a request is resolved (`hr:up:<id>`, `hr:down:<id>`)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("👍", callback_data=f"hr:up:{handover_id}"),
                InlineKeyboardButton("👎", callback_data=f"hr:down:{handover_id}"),
            ]
        ]
    )


def did_it_help(_: Translate) -> str:
    return _(DID_IT_HELP)


async def rated(update: Update, context: BotContext) -> None:
    """The owner's 👍/👎 on the help: stored on the request, thanked, and noted under its cards."""
    query = update.callback_query
    _kind, rating, number = query.data.split(":")
    _ = texts_of(update, context)
    stored = await context.deps.storage.rate_handover(int(number), f"tg:{update.effective_user.id}", rating)
    if not stored:  # not this owner's, or the request is gone (/forget)
        await query.answer(_("Not permitted."))
        return
    await query.answer(_("Thanks for the feedback!") if rating == "up" else _("Thanks — sorry it didn't help."))
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except TelegramError as exc:
        log.info("could not take the rating buttons away in chat %s: %s", update.effective_chat.id, exc)
    await admin_chat_note(context, int(number), f"The owner rated the help {'👍' if rating == 'up' else '👎'}.")


HANDLERS = [
    CommandHandler("queue", queue, filters=MESSAGES),
    CommandHandler("myname", myname, filters=MESSAGES),
    CallbackQueryHandler(desk_button, pattern=r"^q:(claim|open):\d+$"),
    CallbackQueryHandler(rated, pattern=r"^hr:(up|down):\d+$"),
]
