"""/checkin: the quarterly strategy check-in. The product's idea of strategy is a long-horizon
problem broken into yearly goals and 90-day priorities; this brings the bot back to the owner
once a quarter to ask how those priorities went.

`/checkin on` asks for this quarter's three priorities (one message each; `/skip` stops at
fewer, `/cancel` at any step; each is saved as it is given) and schedules a `checkin` reminder
every 3 months (`/checkin on in 2 weeks`: the first one then). When it is due
(`ask_how_it_went`, called by the reminders job), the bot asks about each priority with the
buttons Done / Partly / Not yet, records the answers, suggests a next step for each unfinished
one from the knowledge base, and offers to set the next quarter's priorities. `/checkin off`
stops; `/checkin` alone shows where things stand. Everything lives in `users.checkin`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import warnings

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters
from telegram.warnings import PTBUserWarning

from bot.advisor.when import WhenError, later, parse_time, time_text, to_local
from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, is_private, language_of, texts_of, user_key
from bot.locales import N_, Translate
from bot.storage.models import utcnow

PRIORITIES = 3
EVERY = (3, "month")  # a quarter
HISTORY_KEPT = 8  # earlier quarters' priorities and answers kept with the owner
TIMEOUT = 30 * 60
ANSWERS = {"done": N_("Done"), "partly": N_("Partly"), "not": N_("Not yet")}
USAGE = N_(
    "/checkin on: tell me your three priorities for this quarter and I'll ask how they went every 3 months "
    "(/checkin on in 2 weeks: the first check-in then). /checkin off stops it."
)
ASK = [
    N_("What is your first priority for this quarter? (One sentence, e.g. Cut debtor days to 30.)"),
    N_("Your second priority? (/skip if one is enough.)"),
    N_("And the third? (/skip if two are enough.)"),
]


async def zone_of(context: BotContext, user_id: str) -> str:
    """The owner's time zone, or DEFAULT_TIMEZONE until they give one."""
    return await context.deps.storage.timezone(user_id) or context.deps.settings.default_timezone


def quarter_of(local: dt.datetime) -> str:
    return f"{local.year} Q{(local.month - 1) // 3 + 1}"


def _new_round(quarter: str):
    """A change of the check-in: earlier priorities go to history, a new round starts."""

    def change(state: dict) -> dict:
        if state.get("priorities"):
            done = {k: state.get(k) for k in ("quarter", "priorities", "answers")}
            state["history"] = [*state.get("history", []), done][-HISTORY_KEPT:]
        state.update(on=state.get("on", False), round=state.get("round", 0) + 1, quarter=quarter)
        state.update(priorities=[], answers={}, suggested=False)
        return state

    return change


async def start(update: Update, context: BotContext) -> int:
    """/checkin [on [WHEN] | off]."""
    _ = texts_of(update, context)
    message, storage, uid = update.effective_message, context.deps.storage, user_key(update)
    words = (message.text or "").split()[1:]
    if not is_private(update):
        await message.reply_text(_("Check-ins are personal: send /checkin in a private chat with me."))
        return ConversationHandler.END
    if not words:
        await message.reply_text(await _status(update, context))
        return ConversationHandler.END
    if words[0].lower() == "off":
        await storage.cancel_reminders(uid, kind="checkin")
        await storage.change_checkin(uid, lambda state: {**state, "on": False})
        await message.reply_text(_("Check-ins are off. Your priorities stay saved; /checkin on starts again."))
        return ConversationHandler.END
    if words[0].lower() != "on":
        await message.reply_text(_(USAGE))
        return ConversationHandler.END
    zone, language = await zone_of(context, uid), language_of(update, context)
    first = later(*EVERY, zone=zone)  # a quarter from now, 09:00 the owner's time
    if words[1:]:  # "/checkin on in 2 weeks": the first check-in then
        try:
            first = (await asyncio.to_thread(parse_time, " ".join(words[1:]), zone=zone, language=language)).due
        except WhenError:
            await message.reply_text(_(USAGE))
            return ConversationHandler.END
    await storage.cancel_reminders(uid, kind="checkin")
    await storage.add_reminder(
        user_id=uid,
        chat_id=update.effective_chat.id,
        kind="checkin",
        text="quarterly check-in",
        due_at=first,
        every=f"{EVERY[0]} {EVERY[1]}s",
        language=language,
    )
    new_round = _new_round(quarter_of(to_local(utcnow(), zone)))
    await storage.change_checkin(uid, lambda state: {**new_round(state), "on": True})
    on = _("Check-ins are on: I'll ask how your priorities went on {time} ({zone}), then every 3 months.")
    await message.reply_text(on.format(time=time_text(first, zone, language), zone=zone))
    return await _ask(update, context, 0)


