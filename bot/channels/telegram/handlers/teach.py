"""Consultants teach the advisor from the admin chat: a reply to a hand-over, or an answer to a
knowledge gap, becomes a draft knowledge entry, edited by replying to it, then published
(`teach_publish`) or discarded.

- "📚 Save as knowledge" (`teach:save:<hand-over>`), under the "✓ Sent" of a consultant's reply
  and on a resolved card: the owner's question(s) as the ways of asking, the consultants'
  replies as the answer, owner details removed (`bot.knowledge.answers.redact`). One draft
  per hand-over at a time: a second tap shows the draft being written.
- "✍️ Answer this" (`teach:gap:<turn ids>`), under /gaps and the digest's gaps: a prompt to
  reply to with the answer; the gap's owner questions are the ways of asking.
- A reply to a draft (a message starting "📝 Draft #N") edits it: "Q:" lines first replace
  the questions, the rest replaces the answer; the draft is posted again.

The draft lives in the database (`drafts`), so a restart or another worker continues it. This
module only shows buttons and collects text; writing the file and publishing are
`bot.knowledge` and `bot.advisor.guard`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.advisor import guard
from bot.channels.telegram import admin_chat
from bot.channels.telegram.formatting import MESSAGE_LIMIT, escape, shortened, to_html
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext
from bot.knowledge.answers import ANSWERS_FOLDER, one_question, redact, redact_all, render_entry, slug
from bot.knowledge.lint import lint_entry
from bot.storage import TurnFilter
from bot.storage.models import Draft

log = logging.getLogger(__name__)

DRAFT_HEADING = re.compile(r"📝 Draft #(\d+)\b")
QUESTION_SHOWN, QUESTIONS_SHOWN = 300, 1200  # characters of one way of asking, and of all, in a draft
GAP_DATA = 64 - len("teach:gap:")  # callback data is at most 64 bytes
EDIT_HINT = (
    "To edit, reply to this message: your text replaces the answer; lines starting with “Q:” "
    "at the top replace the questions (one per line)."
)


def save_button(handover_id: int) -> InlineKeyboardMarkup:
    """ "📚 Save as knowledge" for a hand-over's exchange."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("📚 Save as knowledge", callback_data=f"teach:save:{handover_id}")]]
    )


def gap_button(turn_ids: list[int], label: str = "✍️ Answer this") -> InlineKeyboardButton:
    """ "✍️ Answer this" for a gap, by the turns of its theme (as many as fit in the button)."""
    ids = ""
    for turn in turn_ids:
        more = f"{ids}-{turn}" if ids else str(turn)
        if len(more) > GAP_DATA:
            break
        ids = more
    return InlineKeyboardButton(label, callback_data=f"teach:gap:{ids}")


def gap_buttons(themes) -> list[list[InlineKeyboardButton]]:
    """One "✍️ Answer this" row per gap theme that has turns (numbered as the list shows them)."""
    return [
        [gap_button(theme.turn_ids, f"✍️ Answer this: {number}")]
        for number, theme in enumerate(themes, start=1)
        if theme.turn_ids
    ]


def draft_text(draft: Draft, note: str | None = None) -> str:
    """The draft as Telegram HTML, the way the entry will read (its ways of asking, its answer,
    who wrote it), what was removed as owner details, what the linter would say, and how to edit
    it. Not the file's raw Markdown: consultants read drafts like answers."""
    where = f"{ANSWERS_FOLDER}/{slug(draft.questions[0])}.md" if draft.questions else ANSWERS_FOLDER
    head = [f"📝 <b>Draft #{draft.id}</b> — <code>{escape(where)}</code> (not published yet)"]
    if note:
        head.append(escape(note))
    removed = ", ".join(draft.removed)
    head.append(
        escape(f"Removed as owner details: {removed} — check." if removed else "No owner details found — check.")
    )
    body = [f"<b>Ways owners ask it</b>\n{_listed(draft.questions)}"]
    if draft.questions and draft.answer.strip():
        entry = render_entry(
            questions=draft.questions, answer=draft.answer, author=draft.author, date=dt.datetime.now(dt.UTC).date()
        )
        head += [escape(f"⚠️ {f.message} ({f.check})") for f in lint_entry(entry, where)]
        room = MESSAGE_LIMIT - sum(len(h) + 2 for h in head) - len(body[0]) - len(EDIT_HINT) - 400
        body.append(
            f"<b>Answer</b> (by {escape(draft.author)}; source: consultant)\n{to_html(shortened(draft.answer, room))}"
        )
    else:
        body.append("(no answer yet)")
    return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n\n" + escape(EDIT_HINT)


