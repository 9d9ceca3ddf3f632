"""Owners asking for a person: /human, the "Talk to a consultant" button, and what they write
while a consultant has their request.

A request becomes a card in the admin chat (`bot.channels.telegram.cards`); the owner is told
when to expect a reply (HANDOVER_HOURS). Until a consultant resolves it or the time passes,
the owner's messages go to the card's thread instead of the advisor; then the bot answers
again and says so. The hand-over lives in the database (`bot.storage.handovers`), so any
worker, after any restart, routes the next message the same way. Consultants' side:
`consultants`.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters
from telegram.warnings import PTBUserWarning

from bot.advisor import Answer
from bot.channels.telegram import admin_chat
from bot.channels.telegram.cards import card_buttons, card_text, owner_label
from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.buttons import from_this_chat
from bot.channels.telegram.handlers.deps import (
    MESSAGES,
    BotContext,
    chat_key,
    is_private,
    language_of,
    names_of,
    texts_of,
    user_key,
)
from bot.channels.telegram.handlers.streaming import within_limits
from bot.storage import TurnFilter, TurnRecord
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

# A hand-over's card is posted seconds after the hand-over is opened (a minute at worst, behind
# Telegram's 20 messages a minute in a group): one open longer with no card lost its poster.
CARD_POSTED_WITHIN = dt.timedelta(minutes=2)
FORWARD_CHARACTERS = 3800  # of an owner's message per admin-chat message, leaving room for the header
FORWARD_PARTS = 2  # admin-chat messages an owner's message may take: any Telegram message (4,096) whole
WRITING = 0  # /human's one state: waiting for the owner to write their request
TIMEOUT = 15 * 60


async def human_command(update: Update, context: BotContext) -> int:
    """/human [request]: ask for a person; without a request, ask the owner to write it (when a
    consultant can be reached: else the owner is told at once, not after writing it)."""
    request = " ".join(context.args or []).strip()
    if not await _privately(update, context):
        return ConversationHandler.END
    if request:
        await hand_over(update, context, request)
        return ConversationHandler.END
    if not await admin_chat.reachable(context.bot, context.deps.settings):  # say so now, not after the request
        _ = texts_of(update, context)
        await update.effective_message.reply_text(
            _("Sorry, I couldn't reach a consultant just now. Please try /human again later.")
        )
        return ConversationHandler.END
    _ = texts_of(update, context)
    ask = _("What should a consultant help you with? Write it in one message (or /cancel).")
    await update.effective_message.reply_text(ask)
    return WRITING


async def request_written(update: Update, context: BotContext) -> int:
    await hand_over(update, context, update.effective_message.text.strip())
    return ConversationHandler.END


async def not_now(update: Update, context: BotContext) -> int:
    """/cancel while /human waits for the request: nothing is sent."""
    _ = texts_of(update, context)
    await update.effective_message.reply_text(_("OK, no request was sent. Ask me anything."))
    return ConversationHandler.END


async def consultant_pressed(update: Update, context: BotContext) -> None:
    """The "Talk to a consultant" button under an answer: that answer's question is the request."""
    query = update.callback_query
    turn_id = int(query.data.split(":")[1])
    if not await from_this_chat(update, context, turn_id):
        return
    await query.answer()
    if not await _privately(update, context):
        return
    turn = await context.deps.storage.get_turn(turn_id)
    if turn is not None:
        await hand_over(update, context, turn.question, turn)