async def _status(update: Update, context: BotContext) -> str:
    _ = texts_of(update, context)
    uid = user_key(update)
    state = await context.deps.storage.checkin_state(uid)
    pending = [r for r in await context.deps.storage.pending_reminders(uid) if r.kind == "checkin"]
    if not state.get("on") or not pending:  # (its reminder may have been cancelled under /reminders)
        return _("Check-ins are off.") + " " + _(USAGE)
    zone = await zone_of(context, uid)
    when = time_text(pending[0].due_at, zone, language_of(update, context))
    lines = [_("Check-ins are on; the next one is on {time} ({zone}).").format(time=when, zone=zone)]
    lines += _priority_lines(state, _)
    return "\n".join([*lines, _("/checkin on sets new priorities; /checkin off stops check-ins.")])


def _priority_lines(state: dict, _: Translate) -> list[str]:
    priorities = state.get("priorities") or []
    if not priorities:
        return [_("No priorities saved for this quarter yet.")]
    head = _("Your priorities for {quarter}:").format(quarter=state.get("quarter", ""))
    return [head] + [f"{n}. {p}" for n, p in enumerate(priorities, start=1)]


async def _ask(update: Update, context: BotContext, step: int) -> int:
    await update.effective_chat.send_message(texts_of(update, context)(ASK[step]))
    return step


def _answer(step: int):
    """The handlers of one step: the priority typed, or /skip."""

    async def typed(update: Update, context: BotContext) -> int:
        text = " ".join((update.effective_message.text or "").split())[:300]

        def change(state: dict) -> dict:
            state["priorities"] = [*(state.get("priorities") or [])[:step], text]
            return state

        await context.deps.storage.change_checkin(user_key(update), change)
        return await _ask(update, context, step + 1) if step + 1 < PRIORITIES else await _done(update, context)

    async def skipped(update: Update, context: BotContext) -> int:
        return await _done(update, context)

    return [MessageHandler(MESSAGES & filters.TEXT & ~filters.COMMAND, typed), CommandHandler("skip", skipped)]


async def _done(update: Update, context: BotContext) -> int:
    _ = texts_of(update, context)
    state = await context.deps.storage.checkin_state(user_key(update))
    lines = _priority_lines(state, _)
    lines.append(_("I'll ask how they went at the next check-in. /checkin shows them."))
    await update.effective_chat.send_message("\n".join(lines))
    return ConversationHandler.END


async def stop(update: Update, context: BotContext) -> int:
    """/cancel during the questions: stop; what was given stays saved."""
    _ = texts_of(update, context)
    await update.effective_message.reply_text(_("Stopped. The priorities you gave are saved; /checkin shows them."))
    return ConversationHandler.END


async def next_quarter(update: Update, context: BotContext) -> int:
    """ "Set my priorities" under a check-in: a new round, asked like /checkin on."""
    await update.callback_query.answer()
    zone = await zone_of(context, user_key(update))
    await context.deps.storage.change_checkin(user_key(update), _new_round(quarter_of(to_local(utcnow(), zone))))
    return await _ask(update, context, 0)


def _next_button(_: Translate) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("Set my priorities"), callback_data="ci:new")]])


