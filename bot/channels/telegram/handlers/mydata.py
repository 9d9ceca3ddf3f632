"""/mydata: what the bot holds about an owner, as a JSON file to download, labelled in their
language: their profile, language and time zone, their questions with the answers (and their
ratings and comments), their documents (what was read, never the text), pending reminders and
check-ins, and the questions they asked to hear back on. The same things /forget deletes. Private
chats only: the file is the owner's own.
"""

from __future__ import annotations

import datetime as dt
import json

from telegram import Update
from telegram.ext import CommandHandler

from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, is_private, texts_of, user_key
from bot.locales import LANGUAGES, Translate
from bot.storage import TurnFilter

RATINGS = {"up": "👍", "down": "👎"}


async def my_data(update: Update, context: BotContext) -> None:
    """/mydata: the owner's data as `my-data.json`, sent in their private chat."""
    _ = texts_of(update, context)
    if not is_private(update):
        await update.effective_message.reply_text(_("Send /mydata in a private chat: your data is for you only."))
        return
    data = await owner_data(context, user_key(update), _)
    content = json.dumps(data, ensure_ascii=False, indent=2).encode()
    caption = _("Everything I hold about you, as a file. /forget deletes it all.")
    await update.effective_message.reply_document(content, filename="my-data.json", caption=caption)


async def owner_data(context: BotContext, owner: str, _: Translate) -> dict:
    """What storage holds about `owner`, keys in `_`'s language; times in UTC."""
    storage = context.deps.storage
    user = await storage.get_user(owner)
    turns = [turn async for turn in storage.stream_turns(TurnFilter(user=owner))]
    documents = await storage.documents_of(owner)
    reminders = await storage.pending_reminders(owner)
    profile = await storage.profile(owner)
    waiting = await storage.open_wishes(owner)
    return {
        _("Exported (UTC)"): _time(dt.datetime.now(dt.UTC)),
        _("First seen (UTC)"): _time(user.first_seen) if user else None,
        _("Language"): LANGUAGES.get(user.language or "", None) if user else None,
        _("Time zone"): user.timezone if user else None,
        _("Profile"): profile.shown(_),
        _("Questions and answers"): [
            {
                _("Asked (UTC)"): _time(turn.created_at),
                _("Question"): turn.question,
                _("Answer"): turn.answer,
                **({_("Your rating"): RATINGS.get(turn.feedback, turn.feedback)} if turn.feedback else {}),
                **({_("Your comments"): turn.comments} if turn.comments else {}),
            }
            for turn in turns
        ],
        _("Documents"): [
            {
                _("File"): document.file_name,
                _("Title"): document.title,
                _("Pages"): document.pages,
                _("Size (bytes)"): document.size_bytes,
                _("Sent (UTC)"): _time(document.created_at),
            }
            for document in documents
        ],
        _("Reminders"): [
            {
                _("Reminder"): reminder.text,
                _("Due (UTC)"): _time(reminder.due_at),
                **({_("Repeats"): reminder.every} if reminder.every else {}),
            }
            for reminder in reminders
        ],
        _("Quarterly check-in"): (user.checkin or None) if user else None,
        _("Waiting to hear back"): [
            {_("Question"): wish.question, _("Asked (UTC)"): _time(wish.asked_at)} for wish in waiting
        ],
    }


def _time(moment: dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else None


HANDLERS = [CommandHandler("mydata", my_data, filters=MESSAGES)]
