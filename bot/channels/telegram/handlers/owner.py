"""What owners can do: /start, /help, /new, /topics, /forget, /ask, /cancel, and any text,
which is a question (in groups only when addressed to the bot). /profile has its own module."""

from __future__ import annotations

import asyncio

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.buttons import store_comment
from bot.channels.telegram.handlers.deps import (
    MESSAGES,
    BotContext,
    addressed_to_bot,
    chat_key,
    is_private,
    user_key,
)
from bot.channels.telegram.handlers.keyboards import example_questions, forget_confirmation
from bot.channels.telegram.handlers.streaming import answer_question

COMMANDS = [
    BotCommand("start", "What this advisor can do"),
    BotCommand("help", "How to use it"),
    BotCommand("new", "Start a fresh conversation"),
    BotCommand("profile", "Show or set your business profile"),
    BotCommand("topics", "What the knowledge base covers"),
    BotCommand("forget", "Delete everything stored about you"),
    BotCommand("ask", "Ask a question (in groups)"),
    BotCommand("cancel", "Stop the answer I'm preparing"),
]
ADMIN_COMMANDS = [
    BotCommand("stats", "Usage of the last 30 days and the live index"),
    BotCommand("gaps", "The biggest knowledge gaps"),
    BotCommand("reload", "Answer from the newest knowledge now"),
    BotCommand("transcript", "An owner's last turns: USER_ID [N]"),
    BotCommand("export", "Turns as a CSV file: [days]"),
    BotCommand("allow", "Give a user access: USER_ID"),
    BotCommand("block", "Shut a user out: USER_ID"),
]


async def start(update: Update, context: BotContext) -> None:
    """/start: what the advisor helps with, how to set a profile, and what is stored."""
    text = (
        "<b>Hello! I'm SME Advisor.</b> I give short, practical answers for small businesses on "
        "<b>growth</b>, <b>credit and finance</b>, <b>long-horizon strategy</b> and <b>trade</b>, "
        "from a knowledge base curated by business consultants, with sources.\n\n"
        "Just type a question. Tell me about your business so answers fit it: /profile\n\n"
        "Our conversations are stored so I can remember them and consultants can improve the "
        "answers. /forget deletes everything stored about you.\n\nTry one of these:"
    )
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=example_questions())


async def help_command(update: Update, context: BotContext) -> None:
    """/help: the commands, in one message (admins also see theirs)."""
    lines = [
        "Type any question about your business and I'll answer from the knowledge base, with sources.",
        "",
        "/new – start a fresh conversation (I forget the earlier context)",
        "/profile – tell me about your business, step by step (or /profile industry=bakery staff=6)",
        "/topics – what I know about",
        "/cancel – stop the answer I'm preparing",
        "/forget – delete everything stored about you",
        "/ask QUESTION – ask in a group (or mention me, or reply to me)",
        "",
        "Under each answer: 👍 / 👎 to tell us if it helped, Sources to read the passages, and next questions.",
    ]
    if context.deps.access.is_admin(update.effective_user.id):
        lines += ["", "For admins:"] + [f"/{c.command} – {c.description}" for c in ADMIN_COMMANDS]
    await update.effective_message.reply_text("\n".join(lines))


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel: stop the answer being prepared in this chat (never queued behind it)."""
    if context.deps.activity.cancel(update.effective_chat.id):
        await update.effective_message.reply_text("Stopped. Ask me something else whenever you like.")
    else:
        await update.effective_message.reply_text("There's nothing to cancel: I'm not preparing an answer.")


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have: one line pointing to /help (in groups, only if it is ours)."""
    command = (update.effective_message.text or "").split(maxsplit=1)[0]
    name, _, bot = command.partition("@")
    if not is_private(update) and bot.lower() != (context.bot.username or "").lower():
        return
    await update.effective_message.reply_text(f"I don't know {name}. /help lists what I can do.")


async def new_conversation(update: Update, context: BotContext) -> None:
    """/new: close the chat's conversation so the next question starts without memory."""
    await context.deps.storage.new_conversation(chat_key(update), user_key(update))
    await update.effective_message.reply_text("Fresh start: I won't use our earlier conversation. Ask away!")


async def topics(update: Update, context: BotContext) -> None:
    """/topics: the knowledge base's topics and a few of the files under each."""
    covered = await asyncio.to_thread(context.deps.advisor.retriever.topics)
    lines = ["<b>What I can help with</b>"]
    for topic, titles in covered.items():
        lines.append(f"\n<b>{topic.capitalize()}</b>")
        lines += [f"• {escape(title)}" for title in titles[:8]]
    await update.effective_message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML)


async def forget(update: Update, context: BotContext) -> None:
    """/forget: ask for confirmation before deleting the owner's data."""
    await update.effective_message.reply_text(
        "Delete all your questions, answers, feedback and profile? This cannot be undone.",
        reply_markup=forget_confirmation(),
    )


async def ask_command(update: Update, context: BotContext) -> None:
    """/ask QUESTION: a question, the explicit way (the way to ask in groups)."""
    question = " ".join(context.args or [])
    if not question.strip():
        await update.effective_message.reply_text("Usage: /ask QUESTION, e.g. /ask Should I sell cross-border?")
        return
    await answer_question(update, context, question)


async def text_message(update: Update, context: BotContext) -> None:
    """Any text is a question (in groups: only when addressed), or the comment after a 👎."""
    if await store_comment(update, context):
        return
    if not addressed_to_bot(update, context.bot.username, context.bot.id):
        return
    question = context.deps.activity.question_of(update)
    if context.bot.username:
        question = question.replace(f"@{context.bot.username}", " ")
    await answer_question(update, context, question)


async def not_text(update: Update, context: BotContext) -> None:
    """Photos, stickers, voice, files, locations: one friendly line."""
    if addressed_to_bot(update, context.bot.username, context.bot.id):
        await update.effective_message.reply_text("I can only read text questions — please type yours.")



HANDLERS = [
    *(
        CommandHandler(name, callback, filters=MESSAGES)
        for name, callback in (
            ("start", start),
            ("help", help_command),
            ("new", new_conversation),
            ("topics", topics),
            ("forget", forget),
            ("ask", ask_command),
            ("cancel", cancel),
        )
    ),
    MessageHandler(MESSAGES & filters.TEXT & ~filters.COMMAND, text_message),
    MessageHandler(MESSAGES & ~filters.TEXT & ~filters.StatusUpdate.ALL, not_text),
]
FALLBACKS = [MessageHandler(MESSAGES & filters.COMMAND, unknown_command)]  # registered after every command
