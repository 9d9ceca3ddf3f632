"""What owners can do: /start, /help, /new, /topics, /language, /forget, /ask, /cancel, and any
text, which is a question (in groups only when addressed to the bot). /profile, /remind,
/reminders, /checkin, /documents and /mydata have their own modules. Every text is in the owner's
language (`texts_of`)."""

from __future__ import annotations

import asyncio

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.advisor.texts import topic_name
from bot.channels.telegram.admin_chat import is_consultant
from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.buttons import remember_language, store_comment
from bot.channels.telegram.handlers.deps import (
    MESSAGES,
    BotContext,
    addressed_to_bot,
    chat_key,
    is_private,
    texts_of,
    user_key,
)
from bot.channels.telegram.handlers.handover import end_request, handed_over
from bot.channels.telegram.handlers.keyboards import example_questions, forget_confirmation, languages
from bot.channels.telegram.handlers.streaming import answer_question
from bot.locales import N_, supported, texts

# (command, description): the menu, in every language the bot speaks (`commands_in`)
COMMANDS = [
    ("start", N_("What this advisor can do")),
    ("help", N_("How to use it")),
    ("new", N_("Start a fresh conversation")),
    ("profile", N_("Tell me about your business")),
    ("topics", N_("What the knowledge base covers")),
    ("language", N_("Choose my language")),
    ("human", N_("Talk to a consultant")),
    ("remind", N_("Remind me of something later")),
    ("reminders", N_("See or cancel your reminders")),
    ("checkin", N_("Quarterly check-in on your priorities")),
    ("documents", N_("Your documents, to see or delete")),
    ("cancel", N_("Stop the answer I'm preparing")),
    ("mydata", N_("Download what I hold about you")),
    ("forget", N_("Delete everything stored about you")),
    ("ask", N_("Ask a question (in groups)")),
]
ADMIN_COMMANDS = [  # admins run the bot: their texts are in English
    ("queue", "Open requests: claim one, open its card"),
    ("myname", "The name owners read above your replies: [NAME]"),
    ("stats", "Usage of the last 30 days and the live index"),
    ("gaps", "The biggest knowledge gaps"),
    ("reload", "Answer from the newest knowledge now"),
    ("rollback", "Make the previous index version live again"),
    ("transcript", "An owner's last turns: USER_ID, tg:ID or @username [N]"),
    ("digest", "The digest of the last 24 hours"),
    ("review", "A one-time login link to the browser review"),
    ("export", "Turns as a CSV file: [days]"),
    ("allow", "Give a user access: USER_ID"),
    ("block", "Shut a user out: USER_ID"),
]


# the admin commands consultants may use too (CONSULTANT_USER_IDS, everyone in ADMIN_CHAT_ID)
TEAM_COMMANDS = ("queue", "myname", "transcript", "gaps", "stats", "digest")


def commands_in(language: str, admin: bool = False, team: bool = False) -> list[BotCommand]:
    """The command menu in `language` (with the admin commands for an admin's chat, the desk's
    for a consultant's or the consultants' group)."""
    _ = texts(language)
    menu = [BotCommand(name, _(description)) for name, description in COMMANDS]
    theirs = [(n, d) for n, d in ADMIN_COMMANDS if admin or (team and n in TEAM_COMMANDS)]
    return menu + [BotCommand(name, description) for name, description in theirs]


async def start(update: Update, context: BotContext) -> None:
    """/start: what the advisor helps with, how to set a profile, and what is stored."""
    _ = texts_of(update, context)
    text = _(
        "<b>Hello! I'm SME Advisor.</b> I give short, practical answers for small businesses on "
        "<b>growth</b>, <b>credit and finance</b>, <b>long-horizon strategy</b> and <b>trade</b>, "
        "from a knowledge base curated by business consultants, with sources."
    )
    text += "\n\n" + _("Just type a question. Tell me about your business so answers fit it: /profile")
    text += "\n\n" + _(
        "Our conversations are stored so I can remember them and consultants can improve the "
        "answers. /forget deletes everything stored about you."
    )
    text += "\n\n" + _("Try one of these:")
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=example_questions(_))