async def hand_over(update: Update, context: BotContext, request: str, turn: TurnRecord | None = None) -> None:
    """Pass the owner's request to the consultants, or add it to the request they already have."""
    deps = context.deps
    _ = texts_of(update, context)
    chat_id = update.effective_chat.id
    active, _expired = await deps.storage.active_handover(user_key(update))
    if active is not None:
        await pass_on(update, context, active.id, request)
        return
    if not await within_limits(update, context):  # a new card for consultants counts as a question
        return
    turn = turn or await _last_answer(context, update)
    hours = deps.settings.handover_hours
    names = names_of(update)
    confirmation = _("I've passed this to a consultant. You'll get a reply here, usually within {hours} hours.").format(
        hours=f"{hours:g}"
    )
    confirmation += "\n" + _("Until then, what you write here goes to them. /cancel ends the request.")
    handover, opened = await deps.storage.request_handover(
        user_key(update),
        chat_id,
        request,
        hours,
        turn_id=turn.id if turn else None,
        language=language_of(update, context),
    )
    if not opened:  # another tap or worker opened it a moment ago: this joins it
        await pass_on(update, context, handover.id, request)
        return
    if not await _post_card(context, handover.id, update, request, turn):
        # no consultant can be reached: say so, and leave the owner with the bot
        await deps.storage.resolve_handover(handover.id, "nobody reachable")
        confirmation = _("Sorry, I couldn't reach a consultant just now. Please try /human again later.")
    asked = Answer(question=request, text=confirmation, covered=True, mode="handover")
    request_turn = await deps.dialogue.record(user_key(update), chat_key(update), asked, names)
    if turn is None and request_turn is not None:
        await deps.storage.attach_turn(handover.id, request_turn)  # what "Add to knowledge gaps" flags
    await context.bot.send_message(chat_id, confirmation)


async def pass_on(update: Update, context: BotContext, handover_id: int, text: str) -> None:
    """An owner's message during a hand-over: posted under each card, stored, acknowledged."""
    deps = context.deps
    cards = await deps.storage.handover_cards(handover_id) or await _card_again(context, handover_id, update)
    who = escape(update.effective_user.full_name or "The owner")
    shown = text[: FORWARD_CHARACTERS * FORWARD_PARTS]  # 2 million characters were once ~550 messages
    pieces = [shown[i : i + FORWARD_CHARACTERS] for i in range(0, len(shown), FORWARD_CHARACTERS)] or [""]
    more = f"\n… ({len(text) - len(shown):,} more characters: the whole message is in the transcript)"
    reached = False
    for chat, card in cards:
        try:
            for n, piece in enumerate(pieces, start=1):  # a Telegram message (4,096) whole, in parts
                note = more if n == len(pieces) and len(text) > len(shown) else ""
                sent = await context.bot.send_message(
                    chat,
                    f"💬 <b>{who}</b> (#{handover_id}):\n{escape(piece)}{note}",
                    parse_mode=ParseMode.HTML,
                    reply_to_message_id=card,
                    allow_sending_without_reply=True,
                )
                await deps.storage.add_handover_message(chat, sent.message_id, handover_id, piece)  # what it shows
            reached = True
        except Exception:
            log.warning("could not pass a message of hand-over %s to chat %s", handover_id, chat, exc_info=True)
    if not reached:  # never "passed on" when no consultant got it; the message is still stored
        _ = texts_of(update, context)
        sorry = _("Sorry, I couldn't reach a consultant just now. Please try /human again later.")
        await deps.dialogue.record(
            user_key(update), chat_key(update), Answer(text, sorry, True, "handover"), names_of(update)
        )
        await update.effective_message.reply_text(sorry)
        return
    _ = texts_of(update, context)
    note = _("Passed on to the consultant.")
    names = names_of(update)
    await deps.dialogue.record(user_key(update), chat_key(update), Answer(text, "", True, "handover"), names)
    await update.effective_message.reply_text(note)


async def handed_over(update: Update, context: BotContext, text: str) -> bool:
    """Route an owner's message during a hand-over to the consultant (True: it was). A
    hand-over that has just expired is announced, and the bot answers again. (The access gate
    read whether one is open: most owners have none, and their questions read nothing more.)"""
    if context.owner is not None and not context.owner.in_handover:
        return False
    active, expired = await context.deps.storage.active_handover(user_key(update))
    if active is not None:
        await pass_on(update, context, active.id, text)
        return True
    if expired is not None:
        _ = texts_of(update, context)
        back = _("Our consultants' time on your request has ended, so I'm answering again. /human asks for a person.")
        await update.effective_message.reply_text(back)
    return False


async def end_request(update: Update, context: BotContext) -> bool:
    """/cancel with nothing being prepared: end the owner's open request (True: there was one)."""
    deps = context.deps
    active, _expired = await deps.storage.active_handover(user_key(update))
    if active is None or not await deps.storage.resolve_handover(active.id, "the owner"):
        return False
    await admin_chat_note(context, active.id, "The owner ended this request.")
    _ = texts_of(update, context)
    await update.effective_message.reply_text(_("Your request to a consultant is closed. I'm answering again."))
    return True