def _listed(questions: list[str], mark=escape) -> str:
    """The ways of asking as bullets (HTML; `mark=str`: plain text), each and all shortened so the
    answer keeps its room (the file gets them in full)."""
    lines: list[str] = []
    for number, question in enumerate(questions):
        if sum(len(line) for line in lines) > QUESTIONS_SHOWN:
            lines.append(mark(f"…and {len(questions) - number} more"))
            break
        lines.append(f"• {mark(shortened(question, QUESTION_SHOWN))}")
    return "\n".join(lines) or "(none yet)"


def draft_buttons(draft: Draft) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Publish", callback_data=f"teach:publish:{draft.id}"),
                InlineKeyboardButton("🗑 Discard", callback_data=f"teach:discard:{draft.id}"),
            ]
        ]
    )


async def post_draft(context: BotContext, chat_id: int, draft: Draft, note: str | None = None) -> Message:
    return await context.bot.send_message(
        chat_id, draft_text(draft, note), parse_mode=ParseMode.HTML, reply_markup=draft_buttons(draft)
    )


def warm_the_guard(context: BotContext) -> None:
    """While the consultant reads and edits the draft: the eval questions embedded for the guard
    (once per process), so Publish waits only for the ingest."""
    if not context.bot_data.get("guard_warm"):
        context.bot_data["guard_warm"] = True
        context.application.create_task(asyncio.to_thread(guard.warm_up, context.deps.advisor), name="guard-warm-up")


async def save_as_knowledge(update: Update, context: BotContext) -> None:
    """ "📚 Save as knowledge": the hand-over's exchange as a draft."""
    query, deps = update.callback_query, context.deps
    if not admin_chat.is_consultant(deps.settings, update):
        await query.answer("Not permitted.")
        return
    handover = await deps.storage.get_handover(int(query.data.rsplit(":", 1)[1]))
    if handover is None:
        await query.answer("This request is gone (the owner deleted their data).")
        return
    drafting = await deps.storage.open_draft_of(handover.id)
    if drafting is not None:  # a second tap (or a second consultant): one draft of one exchange
        await query.answer()
        await post_draft(context, update.effective_chat.id, drafting, note="This exchange is drafted already:")
        return
    turns = await deps.storage.list_turns(TurnFilter(user=handover.user_id, since=handover.created_at), limit=None)
    replies = sorted((t for t in turns if t.mode == "human" and t.answered_by), key=lambda t: t.id)
    if not replies:
        await query.answer("No consultant's reply to save yet: reply to the card first.")
        return
    asked = [handover.request]
    first = await deps.storage.get_turn(handover.turn_id) if handover.turn_id else None
    if first is not None:
        asked.append(first.question)
    asked += [t.question for t in replies if t.question.rstrip().endswith("?")]
    answer = "\n\n".join(t.answer for t in replies if not t.answer.startswith("["))  # not "[photo] …"
    user = await deps.storage.get_user(handover.user_id)
    names = [n for n in ((user.display_name, user.username) if user else ()) if n]
    questions, answer, removed = redact_all(_distinct(asked), answer, names)
    await query.answer()
    draft = await deps.storage.create_draft(
        kind="reply",
        handover_id=handover.id,
        questions=questions,
        answer=answer,
        removed=list(removed),
        author=_author(update),
        author_id=update.effective_user.id,
        chat_id=update.effective_chat.id,
    )
    await post_draft(context, update.effective_chat.id, draft)
    warm_the_guard(context)


