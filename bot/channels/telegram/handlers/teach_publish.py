"""Publishing a consultant's draft, or discarding it, and `/rollback`.

Publish (`teach:publish:<draft>`) writes the entry and runs the ordinary versioned ingest, with
the eval's guard (`bot.advisor.guard.publish_entry`), in a thread: the bot keeps answering
meanwhile, and one publish or rollback runs at a time in this process (the ingest's file lock
keeps other processes in line). The bot then follows the new version at once, so the next
owner's question finds the entry. A held publish shows why, with "Publish anyway"
(`teach:force:<draft>`) and "Edit" (`teach:edit:<draft>`).

Who may publish: admins, and consultants unless CONSULTANTS_MAY_PUBLISH is false. `/rollback`
is for admins only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.advisor.guard import publish_entry
from bot.channels.telegram import admin_chat
from bot.channels.telegram.handlers import hear_back
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, admin_only
from bot.channels.telegram.handlers.teach import post_draft
from bot.storage.models import Draft

log = logging.getLogger(__name__)

NOT_ALLOWED = "Only an admin may publish here — ask one, or set CONSULTANTS_MAY_PUBLISH."


async def announce_published(context: BotContext, path: str) -> None:
    """An entry was published at `path` (relative to KNOWLEDGE_DIR): owners who asked to hear
    back and whose question it now answers are told, in the background (re-asking every open
    wish takes a moment per wish; the consultant's confirmation does not wait for it)."""
    log.info("published knowledge entry %s; telling owners who asked to hear back", path)
    context.application.create_task(_tell(context, path), name=f"hear back: {path}")


async def _tell(context: BotContext, path: str) -> None:
    try:
        told = await hear_back.tell_waiting_owners(context, path)
    except Exception:  # optional: the entry is live whether or not the owners could be told now
        log.exception("could not tell waiting owners about %s (their wishes stay open)", path)
        return
    log.info("%d owner(s) told about %s", told, path)


def _one_at_a_time(context: BotContext) -> asyncio.Lock:
    """Publishes and rollbacks of this process, in turn (the ingest's file lock orders processes)."""
    return context.application.bot_data.setdefault("teach_lock", asyncio.Lock())


def may_publish(update: Update, context: BotContext) -> bool:
    deps = context.deps
    if deps.access.is_admin(update.effective_user.id):
        return True
    return deps.settings.consultants_may_publish and admin_chat.is_consultant(deps.settings, update)


async def draft_button(update: Update, context: BotContext) -> None:
    """Publish / Publish anyway / Edit / Discard, pressed under a draft."""
    query, deps = update.callback_query, context.deps
    if not admin_chat.is_consultant(deps.settings, update):
        await query.answer("Not permitted.")
        return
    _kind, action, number = query.data.split(":")
    draft = await deps.storage.get_draft(int(number))
    if draft is None:
        await query.answer("That draft is no longer stored.")
        return
    if action in ("publish", "force") and not may_publish(update, context):
        await query.answer(NOT_ALLOWED, show_alert=True)
        await context.bot.send_message(update.effective_chat.id, f"Draft #{draft.id} was not published. {NOT_ALLOWED}")
        return
    await {"publish": _publish, "force": _publish, "edit": _edit, "discard": _discard}[action](
        update, context, draft, action == "force"
    )


async def _publish(update: Update, context: BotContext, draft: Draft, force: bool) -> None:
    deps, query, chat = context.deps, update.callback_query, update.effective_chat.id
    if not draft.questions or not draft.answer.strip():
        await query.answer("The draft has no answer yet: reply to it with the answer first.", show_alert=True)
        return
    if not await deps.storage.move_draft(draft.id, ("held", "draft") if force else ("draft",), "publishing"):
        current = await deps.storage.get_draft(draft.id)
        await query.answer(f"Draft #{draft.id} is {current.status if current else 'gone'}; not published again.")
        return
    await query.answer("Publishing…")
    await context.bot.send_message(chat, f"⏳ Publishing draft #{draft.id}: a new index version, checked by the eval…")
    options = {"questions": draft.questions, "answer": draft.answer, "author": draft.author, "force": force}
    try:
        async with _one_at_a_time(context):
            done = await asyncio.to_thread(publish_entry, deps.advisor, date=dt.datetime.now(dt.UTC).date(), **options)
            if done.path is not None and deps.reloader is not None:
                await asyncio.to_thread(deps.reloader.check)  # live now, not at the next periodic check
    except Exception as exc:
        log.exception("publishing draft %s failed", draft.id)
        await deps.storage.move_draft(draft.id, ("publishing",), "draft")
        await context.bot.send_message(
            chat, f"Could not publish draft #{draft.id}: {exc}. The draft is kept; try again."
        )
        return
    if done.path is None:
        await deps.storage.move_draft(draft.id, ("publishing",), "held")
        lines = [done.report.line(), *done.report.details()]
        lines.append("Nothing went live. Publish anyway, or edit the draft (reply to it) and publish again.")
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("⚠️ Publish anyway", callback_data=f"teach:force:{draft.id}"),
                    InlineKeyboardButton("✏️ Edit", callback_data=f"teach:edit:{draft.id}"),
                ]
            ]
        )
        await context.bot.send_message(chat, f"Draft #{draft.id}: " + "\n".join(lines), reply_markup=buttons)
        return
    await deps.storage.move_draft(draft.id, ("publishing",), "published", path=done.path)
    checked = f" The eval checked {len(done.report.checked)} nearby questions: none displaced." if not force else ""
    await context.bot.send_message(
        chat,
        f"📚 Published draft #{draft.id} as {done.path} (index version {done.version} is live).{checked}\n"
        "/rollback takes it back.",
    )
    await announce_published(context, done.path)


async def _edit(update: Update, context: BotContext, draft: Draft, _force: bool) -> None:
    """ "Edit" under a held publish: the draft again, to reply to."""
    await update.callback_query.answer()
    await post_draft(context, update.effective_chat.id, draft, note="Held by the eval: edit it, then Publish.")


async def _discard(update: Update, context: BotContext, draft: Draft, _force: bool) -> None:
    deps = context.deps
    if not await deps.storage.move_draft(draft.id, ("awaiting", "draft", "held"), "discarded"):
        await update.callback_query.answer(f"Draft #{draft.id} is {draft.status}; it stays so.")
        return
    await update.callback_query.answer("Discarded.")
    by = update.effective_user.full_name
    await context.bot.send_message(
        update.effective_chat.id, f"🗑 Draft #{draft.id} discarded by {by}; nothing was published."
    )


@admin_only
async def rollback(update: Update, context: BotContext) -> None:
    """/rollback: the previous index version live again; a consultant's entry it had added is moved
    out of the knowledge folder's reach (answers/.rolled-back/), its draft marked rolled back."""
    from bot.knowledge.rollback import NoEarlierVersion, roll_back

    deps, message = context.deps, update.effective_message
    try:
        async with _one_at_a_time(context):
            done = await asyncio.to_thread(roll_back, deps.settings)
            if deps.reloader is not None:
                await asyncio.to_thread(deps.reloader.check)
    except NoEarlierVersion as exc:
        await message.reply_text(f"Nothing rolled back: {exc}.")
        return
    for draft in await deps.storage.published_drafts(done.moved):
        await deps.storage.move_draft(draft.id, ("published",), "rolled_back")
    await message.reply_text(done.describe())


HANDLERS = [
    CommandHandler("rollback", rollback, filters=MESSAGES),
    CallbackQueryHandler(draft_button, pattern=r"^teach:(publish|force|edit|discard):\d+$"),
]
