"""Consultants answering owners from the admin chat: replies to a card (or to an owner's message
under it) go to the owner as "From Anna (consultant): …" (their first name, or the name they set
with /myname); the card's buttons reply, resolve (then the owner may rate the help), and add the
question to the knowledge gaps. The "✓ Sent" under a reply, and a resolved card, offer
"📚 Save as knowledge" (`teach`).

A consultant is an admin, a CONSULTANT_USER_IDS user, or anyone in the consultants' group
(ADMIN_CHAT_ID). A reply to any
other message of the bot is not a consultant's answer and is handled like any message.
"""

from __future__ import annotations

import logging
import re

from telegram import ForceReply, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, MessageHandler, filters

from bot.advisor import Answer
from bot.channels.telegram import admin_chat
from bot.channels.telegram.cards import resolved_buttons
from bot.channels.telegram.formatting import escape, split_markdown
from bot.channels.telegram.handlers import documents, photos, teach, voice
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, pressed_request
from bot.channels.telegram.handlers.desk import claim_on_reply, did_it_help, rating_buttons, shown_name
from bot.channels.telegram.handlers.handover import admin_chat_note
from bot.channels.telegram.handlers.owner import not_text, text_message
from bot.locales import N_, texts
from bot.storage.models import Handover

log = logging.getLogger(__name__)

FROM_A_CONSULTANT = N_("From {name} (consultant):")


async def consultant_name(update: Update, context: BotContext) -> str:
    """Who sent a reply or closed a request, as the transcript records it: "Anna (tg:77)"."""
    user = update.effective_user
    return f"{await shown_name(context, user)} (tg:{user.id})"


async def from_header(update: Update, context: BotContext, _) -> str:
    """The line above a consultant's reply, in the owner's language, with the consultant's name."""
    return f"<b>{escape(_(FROM_A_CONSULTANT).format(name=await shown_name(context, update.effective_user)))}</b>"


async def consultant_reply(update: Update, context: BotContext) -> None:
    """A consultant's reply under a card: delivered to the owner, stored as a `human` turn (the
    conversation's memory includes it), and the thread kept open HANDOVER_HOURS more."""
    card = await _card_replied_to(update, context)
    if card is None:
        await text_message(update, context)  # an ordinary reply to the bot
        return
    handover, question = card
    message = update.effective_message
    _ = texts(handover.language)
    pieces = split_markdown(message.text)  # with its header, a 4,000-character reply was too long to send
    header = await from_header(update, context, _)
    try:
        for n, piece in enumerate(pieces):
            text = f"{header}\n{escape(piece)}" if n == 0 else escape(piece)
            await context.bot.send_message(handover.chat_id, text, parse_mode=ParseMode.HTML)
    except TelegramError as exc:
        await message.reply_html(
            f"Could not deliver this to the owner: {escape(str(exc))}. Nothing was stored; try again."
        )
        return
    await _recorded(update, context, handover, question, message.text)


async def consultant_media_reply(update: Update, context: BotContext) -> None:
    """A consultant's photo, document, voice note or other media under a card: copied to the owner
    after a "From a consultant:" line (it used to vanish, and a photo's caption was answered by
    the bot in the consultants' group). Any other such reply is an owner's, handled as theirs."""
    card = await _card_replied_to(update, context)
    if card is None:
        await _as_owners(update, context)
        return
    handover, question = card
    message = update.effective_message
    _ = texts(handover.language)
    try:
        header = await from_header(update, context, _)
        await context.bot.send_message(handover.chat_id, header, parse_mode=ParseMode.HTML)
        await context.bot.copy_message(handover.chat_id, message.chat_id, message.message_id)
    except TelegramError as exc:
        await message.reply_html(
            f"Could not deliver this to the owner: {escape(str(exc))}. Nothing was stored; try again."
        )
        return
    kind = next((k for k in MEDIA if getattr(message, k, None)), "message")
    await _recorded(update, context, handover, question, f"[{kind}] {message.caption or ''}".strip())


# What the bot posts about a request: its card, an owner's message under it, the Reply prompt.
CARD_HEADING = re.compile(r"🙋 Request #(\d+) from .*\btg:(\d+)\)")  # a card's first line (cards.card_text)
ABOUT_A_REQUEST = re.compile(r"🙋 Request #\d+ from |💬 .*\(#\d+\):|Your answer to request #\d+")
GONE_REQUEST = (
    "That request is no longer stored: the owner deleted their data (/forget), or it passed the "
    "retention period. Nothing was sent."
)
MEDIA = ("photo", "document", "voice", "audio", "video", "video_note", "animation", "sticker", "location", "contact")


async def _card_replied_to(update: Update, context: BotContext) -> tuple[Handover, str | None] | None:
    """The open hand-over a consultant's reply answers (its card, or an owner's message under it);
    None when it is not a consultant's reply to one. A resolved one is said so, and is None too."""
    deps, message = context.deps, update.effective_message
    replied = message.reply_to_message
    found = await deps.storage.handover_of_message(message.chat_id, replied.message_id) if replied else None
    if not admin_chat.is_consultant(deps.settings, update):
        return None
    if found is None and replied is not None:
        found = await _card_never_noted(context, message.chat_id, replied)
    if found is None:
        if _about_a_request(replied, context.bot.id):  # its rows went with the owner's /forget
            await message.reply_html(GONE_REQUEST)
            raise ApplicationHandlerStop
        return None
    handover, question = found
    if handover.status == "resolved":
        await message.reply_html(
            f"Request #{handover.id} is resolved ({escape(handover.resolved_by or '')}); nothing was sent."
        )
        raise ApplicationHandlerStop
    return handover, question


