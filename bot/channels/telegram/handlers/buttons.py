"""The buttons under messages: example questions, 👍/👎 (and the comment after 👎), Sources (a
passage of the owner's own document read from their store), next questions, /forget's
confirmation and /language's choice. Callback data is checked by each handler's pattern."""

from __future__ import annotations

import asyncio
import logging

from telegram import ForceReply, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler

from bot.channels.telegram.cards import stored_label
from bot.channels.telegram.formatting import MESSAGE_LIMIT, escape
from bot.channels.telegram.handlers.deps import BotContext, acknowledge, chat_key, texts_of, user_key
from bot.channels.telegram.handlers.keyboards import EXAMPLE_QUESTIONS, consultant_button
from bot.channels.telegram.handlers.streaming import answer_question
from bot.locales import DEFAULT, LANGUAGES, N_, Translate, supported, texts
from bot.storage import AudioFolder

log = logging.getLogger(__name__)


async def example_question(update: Update, context: BotContext) -> None:
    """A tap on one of /start's example buttons asks that question."""
    query = update.callback_query
    await acknowledge(update)
    index = int(query.data.split(":", 1)[1])
    if 0 <= index < len(EXAMPLE_QUESTIONS):  # asked in the owner's language, as the button showed it
        await answer_question(update, context, texts_of(update, context)(EXAMPLE_QUESTIONS[index]))


async def next_question(update: Update, context: BotContext) -> None:
    """A suggested next question under an answer: asks it, answered in the language of that
    answer (the question may be the knowledge's English heading)."""
    query = update.callback_query
    _kind, turn_id, *language, number = query.data.split(":")
    if not await from_this_chat(update, context, int(turn_id)):
        return
    await acknowledge(update)
    turn = await context.deps.storage.get_turn(int(turn_id))
    questions = turn.follow_ups if turn is not None else []
    if int(number) < len(questions):
        answer_in = supported(language[0]) if language else None  # older buttons: the question's language
        await answer_question(update, context, questions[int(number)], answer_in=answer_in)


async def feedback(update: Update, context: BotContext) -> None:
    """👍 or 👎 under an answer; after 👎 ask what was missing."""
    query = update.callback_query
    _kind, rating, turn = query.data.split(":")
    deps = context.deps
    _ = texts_of(update, context)
    if not await from_this_chat(update, context, int(turn)):
        return
    if not await deps.storage.record_feedback(int(turn), user_key(update), rating):
        await query.answer(_(DELETED))
        return
    if rating == "up":
        await query.answer(_("Thanks for the feedback!"))
        return
    await query.answer(_("Thanks — sorry it didn't help."))
    await _offer_a_consultant(update, int(turn), _)
    prompt = await context.bot.send_message(
        update.effective_chat.id,
        _("What was missing or wrong? Reply to this message and a consultant will read it."),
        reply_markup=ForceReply(selective=True, input_field_placeholder=_("What was missing?")),
    )
    await deps.storage.add_comment_prompt(prompt.chat_id, prompt.message_id, int(turn), user_key(update))


async def _offer_a_consultant(update: Update, turn_id: int, _) -> None:
    """After a 👎 in a private chat, the answer's buttons get a "Talk to a consultant" row."""
    message = update.callback_query.message
    if update.effective_chat.type != "private" or message is None or message.reply_markup is None:
        return
    rows = [list(row) for row in message.reply_markup.inline_keyboard]
    if any(b.callback_data == f"human:{turn_id}" for row in rows for b in row):
        return
    try:
        await update.callback_query.edit_message_reply_markup(
            InlineKeyboardMarkup([*rows, consultant_button(turn_id, _)])
        )
    except TelegramError as exc:  # the button is a courtesy: the comment prompt still comes
        log.info("could not add the consultant button under turn %s: %s", turn_id, exc)


async def store_comment(update: Update, context: BotContext) -> bool:
    """A reply to the bot's "what was missing?" prompt is the owner's comment on their 👎."""
    message = update.effective_message
    replied = message.reply_to_message
    if replied is None or not replied.from_user or replied.from_user.id != context.bot.id:
        return False
    storage = context.deps.storage
    turn_id = await storage.take_comment_prompt(message.chat_id, replied.message_id, user_key(update))
    if turn_id is None:
        return False
    await storage.add_feedback_comment(turn_id, user_key(update), message.text)
    _ = texts_of(update, context)
    await message.reply_text(_("Thank you — that helps us improve the answers."))
    return True


