"""What owners can do: /start, /help, /new, /profile, /topics, /forget, /ask, and any text,
which is a question (in groups only when addressed to the bot)."""

from __future__ import annotations

import asyncio

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.advisor.conversation import ProfileError
from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.buttons import store_comment
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, addressed_to_bot, chat_key, user_key
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
]

PROFILE_USAGE = (
    "Set facts about your business so answers fit it, for example:\n"
    "/profile industry=bakery staff=6 region=AU\n"
    "Keys: business_name, industry, staff, region, stage, goals. An empty value clears one: /profile goals="
)


async def start(update: Update, context: BotContext) -> None:
    """/start: what the advisor helps with, how to set a profile, and what is stored."""
    text = (
        "<b>Hello! I'm SME Advisor.</b> I give short, practical answers for small businesses on "
        "<b>growth</b>, <b>credit and finance</b>, <b>long-horizon strategy</b> and <b>trade</b>, "
        "from a knowledge base curated by business consultants, with sources.\n\n"
        "Just type a question. Tell me about your business so answers fit it:\n"
        "<code>/profile industry=bakery staff=6 region=AU</code>\n\n"
        "Our conversations are stored so I can remember them and consultants can improve the "
        "answers. /forget deletes everything stored about you.\n\nTry one of these:"
    )
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=example_questions())


async def help_command(update: Update, context: BotContext) -> None:
    """/help: the commands, in one message."""
    await update.effective_message.reply_text(
        "Type any question about your business and I'll answer from the knowledge base, with sources.\n\n"
        "/new – start a fresh conversation (I forget the earlier context)\n"
        "/profile – show or set your business profile\n"
        "/topics – what I know about\n"
        "/forget – delete everything stored about you\n"
        "/ask QUESTION – ask in a group (or mention me, or reply to me)\n\n"
        "Under each answer: 👍 / 👎 to tell us if it helped, and Sources to read the passages."
    )


async def new_conversation(update: Update, context: BotContext) -> None:
    """/new: close the chat's conversation so the next question starts without memory."""
    await context.deps.storage.new_conversation(chat_key(update), user_key(update))
    await update.effective_message.reply_text("Fresh start: I won't use our earlier conversation. Ask away!")


async def profile(update: Update, context: BotContext) -> None:
    """/profile [key=value …]: show the owner's profile, or set fields of it."""
    storage = context.deps.storage
    current = await storage.profile(user_key(update))
    if context.args:
        try:
            current = current.updated(context.args)
        except ProfileError as exc:
            await update.effective_message.reply_text(f"{exc}\n\n{PROFILE_USAGE}")
            return
        await storage.set_profile(user_key(update), current)
        heading = "Saved. Your profile:"
    else:
        heading = "Your profile:"
    await update.effective_message.reply_text(f"{heading}\n{current.describe()}\n\n{PROFILE_USAGE}")


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
    message = update.effective_message
    if await store_comment(update, context):
        return
    if not addressed_to_bot(update, context.bot.username, context.bot.id):
        return
    question = message.text
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
            ("profile", profile),
            ("topics", topics),
            ("forget", forget),
            ("ask", ask_command),
        )
    ),
    MessageHandler(MESSAGES & filters.TEXT & ~filters.COMMAND, text_message),
    MessageHandler(MESSAGES & ~filters.TEXT & ~filters.StatusUpdate.ALL, not_text),
]