async def answer_gap(update: Update, context: BotContext) -> None:
    """ "✍️ Answer this" under a gap: a draft of its owner questions, waiting for the answer."""
    query, deps = update.callback_query, context.deps
    if not admin_chat.is_consultant(deps.settings, update):
        await query.answer("Not permitted.")
        return
    turns = [await deps.storage.get_turn(int(n)) for n in query.data.rsplit(":", 1)[1].split("-")]
    turns = [t for t in turns if t is not None]
    if not turns:
        await query.answer("Those questions are no longer stored.")
        return
    names: list[str] = []
    for owner in {t.user_id for t in turns}:
        user = await deps.storage.get_user(owner)
        names += [n for n in ((user.display_name, user.username) if user else ()) if n]
    questions, _answer, removed = redact_all(_distinct([t.question for t in turns]), "", names)
    await query.answer()
    draft = await deps.storage.create_draft(
        kind="gap",
        gap_turn_id=turns[0].id,
        questions=questions,
        answer="",
        removed=list(removed),
        author=_author(update),
        author_id=update.effective_user.id,
        chat_id=update.effective_chat.id,
        status="awaiting",
    )
    warm_the_guard(context)
    await context.bot.send_message(
        update.effective_chat.id,
        f"📝 Draft #{draft.id}: reply to this message with the answer owners should get. "
        f"Asked:\n{_listed(questions, mark=str)}",
        reply_markup=ForceReply(selective=True, input_field_placeholder="The answer for every owner"),
    )


class _RepliesToDraft(filters.MessageFilter):
    """A reply to one of the bot's draft messages (it starts with "📝 Draft #N")."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        mine = replied is not None and replied.from_user is not None and replied.from_user.is_bot
        return mine and DRAFT_HEADING.match(re.sub(r"<[^>]+>", "", replied.text or "")) is not None


async def draft_reply(update: Update, context: BotContext) -> None:
    """A consultant's reply to a draft: "Q:" lines replace the questions, the rest the answer."""
    deps, message = context.deps, update.effective_message
    if not admin_chat.is_consultant(deps.settings, update):
        return  # an owner replying to something quoted: nothing to do with drafts
    number = int(DRAFT_HEADING.match(re.sub(r"<[^>]+>", "", message.reply_to_message.text)).group(1))
    draft = await deps.storage.get_draft(number)
    if draft is None or draft.status not in ("awaiting", "draft", "held"):
        state = draft.status if draft else "gone"
        await message.reply_text(f"Draft #{number} is {state}; nothing was changed.")
        return
    questions, answer = parse_edit(message.text)
    empty = [q for q in questions if not one_question(q)]  # "Q: ###": no heading could be made of it
    questions = [q for q in questions if one_question(q)]
    values: dict = {}
    removed = list(draft.removed)
    if questions:
        cleaned = [redact(q) for q in questions]
        values["questions"] = [c.text for c in cleaned]
        removed += [kind for c in cleaned for kind in c.removed]
    if answer:
        cleaned = redact(answer)
        values["answer"] = cleaned.text
        removed += list(cleaned.removed)
    ignored = f" Not questions (no words in them), ignored: {', '.join(f'“{q}”' for q in empty)}." if empty else ""
    if not values:
        await message.reply_text(
            f"Nothing to change in draft #{number}: reply with the answer, or “Q:” lines.{ignored}"
        )
        return
    values["removed"] = list(dict.fromkeys(removed))
    edited = await deps.storage.edit_draft(number, **values)
    if edited is None:
        await message.reply_text(f"Draft #{number} was published or discarded meanwhile; nothing was changed.")
        return
    await post_draft(context, message.chat_id, edited, note=f"Edited by {update.effective_user.full_name}.{ignored}")


def parse_edit(text: str) -> tuple[list[str], str]:
    """A reply to a draft: the "Q:" lines at its top (the questions) and the rest (the answer)."""
    lines = text.strip().split("\n")
    questions: list[str] = []
    while lines and re.match(r"^\s*Q\s*:", lines[0], re.IGNORECASE):
        question = lines.pop(0).split(":", 1)[1].strip()
        if question:
            questions.append(question)
    return questions, "\n".join(lines).strip()


def _author(update: Update) -> str:
    return update.effective_user.full_name


def _distinct(texts: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for text in texts:
        text = " ".join(text.split())
        if text:
            seen.setdefault(text.casefold(), text)
    return list(seen.values())


HANDLERS = [
    MessageHandler(MESSAGES & filters.REPLY & filters.TEXT & ~filters.COMMAND & _RepliesToDraft(), draft_reply),
    CallbackQueryHandler(save_as_knowledge, pattern=r"^teach:save:\d+$"),
    CallbackQueryHandler(answer_gap, pattern=r"^teach:gap:\d+(-\d+)*$"),
]
