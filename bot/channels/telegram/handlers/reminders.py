"""Reminders: /remind, /reminders (listed, with a cancel button each), the "Remind me" button
under answers that list steps, and the owner's time zone.

`/remind in 2 weeks update my cash forecast` (`bot.advisor.when` reads the time). A reminder
whose time depends on the zone (a date, a time of day, a day or more away), and "Remind me"
(09:00 the owner's time), ask the owner's zone first if none is stored: buttons for common
zones, or a typed name or UTC offset; `/skip` keeps DEFAULT_TIMEZONE, `/cancel` stops. It is
asked once: the zone is stored with the owner.

Sending what is due, and the Done / Snooze buttons under a reminder: `handlers/due.py`.
"""

from __future__ import annotations

import asyncio
import logging
import warnings

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters
from telegram.warnings import PTBUserWarning

from bot.advisor.when import (
    MAX_TEXT,
    USAGE,
    When,
    WhenError,
    find_zone,
    interval_text,
    later,
    parse_reminder,
    time_text,
)
from bot.channels.telegram.formatting import shortened
from bot.channels.telegram.handlers.buttons import from_this_chat
from bot.channels.telegram.handlers.checkin import zone_of
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, language_of, texts_of, user_key
from bot.locales import BIDI_CONTROLS, N_

log = logging.getLogger(__name__)

ZONE = 0  # the conversation's one state: waiting for the owner's time zone
TIMEOUT = 15 * 60
COMMON_ZONES = [
    "UTC", "Europe/London", "Europe/Madrid", "Europe/Kyiv", "Europe/Istanbul", "Europe/Moscow",
    "Africa/Lagos", "Africa/Nairobi", "Asia/Dubai", "Asia/Kolkata", "Asia/Jakarta", "Asia/Shanghai",
    "America/Sao_Paulo", "America/Mexico_City", "America/New_York",
]  # fmt: skip
LATER = {"1w": (1, "week"), "1m": (1, "month"), "3m": (3, "month")}  # the "Remind me" choices
LATER_LABELS = {"1w": N_("In 1 week"), "1m": N_("In 1 month"), "3m": N_("In 3 months")}
ZONE_QUESTION = N_(
    "Which time zone are you in? Tap one, or type a city or zone name (Europe/Berlin, Nairobi) or a UTC "
    "offset like +3. /skip uses {zone}."
)
REPEATS = N_("Repeats every {interval}.")


async def remind(update: Update, context: BotContext) -> int:
    """/remind WHEN WHAT: set a reminder, asking the owner's time zone first when it matters."""
    _ = texts_of(update, context)
    parts = (update.effective_message.text or "").split(maxsplit=1)
    request = parts[1].strip() if len(parts) > 1 else ""
    if not request:
        await update.effective_message.reply_text(_(USAGE))
        return ConversationHandler.END
    stored = await context.deps.storage.timezone(user_key(update))
    zone = stored or context.deps.settings.default_timezone
    try:
        when = await asyncio.to_thread(parse_reminder, request, zone=zone, language=language_of(update, context))
    except WhenError as exc:
        await update.effective_message.reply_text(_(exc.template).format(**exc.params))
        return ConversationHandler.END
    if when.zoned and stored is None:
        return await _zone_first(update, context, remind=request)
    await _set(update, context, when)
    return ConversationHandler.END


MAX_PENDING = 50  # an owner's waiting reminders: more is a script, not a plan (300 were stored in 12 s)
PAGE = 10  # reminders a /reminders message lists (60 made it too long to send: none could be cancelled)
FULL = N_("You have {count} reminders waiting, the most I keep. Cancel some in /reminders, then set this one again.")


async def room_for_one_more(update: Update, context: BotContext) -> bool:
    """Whether the owner may set another reminder; if not, they are told why (at most MAX_PENDING)."""
    count = len(await context.deps.storage.pending_reminders(user_key(update)))
    if count < MAX_PENDING:
        return True
    await update.effective_chat.send_message(texts_of(update, context)(FULL).format(count=count))
    return False


