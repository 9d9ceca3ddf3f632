"""Sending the reminders and check-ins that are due, and the Done / Snooze buttons under every
reminder that comes.

Sending: `send_due` runs every REMINDER_CHECK_SECONDS in every bot process and sends the
reminders it claimed in the database (`Storage.claim_due_reminders`). Not a JobQueue job per
reminder: such a job lives in one process's memory, so it would be lost at a restart, and if
every webhook worker scheduled the stored reminders at start-up, each would send them. Polling
with a claim needs nothing rebuilt after a restart, and exactly one process sends each
reminder; a reminder may come up to REMINDER_CHECK_SECONDS late.

Buttons: ✅ Done stores a one-off as done (a repeating one keeps its next time); 💤 Snooze 1 hour
and 💤 Snooze till tomorrow (the same time of day, in the owner's zone) store it as pending again
at that time (a repeating one: a one-off copy), so it comes back the same way as any reminder,
also after a restart. Either replaces the buttons with a line saying what was done.
"""

from __future__ import annotations

import datetime as dt
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler

from bot.advisor.when import interval_text, time_text, tomorrow_same_time
from bot.channels.telegram.handlers import checkin
from bot.channels.telegram.handlers.checkin import zone_of
from bot.channels.telegram.handlers.deps import BotContext, language_of, texts_of, user_key
from bot.channels.telegram.handlers.reminders import REPEATS, room_for_one_more
from bot.locales import DEFAULT, N_, Translate, texts

log = logging.getLogger(__name__)

DONE = N_("Done")
SNOOZE_HOUR = N_("Snooze 1 hour")
SNOOZE_TOMORROW = N_("Snooze till tomorrow")
GONE = N_("That reminder is no longer pending.")
HOUR = dt.timedelta(hours=1)


async def send_due(context: BotContext) -> None:
    """Repeating job: send the reminders and check-ins this process claimed. Each is marked done
    only after Telegram accepted it; one whose sending failed unexpectedly is tried again at the
    next check (its claim given back), one this process died sending when its claim expires."""
    deps = context.deps
    claimed = await deps.storage.claim_due_reminders(
        default_zone=deps.settings.default_timezone,
        claim_expires=dt.timedelta(seconds=deps.settings.reminder_claim_seconds),
    )
    for due in claimed:
        try:
            await _send(context, due)
        except Exception:  # one reminder's failure never holds up the others
            log.exception("could not send reminder %s", due.reminder.id)
            await deps.storage.release_reminder(due)


async def _send(context: BotContext, due) -> None:
    deps, reminder = context.deps, due.reminder
    owner = reminder.user_id.removeprefix("tg:")
    if not owner.isdigit() or not await deps.access.may_use(int(owner)):
        await deps.storage.cancel_reminder(reminder.id, user_id=reminder.user_id)
        return
    language = due.language or reminder.language or DEFAULT
    _ = texts(language)
    try:
        if reminder.kind == "checkin":
            await checkin.ask_how_it_went(context, reminder, _)
        else:
            await context.bot.send_message(
                reminder.chat_id, reminder_text(reminder, language, _), reply_markup=reminder_buttons(reminder.id, _)
            )
    except (Forbidden, BadRequest) as exc:  # the owner blocked the bot, or the chat is gone: stop
        log.info("reminder %s cannot reach chat %s (%s); cancelled", reminder.id, reminder.chat_id, exc)
        await deps.storage.cancel_reminder(reminder.id, user_id=reminder.user_id)
        return
    except TelegramError as exc:  # a passing fault: tried again shortly
        log.warning("reminder %s not sent (%s)", reminder.id, exc)
        await deps.storage.release_reminder(due)
        return
    await deps.storage.finish_reminder(due)  # Telegram accepted it: only now is it sent


def reminder_text(reminder, language: str, _: Translate) -> str:
    text = "⏰ " + _("Reminder: {text}").format(text=reminder.text)
    if reminder.every:
        text += "\n" + _(REPEATS).format(interval=interval_text(reminder.every, language))
        text += " " + _("/reminders to stop it.")
    return text


def reminder_buttons(reminder_id: int, _: Translate) -> InlineKeyboardMarkup:
    """Under every reminder that comes: Done, and Snooze for an hour or till tomorrow."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("✅ " + _(DONE), callback_data=f"rd:{reminder_id}")],
            [
                InlineKeyboardButton("💤 " + _(SNOOZE_HOUR), callback_data=f"rz:{reminder_id}:h"),
                InlineKeyboardButton("💤 " + _(SNOOZE_TOMORROW), callback_data=f"rz:{reminder_id}:d"),
            ],
        ]
    )


async def done_pressed(update: Update, context: BotContext) -> None:
    """✅ Done under a reminder: stored (a one-off is done); the buttons give way to "Done"."""
    query = update.callback_query
    _ = texts_of(update, context)
    reminder = await context.deps.storage.mark_done(int(query.data.split(":")[1]), user_id=user_key(update))
    if reminder is None:  # another member's tap in a group, or cancelled meanwhile
        await query.answer(_(GONE))
        return
    await query.answer(_("Done."))
    line = "✅ " + _("Done.")
    if reminder.every:
        zone = await zone_of(context, user_key(update))
        when = time_text(reminder.due_at, zone, language_of(update, context))
        line += " " + _("Next time: {time} ({zone}).").format(time=when, zone=zone)
    await _replace_buttons(update, line)


async def snooze_pressed(update: Update, context: BotContext) -> None:
    """💤 under a reminder: stored as pending again in an hour, or tomorrow at the time it came
    (in the owner's zone); the buttons give way to when it comes back."""
    query = update.callback_query
    _ = texts_of(update, context)
    _kind, reminder_id, later = query.data.split(":")
    storage, user = context.deps.storage, user_key(update)
    reminder = await storage.get_reminder(int(reminder_id), user_id=user)
    if reminder is None or reminder.status == "cancelled":
        await query.answer(_(GONE))
        return
    await query.answer()
    if not await room_for_one_more(update, context):
        return
    zone = await zone_of(context, user)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    due_at = now + HOUR if later == "h" else tomorrow_same_time(reminder.due_at, zone, now)
    snoozed = await storage.snooze_reminder(reminder.id, user_id=user, due_at=due_at)
    if snoozed is None:  # cancelled between the two reads
        return
    when = time_text(snoozed.due_at, zone, language_of(update, context))
    await _replace_buttons(
        update, "💤 " + _("Snoozed: I'll remind you again on {time} ({zone}).").format(time=when, zone=zone)
    )


async def _replace_buttons(update: Update, line: str) -> None:
    """The reminder's text again with `line` under it, and no buttons."""
    message = update.callback_query.message
    text = getattr(message, "text", None) or ""  # an old message may be inaccessible: no text
    try:
        await update.callback_query.edit_message_text(f"{text}\n\n{line}".strip())
    except TelegramError as exc:  # the message is gone: what was stored stands
        log.info("could not update a reminder's buttons: %s", exc)


HANDLERS = [
    CallbackQueryHandler(done_pressed, pattern=r"^rd:\d+$"),
    CallbackQueryHandler(snooze_pressed, pattern=r"^rz:\d+:[hd]$"),
]
