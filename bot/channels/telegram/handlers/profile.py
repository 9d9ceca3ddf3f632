"""/profile: what an owner tells the advisor about the business, so answers fit it.

`/profile` alone shows the profile, if there is one, with Edit and Start over buttons (either
starts the questions; Start over clears it first); with none yet, it starts a short guided
conversation (python-telegram-bot's
`ConversationHandler`): industry, number of staff, country or region and stage, with buttons
where the choices are few, then the business's name and goals as free text. Each answer is
saved as it is given; /skip passes a question and /cancel stops, at every step.
`/profile key=value …` sets fields directly, values with spaces included
(`/profile business_name=Rosie's Cakes & Co staff=6`).
"""

from __future__ import annotations

import warnings

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters
from telegram.warnings import PTBUserWarning

from bot.advisor.profile import CHOICES, Profile, ProfileError, profile_pairs
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, texts_of, user_key
from bot.locales import N_

USAGE = N_(
    "Send /profile to answer a few questions about your business, or set fields directly:\n"
    "/profile industry=bakery staff=6 region=Australia\n"
    "Keys: business_name, industry, staff, region, stage, goals. An empty value clears one: /profile goals="
)
TIMEOUT = 15 * 60  # seconds an unanswered step waits before the conversation ends

# (field, question, button choices: (label, value)); an empty list means free text only. Labels
# and questions are translated where shown; values are stored as they are, in English.
STEPS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("industry", N_("What does your business do? Tap one or type it."), CHOICES["industry"]),
    ("staff", N_("How many people work in it, you included? Tap one or type a number."), CHOICES["staff"]),
    ("region", N_("Which country or region do you mostly sell in? Type it, e.g. Kenya or Southeast Asia."), []),
    ("stage", N_("Where is the business now?"), CHOICES["stage"]),
    ("business_name", N_("What is the business called? (Type it, or /skip.)"), []),
    ("goals", N_("Last one: what do you want to achieve in the next few years? (Type it, or /skip.)"), []),
]


async def start(update: Update, context: BotContext) -> int:
    """/profile: set fields given as key=value, or start the guided questions."""
    text = update.effective_message.text or ""
    given = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
    storage = context.deps.storage
    _ = texts_of(update, context)
    current = await storage.profile(user_key(update))
    if given.strip():
        try:
            current = current.updated(profile_pairs(given))
        except ProfileError as exc:
            await update.effective_message.reply_text(f"{_(exc.template).format(**exc.params)}\n\n{_(USAGE)}")
            return ConversationHandler.END
        await storage.set_profile(user_key(update), current)
        await update.effective_message.reply_text(_("Saved. Your profile:") + "\n" + current.describe(_))
        return ConversationHandler.END
    if not current.is_empty():  # shown first: the owner may only want to see it
        shown = _("Your profile now:") + "\n" + current.describe(_) + "\n\n" + _(CHANGE)
        await update.effective_message.reply_text(shown, reply_markup=_change_buttons(_))
        return ConversationHandler.END
    return await _questions(update, context)


CHANGE = N_("Change it question by question (/skip keeps an answer), or start over?")
EDIT, START_OVER = N_("✏️ Edit"), N_("🔄 Start over")


def _change_buttons(_) -> InlineKeyboardMarkup:
    edit = InlineKeyboardButton(_(EDIT), callback_data="pf:edit")
    return InlineKeyboardMarkup([[edit, InlineKeyboardButton(_(START_OVER), callback_data="pf:over")]])


async def change(update: Update, context: BotContext) -> int:
    """Edit or Start over under the profile /profile showed: the questions, from a clean profile
    for Start over."""
    query = update.callback_query
    await query.answer()
    _ = texts_of(update, context)
    over = query.data == "pf:over"
    await query.edit_message_text(f"{query.message.text}\n→ {_(START_OVER if over else EDIT)}")
    if over:
        await context.deps.storage.set_profile(user_key(update), Profile())
    return await _questions(update, context)


async def _questions(update: Update, context: BotContext) -> int:
    _ = texts_of(update, context)
    intro = _("A few quick questions so my answers fit your business. /skip any of them, /cancel to stop.")
    await update.effective_chat.send_message(intro)
    return await _ask(update, context, 0)


async def _ask(update: Update, context: BotContext, step: int) -> int:
    if step == len(STEPS):
        return ConversationHandler.END
    _ = texts_of(update, context)
    _field, question, choices = STEPS[step]
    buttons = [
        [InlineKeyboardButton(_(label), callback_data=f"pf:{step}:{n}")] for n, (label, _v) in enumerate(choices)
    ]
    markup = InlineKeyboardMarkup(buttons) if buttons else None
    await update.effective_chat.send_message(_(question), reply_markup=markup)
    return step


def _answer(step: int):
    """The handlers of one step: a button, typed text, or /skip."""

    async def chosen(update: Update, context: BotContext) -> int:
        query = update.callback_query
        await query.answer()
        choice = query.data.split(":")[2]
        label, value = STEPS[step][2][int(choice)]
        _ = texts_of(update, context)
        await query.edit_message_text(f"{_(STEPS[step][1])}\n→ {_(label)}")
        return await _save(update, context, step, value)

    async def typed(update: Update, context: BotContext) -> int:
        return await _save(update, context, step, update.effective_message.text.strip())

    async def skipped(update: Update, context: BotContext) -> int:
        return await _next(update, context, step)

    return [
        CallbackQueryHandler(chosen, pattern=rf"^pf:{step}:\d+$"),
        MessageHandler(MESSAGES & filters.TEXT & ~filters.COMMAND, typed),
        CommandHandler("skip", skipped),
    ]


async def _save(update: Update, context: BotContext, step: int, value: str) -> int:
    """Save one answer at once (a conversation cut short keeps what was given)."""
    field = STEPS[step][0]
    storage = context.deps.storage
    _ = texts_of(update, context)
    try:
        profile = (await storage.profile(user_key(update))).updated([f"{field}={value}"])
    except ProfileError as exc:
        await update.effective_chat.send_message(_(exc.template).format(**exc.params) + " " + _("Try again, or /skip."))
        return step
    await storage.set_profile(user_key(update), profile)
    return await _next(update, context, step)


async def _next(update: Update, context: BotContext, step: int) -> int:
    if step + 1 < len(STEPS):
        return await _ask(update, context, step + 1)
    _ = texts_of(update, context)
    profile = await context.deps.storage.profile(user_key(update))
    await update.effective_chat.send_message(
        _("Thanks! Your profile:")
        + "\n"
        + profile.describe(_)
        + "\n\n"
        + _("My answers will take it into account. Ask away!")
    )
    return ConversationHandler.END


async def stop(update: Update, context: BotContext) -> int:
    """/cancel during the questions: stop asking; what was answered stays saved."""
    _ = texts_of(update, context)
    await update.effective_message.reply_text(_("Stopped. What you told me so far is saved; /profile shows it."))
    return ConversationHandler.END


with warnings.catch_warnings():  # buttons are tracked per chat and user, not per message: what we want
    warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
    GUIDED = ConversationHandler(
        entry_points=[
            CommandHandler("profile", start, filters=MESSAGES),
            CallbackQueryHandler(change, pattern=r"^pf:(edit|over)$"),
        ],
        states={step: _answer(step) for step in range(len(STEPS))},
        fallbacks=[CommandHandler("cancel", stop)],
        conversation_timeout=TIMEOUT,
        allow_reentry=True,
        name="profile",
    )

HANDLERS = [GUIDED]