async def ask_how_it_went(context: BotContext, reminder, _: Translate) -> None:
    """The check-in is due: one message per priority with Done / Partly / Not yet (`ci:<round>:<n>:<answer>`)."""
    state = await context.deps.storage.checkin_state(reminder.user_id)
    priorities, chat = state.get("priorities") or [], reminder.chat_id
    if not priorities:
        ask = _("📋 Time for your quarterly check-in. What are your three priorities for this quarter?")
        await context.bot.send_message(chat, ask, reply_markup=_next_button(_))
        return
    head = _("📋 Quarterly check-in: how did your priorities for {quarter} go?")
    await context.bot.send_message(chat, head.format(quarter=state.get("quarter", "")))
    for n, priority in enumerate(priorities):
        buttons = [
            InlineKeyboardButton(_(label), callback_data=f"ci:{state.get('round', 0)}:{n}:{key}")
            for key, label in ANSWERS.items()
        ]
        await context.bot.send_message(chat, f"{n + 1}. {priority}", reply_markup=InlineKeyboardMarkup([buttons]))


async def answered(update: Update, context: BotContext) -> None:
    """Done / Partly / Not yet: recorded on the tapper's own check-in (a stale or forged button
    changes nothing); once every priority has an answer, the next steps and the next quarter."""
    query = update.callback_query
    _ = texts_of(update, context)
    _kind, round_, number, key = query.data.split(":")
    n, completed = int(number), []

    def change(state: dict) -> dict:
        if state.get("round") != int(round_) or n >= len(state.get("priorities") or []):
            return state
        state["answers"] = {**(state.get("answers") or {}), str(n): key}
        if len(state["answers"]) == len(state["priorities"]) and not state.get("suggested"):
            state["suggested"] = True
            completed.append(True)
        return state

    state = await context.deps.storage.change_checkin(user_key(update), change)
    if state.get("round") != int(round_) or n >= len(state.get("priorities") or []):
        await query.answer(_("That check-in is over."))
        return
    await query.answer()
    await query.edit_message_text(f"{n + 1}. {state['priorities'][n]}\n→ {_(ANSWERS[key])}")
    if completed:
        await _next_steps(update, context, state, _)


async def _next_steps(update: Update, context: BotContext, state: dict, _: Translate) -> None:
    """For each priority not done: the knowledge base's best passage for it, or a consultant."""
    deps, blocks = context.deps, []
    for n, priority in enumerate(state["priorities"]):
        if state["answers"].get(str(n)) == "done":
            continue
        found = await asyncio.to_thread(deps.advisor.retriever.retrieve, priority, 1)
        block = f"<b>{escape(priority)}</b>\n"
        if found and found[0].score >= deps.settings.min_score:
            passage = found[0]
            label = f"{passage.title} › {passage.section}" if passage.section else passage.title
            intro = _("A next step from “{title}”:").format(title=label)
            block += escape(intro) + " " + escape(passage.excerpt(400))
        else:
            block += escape(_("I have no material on this one; /human puts you in touch with a consultant."))
        blocks.append(block)
    if blocks:
        text = "<b>" + escape(_("Next steps")) + "</b>\n\n" + "\n\n".join(blocks)
    else:
        text = escape(_("All done — well done!"))
    await update.effective_chat.send_message(text, parse_mode=ParseMode.HTML)
    ask = _("Ready for the next quarter? Set your priorities now, or later with /checkin on.")
    await update.effective_chat.send_message(ask, reply_markup=_next_button(_))


with warnings.catch_warnings():  # buttons are tracked per chat and user, not per message: what we want
    warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
    PRIORITIES_ASKED = ConversationHandler(
        entry_points=[
            CommandHandler("checkin", start, filters=MESSAGES),
            CallbackQueryHandler(next_quarter, pattern=r"^ci:new$"),
        ],
        states={step: _answer(step) for step in range(PRIORITIES)},
        fallbacks=[CommandHandler("cancel", stop)],
        conversation_timeout=TIMEOUT,
        allow_reentry=True,
        name="checkin",
    )

HANDLERS = [PRIORITIES_ASKED, CallbackQueryHandler(answered, pattern=r"^ci:\d+:\d:(done|partly|not)$")]