async def _set(update: Update, context: BotContext, when: When) -> None:
    """Store the reminder and say when it comes."""
    if not await room_for_one_more(update, context):
        return
    reminder = await context.deps.storage.add_reminder(
        user_id=user_key(update),
        chat_id=update.effective_chat.id,
        text=when.text,
        due_at=when.due,
        every=when.every,
        language=language_of(update, context),
    )
    _ = texts_of(update, context)
    zone = await zone_of(context, user_key(update))
    language = language_of(update, context)
    text = _("⏰ I'll remind you on {time} ({zone}): {text}").format(
        time=time_text(reminder.due_at, zone, language), zone=zone, text=reminder.text
    )
    if reminder.every:
        text += "\n" + _(REPEATS).format(interval=interval_text(reminder.every, language))
    await update.effective_chat.send_message(text + "\n" + _("/reminders lists your reminders."))


def _zone_buttons() -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(zone.rsplit("/", 1)[-1].replace("_", " "), callback_data=f"tz:{n}")
        for n, zone in enumerate(COMMON_ZONES)
    ]
    return InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)])


async def _ask_zone(update: Update, context: BotContext) -> None:
    _ = texts_of(update, context)
    question = _(ZONE_QUESTION).format(zone=context.deps.settings.default_timezone)
    await update.effective_chat.send_message(question, reply_markup=_zone_buttons())


async def change_zone(update: Update, context: BotContext) -> int:
    """The time zone button under /reminders: ask for the zone (no reminder waiting)."""
    await update.callback_query.answer()
    for key in ("remind", "revisit"):
        context.user_data.pop(key, None)
    await _ask_zone(update, context)
    return ZONE


async def zone_chosen(update: Update, context: BotContext) -> int:
    """A tap on one of the zones (also after the conversation ended: the zone is stored)."""
    query = update.callback_query
    number = int(query.data.split(":")[1])
    if number >= len(COMMON_ZONES):
        await query.answer()
        return ConversationHandler.END
    await query.answer()
    _ = texts_of(update, context)
    await query.edit_message_text(_("Time zone: {zone}").format(zone=COMMON_ZONES[number]))
    return await _zone_given(update, context, COMMON_ZONES[number])


async def zone_typed(update: Update, context: BotContext) -> int:
    zone = find_zone(update.effective_message.text or "")
    if zone is None:
        _ = texts_of(update, context)
        unknown = _(
            "I don't know the time zone “{zone}”. Type a city or zone name like Europe/Berlin or Nairobi, "
            "or an offset like +3."
        )
        await update.effective_message.reply_text(unknown.format(zone=(update.effective_message.text or "")[:40]))
        return ZONE
    await update.effective_message.reply_text(texts_of(update, context)("Time zone: {zone}").format(zone=zone))
    return await _zone_given(update, context, zone)


async def zone_skipped(update: Update, context: BotContext) -> int:
    zone = context.deps.settings.default_timezone
    await update.effective_message.reply_text(texts_of(update, context)("Time zone: {zone}").format(zone=zone))
    return await _zone_given(update, context, zone)


async def _zone_given(update: Update, context: BotContext, zone: str) -> int:
    """Store the zone; set the reminder that waited for it (or ask when, for "Remind me")."""
    await context.deps.storage.set_timezone(user_key(update), zone)
    revisit = context.user_data.pop("revisit", None)
    if revisit is not None:
        await _ask_when(update, context, revisit)
        return ConversationHandler.END
    request = context.user_data.pop("remind", None)
    if not request:
        return ConversationHandler.END
    try:  # read again in the owner's zone: "tomorrow at 9" is their 9
        when = await asyncio.to_thread(parse_reminder, request, zone=zone, language=language_of(update, context))
    except WhenError as exc:  # the time passed while they chose
        await update.effective_chat.send_message(texts_of(update, context)(exc.template).format(**exc.params))
        return ConversationHandler.END
    await _set(update, context, when)
    return ConversationHandler.END


