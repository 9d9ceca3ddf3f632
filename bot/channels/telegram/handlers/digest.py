"""The daily digest in the admin chat (DIGEST_TIME, UTC), /digest to get it now, and the "Open"
buttons under its 👎 comments. On DIGEST_SUGGESTIONS_WEEKDAY (the scheduled digest's day, or
today for /digest) it adds "Suggestions this week": the top of `python -m bot suggest`.

The time it last went out is stored (`bot_state`), and claimed before sending: after a restart
the digest is neither repeated nor skipped, and of several webhook workers exactly one sends it.
A digest no admin chat got because Telegram could not be reached (after the sends' own retries)
gives its claim back, so the next check, a minute later, tries again; one every chat refused
(the bot blocked, a wrong chat id) is not retried.
"""

from __future__ import annotations

import datetime as dt
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.channels.telegram import admin_chat
from bot.channels.telegram.admin_texts import turn_block
from bot.channels.telegram.cards import one_line
from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers import teach
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, consultant_only
from bot.review.digest import Digest, compute_digest, suggestions_due
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

SENT_KEY = "digest_sent"  # bot_state: the digest slot (ISO time) last sent
COMMENTS_SHOWN = 5
QUOTE = 120  # characters of a comment or question the digest quotes


def due_slot(now: dt.datetime, at: str, last: str | None) -> dt.datetime | None:
    """The digest time that has come and not been sent yet (None: nothing due). `at` is HH:MM."""
    hour, minute = (int(part) for part in at.split(":"))
    slot = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if slot > now:
        slot -= dt.timedelta(days=1)
    return None if last is not None and last >= slot.isoformat() else slot


async def send_when_due(context: BotContext) -> None:
    """Repeating job: send the digest once its time has come, if no process has sent it yet. The
    very first time, the clock just starts: the first digest goes at the next DIGEST_TIME."""
    deps = context.deps
    last = await deps.storage.get_state(SENT_KEY)
    slot = due_slot(utcnow(), deps.settings.digest_time, last)
    if slot is None or not await deps.storage.claim_state(SENT_KEY, last, slot.isoformat()):
        return
    if last is None:
        return
    chats = admin_chat.admin_chats(deps.settings)
    delivered, unreachable = await send_digest(context, dt.datetime.fromisoformat(last), chats, slot.date())
    if chats and not delivered and unreachable:
        log.warning("no admin chat got the digest; trying again at the next check")
        await deps.storage.claim_state(SENT_KEY, slot.isoformat(), last)


@consultant_only
async def digest_now(update: Update, context: BotContext) -> None:
    """/digest: the digest of the last 24 hours, here and now."""
    await send_digest(context, utcnow() - dt.timedelta(days=1), [update.effective_chat.id])


async def send_digest(
    context: BotContext, since: dt.datetime, chats: list[int], day: dt.date | None = None
) -> tuple[int, int]:
    """Send the digest of `day` (default today, UTC) to `chats`; returns how many got it, and how
    many Telegram could not reach."""
    deps = context.deps
    weekly = suggestions_due(deps.settings.digest_suggestions_weekday, day or utcnow().date())
    suggest = deps.settings if weekly else None
    digest = await compute_digest(deps.storage, deps.advisor.retriever, deps.settings.min_score, since, suggest)
    text, markup = digest_message(digest)
    delivered = unreachable = 0
    for chat in chats:
        try:
            await context.bot.send_message(chat, text, parse_mode=ParseMode.HTML, reply_markup=markup)
            delivered += 1
        except Exception as exc:
            log.warning("could not send the digest to chat %s", chat, exc_info=True)
            transient = isinstance(exc, NetworkError | RetryAfter) and not isinstance(exc, BadRequest)
            unreachable += transient
    return delivered, unreachable


def digest_message(digest: Digest) -> tuple[str, InlineKeyboardMarkup | None]:
    """The digest as HTML, with an "Open #turn" button per 👎 comment shown."""
    handovers = digest.handovers
    lines = [
        f"📊 <b>Digest since {digest.since:%Y-%m-%d %H:%M} UTC</b>",
        f"Questions: {digest.questions} from {digest.owners} owners",
        f"Feedback: {digest.thumbs_up} 👍 / {digest.thumbs_down} 👎",
        f"Not covered: {digest.not_covered}",
        f"Hand-overs: {handovers.get('asked', 0)} asked, {handovers.get('open', 0)} open now",
        f"Hand-overs resolved: {handovers.get('resolved', 0)} "
        f"(👍 {digest.ratings.get('up', 0)}, 👎 {digest.ratings.get('down', 0)})",
        f"LLM failures: {digest.llm_failures}",
    ]
    if digest.gaps:
        lines.append("\n<b>Biggest gaps:</b>")
        lines += [f"{n}. {escape(theme.label)} — {theme.count}×" for n, theme in enumerate(digest.gaps, start=1)]
    if digest.suggestions is not None:
        lines.append("\n<b>Suggestions this week</b> (most owners affected first; all: python -m bot suggest):")
        lines += [f"{n}. {suggestion_line(s)}" for n, s in enumerate(digest.suggestions, start=1)]
        if not digest.suggestions:
            lines.append("None: nothing to write, rewrite, merge, review or retire.")
    shown = digest.comments[:COMMENTS_SHOWN]
    if shown:
        lines.append("\n<b>New 👎 comments:</b>")
        lines += [
            f"• #{turn}: “{escape(one_line(comment, QUOTE))}” on “{escape(one_line(question, QUOTE))}”"
            for turn, question, comment in shown
        ]
        if len(digest.comments) > len(shown):
            lines.append(f"…and {len(digest.comments) - len(shown)} more (review: thumbs_down)")
    buttons = [[InlineKeyboardButton(f"Open #{turn}", callback_data=f"turn:{turn}")] for turn, _q, _c in shown]
    buttons += teach.gap_buttons(digest.gaps)  # "✍️ Answer this: N" per gap line
    return "\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None


def suggestion_line(suggestion) -> str:
    """One suggestion as HTML: kind, what, owners affected, what to do."""
    owners = f"{suggestion.owners} owner{'s' if suggestion.owners != 1 else ''}" if suggestion.owners else "no owner"
    # two competing sections, each on its own line: both paths and headings stay readable
    parts = suggestion.what.split(" + ") if suggestion.kind == "near-duplicate" else [suggestion.what]
    what = "\n    ↔ ".join(escape(one_line(part, QUOTE)) for part in parts)
    return f"<i>{suggestion.kind}</i>: {what} — {owners} → {escape(one_line(suggestion.action, QUOTE))}"


async def open_turn(update: Update, context: BotContext) -> None:
    """ "Open #turn" under the digest: the turn in full, with its feedback comments."""
    query = update.callback_query
    if not admin_chat.is_consultant(context.deps.settings, update):
        await query.answer("Not permitted.")
        return
    await query.answer()
    turn = await context.deps.storage.get_turn(int(query.data.split(":")[1]))
    text = turn_block(turn, 2000) if turn is not None else "That turn is no longer stored."
    await context.bot.send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML)


HANDLERS = [
    CommandHandler("digest", digest_now, filters=MESSAGES),
    CallbackQueryHandler(open_turn, pattern=r"^turn:\d+$"),
]