async def admin_chat_note(context: BotContext, handover_id: int, note: str) -> None:
    """A line under each card of a hand-over."""
    for chat, card in await context.deps.storage.handover_cards(handover_id):
        try:
            await context.bot.send_message(
                chat,
                escape(note),
                parse_mode=ParseMode.HTML,
                reply_to_message_id=card,
                allow_sending_without_reply=True,
            )
        except Exception:
            log.warning("could not note %r on hand-over %s in chat %s", note, handover_id, chat, exc_info=True)


async def _post_card(
    context: BotContext, handover_id: int, update: Update, request: str, turn: TurnRecord | None
) -> list[int]:
    """Post the card to every admin chat and remember each, so replies find the owner."""
    deps = context.deps
    user, stored = update.effective_user, await deps.storage.get_user(user_key(update))
    username = user.username or (stored.username if stored else None)
    owner = owner_label(user_key(update), username, user.full_name or (stored.display_name if stored else None))
    _conversation, earlier, profile = await deps.storage.context(user_key(update), chat_key(update))
    if turn is not None:
        earlier = [e for e in earlier if e.question != turn.question]
    text = card_text(handover_id, owner, request, profile, turn, earlier[-3:], deps.settings.handover_hours)
    cards = await admin_chat.post(
        context.bot, deps.settings, text, parse_mode=ParseMode.HTML, reply_markup=card_buttons(handover_id)
    )
    for card in cards:
        await deps.storage.add_handover_message(card.chat_id, card.message_id, handover_id, request)
    return [card.message_id for card in cards]


async def _card_again(context: BotContext, handover_id: int, update: Update) -> list[tuple[int, int]]:
    """The cards of an open hand-over that has none: a process killed after it opened the
    hand-over and before it noted its card (a kill -9 of a webhook worker) left the owner with
    "I couldn't reach a consultant" for everything they wrote, /human included, until the
    request expired a day later. Once the card is overdue it is posted again, with the request
    as the owner made it; before that another process may be posting it now, and none is."""
    deps = context.deps
    handover = await deps.storage.get_handover(handover_id)
    if handover is None or utcnow() - handover.created_at < CARD_POSTED_WITHIN:
        return []
    log.warning("hand-over %s has no card after %s; posting it again", handover_id, utcnow() - handover.created_at)
    turn = await deps.storage.get_turn(handover.turn_id) if handover.turn_id else None
    await _post_card(context, handover_id, update, handover.request, turn)
    return await deps.storage.handover_cards(handover_id)


async def _privately(update: Update, context: BotContext) -> bool:
    """Hand-overs happen in private chats: a consultant's reply is for one owner, not a group."""
    if is_private(update):
        return True
    _ = texts_of(update, context)
    await update.effective_chat.send_message(_("To talk to a consultant, write to me in a private chat."))
    return False


async def _last_answer(context: BotContext, update: Update) -> TurnRecord | None:
    """The advisor's latest answer in this chat's conversation: what a /human request is about."""
    storage = context.deps.storage
    conversation, _earlier, _profile = await storage.context(user_key(update), chat_key(update), names=names_of(update))
    recent = await storage.list_turns(TurnFilter(conversation_id=conversation), limit=10)
    return next((t for t in recent if t.mode in ("offline", "llm") and not t.cancelled), None)


with warnings.catch_warnings():  # tracked per chat and user, like /profile
    warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
    REQUEST = ConversationHandler(
        entry_points=[CommandHandler("human", human_command, filters=MESSAGES)],
        states={WRITING: [MessageHandler(MESSAGES & filters.TEXT & ~filters.COMMAND, request_written)]},
        fallbacks=[CommandHandler("cancel", not_now)],
        conversation_timeout=TIMEOUT,
        allow_reentry=True,
        name="human",
    )

HANDLERS = [REQUEST, CallbackQueryHandler(consultant_pressed, pattern=r"^human:\d+$")]
