"""The team's commands. Consultants and admins: /stats, /gaps, /transcript (`consultant_only`);
admins alone (ADMIN_USER_IDS): /reload, /export, /allow, /block. /digest lives with the daily
digest (`digest`), /queue and /myname with the desk (`desk`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler

from bot.channels.telegram.admin_texts import gaps_text, html_messages, stats_text, turn_block
from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers import teach
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, BotDeps, admin_only, consultant_only
from bot.channels.telegram.handlers.documents import documents_line
from bot.storage import TurnFilter


@consultant_only
async def stats(update: Update, context: BotContext) -> None:
    """/stats: the last 30 days in a few lines."""
    from bot.review.stats import compute_stats

    since = _days_ago(30)
    result = await compute_stats(context.deps.storage, TurnFilter(since=since))
    extra = [await _voice_line(context.deps, since), _index_line(context.deps)]
    await update.effective_message.reply_html(stats_text(result, 30, extra))


async def _voice_line(deps: BotDeps, since: dt.datetime) -> str:
    """Voice notes nobody answered: speech-to-text off (STT_MODEL unset), or failed."""
    events = await deps.storage.count_events(since)
    line = f"Voice notes unanswered: {events.get('voice_unanswered', 0)}"
    if deps.speech is None:
        line += " (speech-to-text is off: set STT_MODEL)"
    if events.get("voice_failed"):
        line += f"; not transcribed (faults, limits): {events['voice_failed']}"
    return line


def _index_line(deps: BotDeps) -> str:
    """What the bot answers from: the live local version, or a Chroma server (CHROMA_URL), which
    has no versions; its count is read live and can include, during an ingest, a file's two versions."""
    manifest = deps.reloader.manifest if deps.reloader else None
    if manifest is None:
        where = " (Chroma server)" if deps.settings.chroma_url else ""
        return f"Index: {deps.advisor.retriever.index.count()} chunks{where}"
    return (
        f"Index: version {manifest.version}, {manifest.files} files, {manifest.chunks} chunks, "
        f"built {manifest.built_at.replace('T', ' ').removesuffix('+00:00')} UTC"
    )


@admin_only
async def reload(update: Update, context: BotContext) -> None:
    """/reload: answer from the newest ingested knowledge now (the bot also checks every few seconds)."""
    deps = context.deps
    if deps.reloader is None:
        await update.effective_message.reply_html("The index is on a Chroma server; answers always use its content.")
        return
    swapped = await asyncio.to_thread(deps.reloader.check)
    state = "Reloaded." if swapped else "Already up to date."
    await update.effective_message.reply_html(f"{state} {escape(_index_line(deps))}")


@consultant_only
async def gaps(update: Update, context: BotContext) -> None:
    """/gaps: the biggest knowledge gaps of the last 30 days."""
    from bot.review.gaps import find_gaps

    deps = context.deps
    themes = await find_gaps(
        deps.storage, deps.advisor.retriever, deps.settings.min_score, TurnFilter(since=_days_ago(30))
    )
    buttons = teach.gap_buttons(themes[:8])  # "✍️ Answer this: N": a draft with the gap's questions
    await update.effective_message.reply_html(
        gaps_text(themes, 30, shown=8), reply_markup=InlineKeyboardMarkup(buttons) if buttons else None
    )


@consultant_only
async def transcript(update: Update, context: BotContext) -> None:
    """/transcript OWNER [N]: an owner's last N turns (default 5), with their 👎 comments. OWNER is
    a Telegram user id, tg:ID or @username."""
    args = context.args or []
    if not args or not OWNER_ARGUMENT.fullmatch(args[0]) or (len(args) > 1 and not args[1].isdigit()):
        await update.effective_message.reply_html(TRANSCRIPT_USAGE)
        return
    user = await _owner_key(context, args[0])
    if user is None:
        await update.effective_message.reply_html(f"No owner {escape(args[0])} is stored.")
        return
    count = min(int(args[1]) if len(args) > 1 else 5, 20)
    turns = await context.deps.storage.list_turns(TurnFilter(user=user), limit=count)
    if not turns:
        await update.effective_message.reply_html(f"No stored turns for {escape(args[0])} ({escape(user)}).")
        return
    blocks = [turn_block(turn) for turn in reversed(turns)]
    if owned := await context.deps.storage.documents_of(user):
        blocks.insert(0, escape(documents_line(owned)))
    for piece in html_messages(blocks):
        await update.effective_message.reply_html(piece)


TRANSCRIPT_USAGE = "Usage: <code>/transcript USER_ID [N]</code>, USER_ID as 123456789, tg:123456789 or @username"
OWNER_ARGUMENT = re.compile(r"(tg:)?-?\d+|@\w{1,64}")


async def _owner_key(context: BotContext, given: str) -> str | None:
    """'123', 'tg:123' or '@name' as the owner's stored key (tg:123); None for an unknown @name."""
    if given.startswith("@"):
        return await context.deps.storage.user_by_username(given[1:])
    return f"tg:{given.removeprefix('tg:')}"


@admin_only
async def export(update: Update, context: BotContext) -> None:
    """/export [days]: the last N days of turns as a CSV file (default 7)."""
    from bot.review.export import write_turns

    args = context.args or []
    if args and not args[0].isdigit():
        await update.effective_message.reply_html("Usage: <code>/export [days]</code>, e.g. /export 30")
        return
    days = int(args[0]) if args else 7
    buffer = io.StringIO()
    count = await write_turns(context.deps.storage.stream_turns(TurnFilter(since=_days_ago(days))), buffer, "csv")
    await context.bot.send_document(
        update.effective_chat.id,
        document=buffer.getvalue().encode("utf-8"),
        filename=f"sme-advisor-turns-{days}d.csv",
        caption=f"{count} turns from the last {days} days.",
        parse_mode=ParseMode.HTML,
    )


@admin_only
async def allow(update: Update, context: BotContext) -> None:
    """/allow USER_ID: give a user access (and lift a block)."""
    user_id = await _user_id_argument(update, context, "allow")
    if user_id is None:
        return
    deps = context.deps
    await deps.access.allow(user_id)
    await update.effective_message.reply_html(f"User {user_id} may now use the advisor.")


@admin_only
async def block(update: Update, context: BotContext) -> None:
    """/block USER_ID: shut a user out, at once."""
    user_id = await _user_id_argument(update, context, "block")
    if user_id is None:
        return
    deps = context.deps
    if deps.access.is_admin(user_id):
        await update.effective_message.reply_html("Admins cannot be blocked; remove them from ADMIN_USER_IDS first.")
        return
    await deps.access.block(user_id)
    await update.effective_message.reply_html(f"User {user_id} is blocked.")


async def _user_id_argument(update: Update, context: BotContext, command: str) -> int | None:
    """The one USER_ID argument of /allow and /block, or None once the admin has the usage hint."""
    args = context.args or []
    if len(args) != 1 or not args[0].isdigit():
        await update.effective_message.reply_html(f"Usage: <code>/{command} USER_ID</code>, e.g. /{command} 123456789")
        return None
    return int(args[0])


def _days_ago(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days)


HANDLERS = [
    CommandHandler(name, callback, filters=MESSAGES)
    for name, callback in (
        ("stats", stats),
        ("reload", reload),
        ("gaps", gaps),
        ("transcript", transcript),
        ("export", export),
        ("allow", allow),
        ("block", block),
    )
]