async def _card_never_noted(context: BotContext, chat_id: int, replied: Message) -> tuple[Handover, str | None] | None:
    """The hand-over of a card whose process was killed after posting it and before noting it
    (a kill -9 of a webhook worker): a reply to it was refused as "no longer stored" though the
    request was there. The card is noted now if its request is stored and is the owner's the
    card names (its number alone could be another's, after a /forget)."""
    mine = replied.from_user is not None and replied.from_user.id == context.bot.id
    shown = re.sub(r"<[^>]+>", "", replied.text or "") if mine else ""  # as HTML in tests' stand-in
    card = CARD_HEADING.fullmatch(shown.split("\n", 1)[0])
    handover = await context.deps.storage.get_handover(int(card[1])) if card else None
    if handover is None or handover.user_id != f"tg:{card[2]}":
        return None
    log.warning("a reply to card %s of hand-over %s, which was never noted; noting it", replied.message_id, handover.id)
    await context.deps.storage.add_handover_message(chat_id, replied.message_id, handover.id, handover.request)
    return handover, handover.request


def _about_a_request(replied: Message | None, bot_id: int) -> bool:
    """Is `replied` the bot's card of a request, an owner's message under one, or the Reply prompt?"""
    mine = replied is not None and replied.from_user is not None and replied.from_user.id == bot_id
    shown = re.sub(r"<[^>]+>", "", replied.text or replied.caption or "") if mine else ""  # as HTML in tests' stand-in
    return ABOUT_A_REQUEST.match(shown) is not None


async def _recorded(update: Update, context: BotContext, handover: Handover, question: str | None, said: str) -> None:
    """A reply the owner got: stored as a `human` turn, the thread kept open, the consultant told."""
    deps = context.deps
    reply = Answer(
        question=question or handover.request,
        text=said,
        covered=True,
        mode="human",
        answered_by=await consultant_name(update, context),
    )
    turn = await deps.dialogue.record(handover.user_id, f"tg-chat:{handover.chat_id}", reply)
    await deps.dialogue.delivered(turn, True)
    await deps.storage.extend_handover(handover.id, deps.settings.handover_hours)
    await update.effective_message.reply_html(
        f"✓ Sent to the owner (request #{handover.id}).", reply_markup=teach.save_button(handover.id)
    )
    if handover.claimed_by is None:  # whoever answers an unclaimed request has it (/queue says so)
        await claim_on_reply(context, handover.id, update.effective_user)


async def _as_owners(update: Update, context: BotContext) -> None:
    """A non-text reply that is not a consultant's answer: what an owner's message of its kind gets."""
    message = update.effective_message
    if message.voice or message.audio:
        await voice.voice_message(update, context)
    elif message.photo:
        await photos.photo_message(update, context)
    elif message.document:
        await documents.document_received(update, context)
    else:
        await not_text(update, context)


async def card_button(update: Update, context: BotContext) -> None:
    """Reply / Resolve / Add to knowledge gaps, pressed on a card."""
    pressed = await pressed_request(update, context, "Not permitted.")
    if pressed is None:
        return
    action, handover = pressed
    await {"reply": _prompt_reply, "resolve": _resolve, "gap": _flag_gap}[action](update, context, handover)


async def _prompt_reply(update: Update, context: BotContext, handover: Handover) -> None:
    """A message to reply to, for consultants whose app makes replying to the card awkward."""
    await update.callback_query.answer()
    prompt = await context.bot.send_message(
        update.effective_chat.id,
        f"Your answer to request #{handover.id}, as a reply to this message:",
        parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(selective=True, input_field_placeholder="Your answer to the owner"),
    )
    await context.deps.storage.add_handover_message(prompt.chat_id, prompt.message_id, handover.id, None)


async def _resolve(update: Update, context: BotContext, handover: Handover) -> None:
    """Close the request: the owner is told that the bot answers again; every card says who closed it."""
    deps = context.deps
    by = await consultant_name(update, context)
    if await deps.storage.resolve_handover(handover.id, by) is None:
        await update.callback_query.answer(f"Already closed ({handover.status}, {handover.resolved_by or 'expired'}).")
        return
    await update.callback_query.answer("Resolved.")
    _ = texts(handover.language)
    done = _("A consultant has closed your request. I'm answering your questions again; /human asks for a person.")
    try:  # the owner may rate the help (stored on the request, counted in the digest)
        await context.bot.send_message(
            handover.chat_id, f"{done}\n\n{did_it_help(_)}", reply_markup=rating_buttons(handover.id)
        )
    except TelegramError as exc:
        log.warning("could not tell the owner of hand-over %s that it is resolved: %s", handover.id, exc)
    await admin_chat_note(context, handover.id, f"✅ Resolved by {by.rsplit(' (tg:', 1)[0]}.")
    try:  # the resolved card keeps one button: its exchange saved as knowledge
        await update.callback_query.edit_message_reply_markup(resolved_buttons(handover.id))
    except TelegramError as exc:
        log.warning("could not change the buttons of resolved hand-over %s: %s", handover.id, exc)


async def _flag_gap(update: Update, context: BotContext, handover: Handover) -> None:
    """The question goes into the knowledge-gap report (/gaps, `python -m bot gaps`)."""
    flagged = handover.turn_id is not None and await context.deps.storage.flag_gap(handover.turn_id)
    await update.callback_query.answer("Added to the knowledge gaps." if flagged else "There is no stored question.")


HANDLERS = [
    MessageHandler(MESSAGES & filters.REPLY & filters.TEXT & ~filters.COMMAND, consultant_reply),
    MessageHandler(MESSAGES & filters.REPLY & ~filters.TEXT & ~filters.StatusUpdate.ALL, consultant_media_reply),
    CallbackQueryHandler(card_button, pattern=r"^ho:(reply|resolve|gap):\d+$"),
]