async def stop(update: Update, context: BotContext) -> int:
    """/cancel while the zone is asked: no reminder is set."""
    for key in ("remind", "revisit"):
        context.user_data.pop(key, None)
    _ = texts_of(update, context)
    await update.effective_message.reply_text(_("Stopped: no reminder was set."))
    return ConversationHandler.END


async def list_reminders(update: Update, context: BotContext) -> None:
    """/reminders: this chat's pending reminders of the owner's, each with a cancel button, PAGE
    at a time."""
    text, markup = await _listing(update, context)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def _listing(update: Update, context: BotContext, page: int = 0) -> tuple[str, InlineKeyboardMarkup]:
    _ = texts_of(update, context)
    language = language_of(update, context)
    zone = await zone_of(context, user_key(update))
    pending = await context.deps.storage.pending_reminders(user_key(update), update.effective_chat.id)
    zone_button = [InlineKeyboardButton("🌍 " + _("Time zone: {zone}").format(zone=zone), callback_data="tz:ask")]
    if not pending:
        none = _("You have no reminders. Set one: /remind in 2 weeks update my cash forecast")
        return none, InlineKeyboardMarkup([zone_button])
    pages = -(-len(pending) // PAGE)
    page = max(0, min(page, pages - 1))
    shown = list(enumerate(pending, start=1))[page * PAGE : (page + 1) * PAGE]
    lines = [_("Your reminders (times in {zone}):").format(zone=zone)]
    for n, reminder in shown:
        what = _("Quarterly check-in") if reminder.kind == "checkin" else shortened(reminder.text, 120)
        line = f"{n}. {time_text(reminder.due_at, zone, language)} — {what}"
        if reminder.every:
            line += " 🔁 " + interval_text(reminder.every, language)
        lines.append(line)
    cancel = [InlineKeyboardButton(f"✖ {n}", callback_data=f"rc:{r.id}:{page}") for n, r in shown]
    rows = [cancel[i : i + 5] for i in range(0, len(cancel), 5)]
    if pages > 1:
        lines.append(_("Page {page} of {pages}.").format(page=page + 1, pages=pages))
        turns = [("◀", page - 1), ("▶", page + 1)]
        rows.append([InlineKeyboardButton(label, callback_data=f"rp:{to}") for label, to in turns if 0 <= to < pages])
    lines.append(_("Tap ✖ and a number to cancel that reminder."))
    return "\n".join(lines), InlineKeyboardMarkup([*rows, zone_button])


async def page_pressed(update: Update, context: BotContext) -> None:
    """◀ / ▶ under /reminders: the list's other page."""
    query = update.callback_query
    await query.answer()
    text, markup = await _listing(update, context, int(query.data.split(":")[1]))
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except TelegramError as exc:  # unchanged, or the message is gone
        log.info("could not turn the reminder list's page: %s", exc)


async def cancel_pressed(update: Update, context: BotContext) -> None:
    """✖ under /reminders: cancel that reminder, if it is the owner's and still pending."""
    query = update.callback_query
    _ = texts_of(update, context)
    _kind, reminder_id, *page = query.data.split(":")
    if not await context.deps.storage.cancel_reminder(int(reminder_id), user_id=user_key(update)):
        await query.answer(_("That reminder is no longer pending."))
        return
    await query.answer(_("Cancelled."))
    text, markup = await _listing(update, context, int(page[0]) if page else 0)
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except TelegramError as exc:  # the list is a courtesy: the reminder is cancelled
        log.info("could not refresh the reminder list: %s", exc)


async def remind_me(update: Update, context: BotContext) -> int:
    """ "Remind me" under an answer: the owner's time zone first, if none is stored (the times
    offered are 09:00 theirs), as /remind does; then when? (1 week, 1 month, 3 months)."""
    query = update.callback_query
    turn_id = int(query.data.split(":")[1])
    if not await from_this_chat(update, context, turn_id):
        return ConversationHandler.END
    await query.answer()
    if await context.deps.storage.timezone(user_key(update)) is None:
        return await _zone_first(update, context, revisit=turn_id)
    await _ask_when(update, context, turn_id)
    return ConversationHandler.END


async def _zone_first(update: Update, context: BotContext, **then) -> int:
    """Ask for the owner's time zone before a reminder that needs one, keeping what to do once it
    is known (`remind`: a /remind request; `revisit`: the answer "⏰ Remind me" was tapped under)."""
    context.user_data.pop("remind", None)
    context.user_data.pop("revisit", None)
    context.user_data.update(then)
    await _ask_zone(update, context)
    return ZONE


async def _ask_when(update: Update, context: BotContext, turn_id: int) -> None:
    _ = texts_of(update, context)
    buttons = [InlineKeyboardButton(_(text), callback_data=f"rm:{turn_id}:{key}") for key, text in LATER_LABELS.items()]
    question = _("When should I remind you to revisit this?")
    await update.effective_chat.send_message(question, reply_markup=InlineKeyboardMarkup([buttons]))


async def remind_me_after(update: Update, context: BotContext) -> None:
    """1 week / 1 month / 3 months: store "Revisit: <question>" for then (09:00 in the owner's zone)."""
    query = update.callback_query
    _kind, turn_id, key = query.data.split(":")
    if not await from_this_chat(update, context, int(turn_id)):
        return
    await query.answer()
    _ = texts_of(update, context)
    if not await room_for_one_more(update, context):
        return
    turn = await context.deps.storage.get_turn(int(turn_id))
    zone = await zone_of(context, user_key(update))
    amount, unit = LATER[key]
    question = shortened(BIDI_CONTROLS.sub("", turn.question), MAX_TEXT) if turn else ""  # sent back as plain text
    reminder = await context.deps.storage.add_reminder(
        user_id=user_key(update),
        chat_id=update.effective_chat.id,
        text=_("Revisit: {question}").format(question=question),
        due_at=later(amount, unit, zone=zone),
        language=language_of(update, context),
    )
    done = _("⏰ I'll remind you on {time} ({zone}): {text}").format(
        time=time_text(reminder.due_at, zone, language_of(update, context)), zone=zone, text=reminder.text
    )
    await query.edit_message_text(done + "\n" + _("/reminders lists your reminders."))


with warnings.catch_warnings():  # buttons are tracked per chat and user, not per message: what we want
    warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
    ASK_ZONE = ConversationHandler(
        entry_points=[
            CommandHandler("remind", remind, filters=MESSAGES),
            CallbackQueryHandler(change_zone, pattern=r"^tz:ask$"),
            CallbackQueryHandler(remind_me, pattern=r"^rm:\d+$"),  # asks the zone the first time
        ],
        states={
            ZONE: [
                CallbackQueryHandler(zone_chosen, pattern=r"^tz:\d{1,2}$"),
                MessageHandler(MESSAGES & filters.TEXT & ~filters.COMMAND, zone_typed),
                CommandHandler("skip", zone_skipped),
            ]
        },
        fallbacks=[CommandHandler("cancel", stop)],
        conversation_timeout=TIMEOUT,
        allow_reentry=True,
        name="remind",
    )

HANDLERS = [
    ASK_ZONE,
    CommandHandler("reminders", list_reminders, filters=MESSAGES),
    CallbackQueryHandler(zone_chosen, pattern=r"^tz:\d{1,2}$"),  # a zone tapped after the question timed out
    CallbackQueryHandler(cancel_pressed, pattern=r"^rc:\d+(:\d+)?$"),
    CallbackQueryHandler(page_pressed, pattern=r"^rp:\d+$"),
    CallbackQueryHandler(remind_me_after, pattern=r"^rm:\d+:(1w|1m|3m)$"),
]