async def show_sources(update: Update, context: BotContext) -> None:
    """The 'Sources' button: the cited passages' excerpts."""
    query = update.callback_query
    turn_id = int(query.data.split(":")[1])
    if not await from_this_chat(update, context, turn_id):
        return
    await query.answer()
    turn = await context.deps.storage.get_turn(turn_id)
    _ = texts_of(update, context)
    if turn is None or not turn.sources:
        gone = _("Those sources are no longer stored.")
        await context.bot.send_message(update.effective_chat.id, gone)
        return
    text = ""
    for source in turn.sources:
        parts = [p for p in source["heading"].split(" > ") if p and p != source["title"]]
        label = f"{source['title']} › {parts[-1]}" if parts else source["title"]
        excerpt = source.get("excerpt") or await document_excerpt(context, user_key(update), source, _)
        block = f"<b>[{stored_label(source)}] {escape(label)}</b>\n{escape(excerpt)}"
        if len(text) + len(block) + 2 > MESSAGE_LIMIT:
            break  # whole blocks only: a cut tag would make Telegram refuse the message
        text = f"{text}\n\n{block}" if text else block
    await context.bot.send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML)


DELETED = N_("This conversation was deleted, so it can no longer be rated.")


async def from_this_chat(update: Update, context: BotContext, turn_id: int) -> bool:
    """Buttons act only on answers given in the chat they are pressed in: callback data can be
    forged, and a turn id is easy to guess. A turn that is gone says so."""
    chat = await context.deps.storage.turn_chat(turn_id)
    if chat == chat_key(update):
        return True
    _ = texts_of(update, context)
    await update.callback_query.answer(_(DELETED) if chat is None else _("That answer is not from this chat."))
    return False


async def forget_documents(context: BotContext, owner: str) -> int:
    """/forget's part: every passage of the owner's documents (how many documents they had). A
    store that fails is logged: the rows go with the rest, which already stops every search,
    and the daily sweep removes the passages."""
    count = len(await context.deps.storage.document_ids(owner))
    try:
        await asyncio.to_thread(context.deps.advisor.owner_documents.delete, owner)
    except Exception:
        log.exception("could not delete the document passages of %s; the daily sweep will", owner)
    return count


async def document_excerpt(context: BotContext, owner: str, source: dict, _: Translate) -> str:
    """A cited passage of the owner's own document, read from their store for the Sources button
    (only theirs: `owner` is who pressed it); "" for a knowledge source."""
    if source.get("kind") != "document":
        return ""
    document = int(source["path"].removeprefix("doc:"))
    store = context.deps.advisor.owner_documents
    text = await asyncio.to_thread(store.passage, owner, document, int(source.get("chunk", 0)))
    if text is None:
        return _(GONE)
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rsplit(" ", 1)[0] + "…"


EXCERPT = 600  # characters of a passage the Sources button shows


GONE = N_("That document is no longer stored.")


async def forget_confirmed(update: Update, context: BotContext) -> None:
    query = update.callback_query
    await query.answer()
    _ = texts_of(update, context)
    if query.data != "forget:yes":
        await query.edit_message_text(_("Nothing was deleted."))
        return
    documents = await forget_documents(context, user_key(update))  # their passages first, then the rows
    counts = await context.deps.storage.forget(user_key(update))
    AudioFolder.under(context.deps.settings.data_dir).forget(user_key(update))  # voice notes kept (STORE_AUDIO)
    done = _("Done: deleted {count} questions and answers, your feedback and profile.").format(count=counts["turns"])
    if documents:
        done += "\n" + _("Your documents are deleted too ({count}).").format(count=documents)
    await query.edit_message_text(done)


async def language_chosen(update: Update, context: BotContext) -> None:
    """A tap on /language's buttons: speak that language from now on (stored)."""
    query = update.callback_query
    code = supported(query.data.split(":", 1)[1]) or DEFAULT
    await query.answer()
    await query.edit_message_text(await remember_language(update, context, code))


async def remember_language(update: Update, context: BotContext, code: str) -> str:
    """Store the owner's choice of language (used from the next message on) and say so in it."""
    await context.deps.storage.set_language(user_key(update), code)
    context.user_data["language"] = code
    _ = texts(code)  # said in the new language (`_`, so that the text is extracted for translators)
    return _("From now on I'll speak {language}.").format(language=LANGUAGES[code])


HANDLERS = [
    CallbackQueryHandler(example_question, pattern=r"^ask:\d+$"),
    CallbackQueryHandler(feedback, pattern=r"^fb:(up|down):\d+$"),
    CallbackQueryHandler(show_sources, pattern=r"^src:\d+$"),
    CallbackQueryHandler(forget_confirmed, pattern=r"^forget:(yes|no)$"),
    CallbackQueryHandler(next_question, pattern=r"^next:\d+:(?:[a-z]{2}:)?\d$"),
    CallbackQueryHandler(language_chosen, pattern=r"^lang:[a-z-]{2,8}$"),
]