async def help_command(update: Update, context: BotContext) -> None:
    """/help: the commands, in one message (admins also see theirs)."""
    _ = texts_of(update, context)
    lines = [
        _("Type any question about your business and I'll answer from the knowledge base, with sources."),
        "",
        "/new – " + _("start a fresh conversation (I forget the earlier context)"),
        "/profile – " + _("tell me about your business, step by step (or /profile industry=bakery staff=6)"),
        "/topics – " + _("what I know about"),
        "/language – " + _("choose the language I speak"),
        "/human – " + _("talk to a consultant (a person)"),
        "/remind – " + _("a reminder, e.g. /remind in 2 weeks update my cash forecast"),
        "/reminders – " + _("your reminders, to see or cancel"),
        "/checkin on – " + _("every quarter I ask how your three priorities went (/checkin off stops it)"),
        "/documents – " + _("your documents: send me a PDF, Word, text or Markdown file to ask about it, privately"),
        "/cancel – " + _("stop the answer I'm preparing"),
        "/mydata – " + _("download what I hold about you, as a file"),
        "/forget – " + _("delete everything stored about you"),
        "/ask – " + _("ask in a group (or mention me, or reply to me)"),
        "",
        *([_("You can also send a voice note; I'll answer what I hear."), ""] if context.deps.speech else []),
        _("Under each answer: 👍 / 👎 to tell us if it helped, Sources to read the passages, and next questions."),
    ]
    if context.deps.access.is_admin(update.effective_user.id):
        lines += ["", "For admins:"] + [f"/{name} – {description}" for name, description in ADMIN_COMMANDS]
    elif is_consultant(context.deps.settings, update):
        team = [f"/{name} – {description}" for name, description in ADMIN_COMMANDS if name in TEAM_COMMANDS]
        lines += ["", "For consultants:", *team]
    await update.effective_message.reply_text("\n".join(lines))


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel: stop the answer being prepared in this chat (never queued behind it)."""
    _ = texts_of(update, context)
    if context.deps.activity.cancel(update.effective_chat.id):
        await update.effective_message.reply_text(_("Stopped. Ask me something else whenever you like."))
    elif is_private(update) and await end_request(update, context):
        return
    else:
        await update.effective_message.reply_text(_("There's nothing to cancel: I'm not preparing an answer."))


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have: one line pointing to /help (in groups, only if it is ours)."""
    command = (update.effective_message.text or "").split(maxsplit=1)[0]
    name, _at, bot = command.partition("@")
    if not is_private(update) and bot.lower() != (context.bot.username or "").lower():
        return
    _ = texts_of(update, context)
    reply = _("I don't know {command}. /help lists what I can do.").format(command=name)
    await update.effective_message.reply_text(reply)


async def new_conversation(update: Update, context: BotContext) -> None:
    """/new: close the chat's conversation so the next question starts without memory."""
    await context.deps.storage.new_conversation(chat_key(update), user_key(update))
    _ = texts_of(update, context)
    await update.effective_message.reply_text(_("Fresh start: I won't use our earlier conversation. Ask away!"))


async def topics(update: Update, context: BotContext) -> None:
    """/topics: the knowledge base's topics and a few of the files under each."""
    covered = await asyncio.to_thread(context.deps.advisor.retriever.topics)
    _ = texts_of(update, context)
    lines = ["<b>" + escape(_("What I can help with")) + "</b>"]
    for topic, titles in covered.items():
        lines.append(f"\n<b>{escape(topic_name(_, topic))}</b>")
        lines += [f"• {escape(title)}" for title in titles[:8]]
    await update.effective_message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML)


async def language(update: Update, context: BotContext) -> None:
    """/language: the languages the bot speaks, as buttons; /language CODE chooses one directly.
    The choice is stored."""
    _ = texts_of(update, context)
    message = update.effective_message
    if context.args:
        code = supported(context.args[0])
        if code:
            await message.reply_text(await remember_language(update, context, code))
            return
        asked = context.args[0][:20]
        text = _("I don't speak “{code}” yet; choose one of these:").format(code=asked)
        await message.reply_text(text, reply_markup=languages())
        return
    text = _("Which language should I use? (Questions can be asked in any language.)")
    await message.reply_text(text, reply_markup=languages())


async def forget(update: Update, context: BotContext) -> None:
    """/forget: ask for confirmation before deleting the owner's data."""
    _ = texts_of(update, context)
    text = _("Delete all your questions, answers, feedback and profile? This cannot be undone.")
    if await context.deps.storage.document_ids(user_key(update)):
        text += "\n" + _("Your documents (/documents) are deleted too.")
    await update.effective_message.reply_text(text, reply_markup=forget_confirmation(_))


async def ask_command(update: Update, context: BotContext) -> None:
    """/ask QUESTION: a question, the explicit way (the way to ask in groups)."""
    question = " ".join(context.args or [])
    if not question.strip():
        _ = texts_of(update, context)
        await update.effective_message.reply_text(_("Usage: /ask QUESTION, e.g. /ask Should I sell cross-border?"))
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
    if is_private(update) and await handed_over(update, context, question):
        return  # a consultant has the owner's request: it goes to them
    await answer_question(update, context, question)


async def not_text(update: Update, context: BotContext) -> None:
    """Stickers, locations, videos and the like: one friendly line (voice notes and photos have
    their own module, `voice`)."""
    if addressed_to_bot(update, context.bot.username, context.bot.id):
        _ = texts_of(update, context)
        await update.effective_message.reply_text(_("I can only read text questions — please type yours."))


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
            ("language", language),
        )
    ),
    MessageHandler(MESSAGES & filters.TEXT & ~filters.COMMAND, text_message),
    MessageHandler(MESSAGES & ~filters.TEXT & ~filters.StatusUpdate.ALL, not_text),
]
FALLBACKS = [MessageHandler(MESSAGES & filters.COMMAND, unknown_command)]  # registered after every command
