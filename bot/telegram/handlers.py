"""One handler per command and kind of update; each turns Telegram into advisor calls.

Handlers find their parts in `context.bot_data["deps"]` (a `BotDeps`, built
once in `bot.telegram.app`). Bad input is answered here with a usage hint;
anything unexpected goes to `on_error`, which logs first and then tells the
owner, with a reference id.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import secrets
from dataclasses import dataclass

from telegram import (
    BotCommand,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.advisor import Advisor, Answer
from bot.config import Settings
from bot.conversation import ProfileError
from bot.dialogue import Dialogue
from bot.index_versions import IndexReloader
from bot.storage import Storage, TurnFilter
from bot.telegram.access import Access, RateLimiter
from bot.telegram.formatting import telegram_messages

log = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = [
    "How can I get working capital without collateral?",
    "Should I sell cross-border?",
    "What should my 10-year plan look like?",
    "What should a small business outsource first?",
]

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
TYPING_REFRESH = 4.5  # Telegram shows "typing…" for about 5 seconds


@dataclass
class BotDeps:
    settings: Settings
    advisor: Advisor
    storage: Storage
    dialogue: Dialogue
    access: Access
    limiter: RateLimiter
    reloader: IndexReloader | None = None  # None with CHROMA_URL: the server is always current


def deps_of(context: ContextTypes.DEFAULT_TYPE) -> BotDeps:
    return context.bot_data["deps"]


def user_key(update: Update) -> str:
    return f"tg:{update.effective_user.id}"


def chat_key(update: Update) -> str:
    return f"tg-chat:{update.effective_chat.id}"


def is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


def addressed_to_bot(update: Update, bot_username: str, bot_id: int) -> bool:
    """In a group the bot speaks only when mentioned, replied to, or given a command."""
    message = update.effective_message
    if message is None:
        return False
    if is_private(update):
        return True
    text = message.text or message.caption or ""
    if text.startswith("/"):
        return True
    if bot_username and f"@{bot_username.lower()}" in text.lower():
        return True
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


# --------------------------------------------------------------------------- access


async def access_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every other handler: refuses users without access, politely and once."""
    user = update.effective_user
    if user is None or await deps_of(context).access.may_use(user.id):
        return
    if update.callback_query:
        await update.callback_query.answer("Not permitted.")
    elif update.effective_message and addressed_to_bot(update, context.bot.username, context.bot.id):
        await update.effective_message.reply_text(
            "Sorry, this advisor is private. Your Telegram user id is "
            f"{user.id}: send it to the person who runs this bot to ask for access."
        )
    raise ApplicationHandlerStop


def admin_only(handler):
    """Admin commands answer 'Not permitted.' to everyone else, and reveal nothing more."""

    async def wrapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not deps_of(context).access.is_admin(update.effective_user.id):
            await update.effective_message.reply_text("Not permitted.")
            return
        await handler(update, context)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


# --------------------------------------------------------------------------- owners' commands


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
    buttons = [[InlineKeyboardButton(q, callback_data=f"ask:{i}")] for i, q in enumerate(EXAMPLE_QUESTIONS)]
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=InlineKeyboardMarkup(buttons)
    )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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


async def new_conversation(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/new: close the chat's conversation so the next question starts without memory."""
    await deps_of(context).storage.new_conversation(chat_key(update), user_key(update))
    await update.effective_message.reply_text("Fresh start: I won't use our earlier conversation. Ask away!")


async def profile(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/profile [key=value …]: show the owner's profile, or set fields of it."""
    storage = deps_of(context).storage
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


async def topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/topics: the knowledge base's topics and a few of the files under each."""
    covered = await asyncio.to_thread(deps_of(context).advisor.retriever.topics)
    lines = ["<b>What I can help with</b>"]
    for topic, titles in covered.items():
        lines.append(f"\n<b>{topic.capitalize()}</b>")
        lines += [f"• {_escape(title)}" for title in titles[:8]]
    await update.effective_message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML)


async def forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/forget: ask for confirmation before deleting the owner's data."""
    buttons = [
        [
            InlineKeyboardButton("Yes, delete my data", callback_data="forget:yes"),
            InlineKeyboardButton("Cancel", callback_data="forget:no"),
        ]
    ]
    await update.effective_message.reply_text(
        "Delete all your questions, answers, feedback and profile? This cannot be undone.",
        reply_markup=InlineKeyboardMarkup(buttons),
    )


async def forget_confirmed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer()
    if query.data != "forget:yes":
        await query.edit_message_text("Nothing was deleted.")
        return
    counts = await deps_of(context).storage.forget(user_key(update))
    await query.edit_message_text(f"Done: deleted {counts['turns']} questions and answers, your feedback and profile.")


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask QUESTION: a question, the explicit way (the way to ask in groups)."""
    question = " ".join(context.args or [])
    if not question.strip():
        await update.effective_message.reply_text("Usage: /ask QUESTION, e.g. /ask Should I sell cross-border?")
        return
    await answer_question(update, context, question)


async def text_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any text is a question (in groups: only when addressed), or the comment after a 👎."""
    message = update.effective_message
    if await _store_comment(update, context):
        return
    if not addressed_to_bot(update, context.bot.username, context.bot.id):
        return
    question = message.text
    if context.bot.username:
        question = question.replace(f"@{context.bot.username}", " ")
    await answer_question(update, context, question)


async def example_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tap on one of /start's example buttons asks that question."""
    query = update.callback_query
    await query.answer()
    index = int(query.data.split(":", 1)[1])
    if 0 <= index < len(EXAMPLE_QUESTIONS):
        await answer_question(update, context, EXAMPLE_QUESTIONS[index])


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Photos, stickers, voice, files, locations: one friendly line."""
    if addressed_to_bot(update, context.bot.username, context.bot.id):
        await update.effective_message.reply_text("I can only read text questions — please type yours.")


# --------------------------------------------------------------------------- answering


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    deps = deps_of(context)
    chat_id = update.effective_chat.id
    user_id = update.effective_user.id
    reply_to = update.effective_message if update.message else None
    if not deps.access.is_admin(user_id):
        wait = await deps.limiter.check(user_id)
        if wait is not None:
            await context.bot.send_message(
                chat_id, f"You've asked a lot of questions — please try again in {_duration(wait)}."
            )
            return
    drafts = DraftStream(context.bot, chat_id, deps.settings.draft_interval) if is_private(update) else None
    async with typing(context.bot, chat_id):
        if drafts:
            drafts.start()
        try:
            reply = await deps.dialogue.ask(
                user_key(update), chat_key(update), question, on_delta=drafts.push if drafts else None
            )
        finally:
            if drafts:
                await drafts.stop()
    await send_answer(context.bot, chat_id, reply.answer, reply.turn_id, reply_to)


async def send_answer(bot, chat_id: int, answer: Answer, turn_id: int | None, reply_to: Message | None) -> None:
    """The answer as HTML messages (plain text if Telegram rejects the markup), buttons on the last."""
    messages = telegram_messages(answer.text, answer.sources, answer.notes)
    markup = feedback_buttons(turn_id) if turn_id is not None and answer.covered else None
    for number, (html, plain) in enumerate(messages):
        last = number == len(messages) - 1
        kwargs = {"reply_markup": markup if last else None}
        if number == 0 and reply_to is not None and reply_to.chat.type != ChatType.PRIVATE:
            kwargs["reply_to_message_id"] = reply_to.message_id
        try:
            await bot.send_message(chat_id, html, parse_mode=ParseMode.HTML, **kwargs)
        except BadRequest as exc:
            if "entit" not in str(exc).lower() and "tag" not in str(exc).lower():
                raise
            log.warning("Telegram rejected the HTML of an answer (%s); sending it as plain text", exc)
            await bot.send_message(chat_id, plain, **kwargs)


def feedback_buttons(turn_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("👍", callback_data=f"fb:up:{turn_id}"),
                InlineKeyboardButton("👎", callback_data=f"fb:down:{turn_id}"),
                InlineKeyboardButton("Sources", callback_data=f"src:{turn_id}"),
            ]
        ]
    )


@contextlib.asynccontextmanager
async def typing(bot, chat_id: int):
    """Show 'typing…' until the answer is ready; a failing indicator never stops the answer."""

    async def keep_typing() -> None:
        while True:
            try:
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError as exc:
                log.debug("typing indicator failed in chat %s: %s", chat_id, exc)
            await asyncio.sleep(TYPING_REFRESH)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class DraftStream:
    """Streams a growing answer into a private chat with sendMessageDraft, at most once per
    interval. A failing draft switches drafts off for this answer; the final message still comes."""

    def __init__(self, bot, chat_id: int, interval: float) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.interval = interval
        self.draft_id = secrets.randbelow(2**31 - 1) + 1
        self.text = ""
        self._sent = ""
        self._task: asyncio.Task | None = None
        self.failed = False

    async def push(self, delta: str) -> None:
        self.text += delta

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self.failed:
            await asyncio.sleep(self.interval)
            text = self.text[:4096]
            if text.strip() and text != self._sent:
                try:
                    await self.bot.send_message_draft(self.chat_id, self.draft_id, text)
                    self._sent = text
                except TelegramError as exc:
                    log.info("drafts unavailable in chat %s (%s); sending the final answer only", self.chat_id, exc)
                    self.failed = True


# --------------------------------------------------------------------------- buttons under answers


async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """👍 or 👎 under an answer; after 👎 ask what was missing."""
    query = update.callback_query
    _, rating, turn = query.data.split(":")
    deps = deps_of(context)
    await deps.storage.record_feedback(int(turn), user_key(update), rating)
    if rating == "up":
        await query.answer("Thanks for the feedback!")
        return
    await query.answer("Thanks — sorry it didn't help.")
    prompt = await context.bot.send_message(
        update.effective_chat.id,
        "What was missing or wrong? Reply to this message and a consultant will read it.",
        reply_markup=ForceReply(selective=True, input_field_placeholder="What was missing?"),
    )
    await deps.storage.add_comment_prompt(prompt.chat_id, prompt.message_id, int(turn), user_key(update))


async def _store_comment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    message = update.effective_message
    replied = message.reply_to_message
    if replied is None or not replied.from_user or replied.from_user.id != context.bot.id:
        return False
    storage = deps_of(context).storage
    turn_id = await storage.take_comment_prompt(message.chat_id, replied.message_id, user_key(update))
    if turn_id is None:
        return False
    await storage.add_feedback_comment(turn_id, user_key(update), message.text)
    await message.reply_text("Thank you — that helps us improve the answers.")
    return True


async def show_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The 'Sources' button: the cited passages' excerpts."""
    query = update.callback_query
    await query.answer()
    turn = await deps_of(context).storage.get_turn(int(query.data.split(":")[1]))
    if turn is None or not turn.sources:
        await context.bot.send_message(update.effective_chat.id, "Those sources are no longer stored.")
        return
    blocks = []
    for source in turn.sources:
        parts = [p for p in source["heading"].split(" > ") if p and p != source["title"]]
        label = f"{source['title']} › {parts[-1]}" if parts else source["title"]
        excerpt = source.get("excerpt") or ""
        blocks.append(f"<b>[{source['number']}] {_escape(label)}</b>\n{_escape(excerpt)}")
    await context.bot.send_message(update.effective_chat.id, "\n\n".join(blocks)[:4096], parse_mode=ParseMode.HTML)


# --------------------------------------------------------------------------- admin commands


@admin_only
async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: the last 30 days in a few lines."""
    from bot.review.stats import compute_stats

    since = _days_ago(30)
    result = await compute_stats(deps_of(context).storage, TurnFilter(since=since))
    ratio = "-" if result.feedback_ratio is None else f"{result.feedback_ratio:.0%} 👍"
    topics_line = ", ".join(f"{t} {n}" for t, n in result.top_topics[:5]) or "-"
    await update.effective_message.reply_text(
        f"Last 30 days\nTurns: {result.turns}\nOwners: {result.users}\n"
        f"Feedback: {result.thumbs_up} 👍 / {result.thumbs_down} 👎 ({ratio})\n"
        f"Offline / LLM: {result.share('offline'):.0%} / {result.share('llm'):.0%}\n"
        f"Not covered: {result.not_covered}\nLatency p50 / p95: {result.latency_ms_p50:.0f} / "
        f"{result.latency_ms_p95:.0f} ms\nTop topics: {topics_line}\n{_index_line(deps_of(context))}"
    )


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
async def reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reload: answer from the newest ingested knowledge now (the bot also checks every few seconds)."""
    deps = deps_of(context)
    if deps.reloader is None:
        await update.effective_message.reply_text("The index is on a Chroma server; answers always use its content.")
        return
    swapped = await asyncio.to_thread(deps.reloader.check)
    state = "Reloaded." if swapped else "Already up to date."
    await update.effective_message.reply_text(f"{state} {_index_line(deps)}")


async def check_index(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeating job: switch to an index version that `python ingest.py` has published."""
    reloader = deps_of(context).reloader
    if reloader is not None:
        await asyncio.to_thread(reloader.check)


@admin_only
async def gaps(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/gaps: the biggest knowledge gaps of the last 30 days."""
    from bot.review.gaps import find_gaps

    deps = deps_of(context)
    themes = await find_gaps(
        deps.storage, deps.advisor.retriever, deps.settings.min_score, TurnFilter(since=_days_ago(30))
    )
    if not themes:
        await update.effective_message.reply_text("No knowledge gaps in the last 30 days.")
        return
    lines = ["Knowledge gaps, last 30 days:"]
    for number, theme in enumerate(themes[:8], start=1):
        closest = f" (closest: {theme.closest_file})" if theme.closest_file else ""
        lines.append(f"{number}. {theme.label} — {theme.count}×{closest}")
    await update.effective_message.reply_text("\n".join(lines))


@admin_only
async def transcript(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/transcript USER_ID [N]: an owner's last N turns (default 5)."""
    args = context.args or []
    if not args or not args[0].lstrip("-").isdigit() or (len(args) > 1 and not args[1].isdigit()):
        await update.effective_message.reply_text("Usage: /transcript USER_ID [N], e.g. /transcript 123456789 5")
        return
    count = min(int(args[1]) if len(args) > 1 else 5, 20)
    turns = await deps_of(context).storage.list_turns(TurnFilter(user=f"tg:{args[0]}"), limit=count)
    if not turns:
        await update.effective_message.reply_text(f"No stored turns for user {args[0]}.")
        return
    blocks = []
    for turn in reversed(turns):
        rating = {"up": " 👍", "down": " 👎", "mixed": " 👍👎"}.get(turn.feedback or "", "")
        header = f"#{turn.id} {turn.created_at:%Y-%m-%d %H:%M} ({turn.mode}){rating}"
        blocks.append(f"{header}\nQ: {turn.question}\nA: {turn.answer[:600]}")
    for piece in _chunks("\n\n".join(blocks)):
        await update.effective_message.reply_text(piece)


@admin_only
async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/export [days]: the last N days of turns as a CSV file (default 7)."""
    from bot.review.export import write_turns

    args = context.args or []
    if args and not args[0].isdigit():
        await update.effective_message.reply_text("Usage: /export [days], e.g. /export 30")
        return
    days = int(args[0]) if args else 7
    buffer = io.StringIO()
    count = await write_turns(deps_of(context).storage.stream_turns(TurnFilter(since=_days_ago(days))), buffer, "csv")
    await context.bot.send_document(
        update.effective_chat.id,
        document=buffer.getvalue().encode("utf-8"),
        filename=f"sme-advisor-turns-{days}d.csv",
        caption=f"{count} turns from the last {days} days.",
    )


@admin_only
async def allow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/allow USER_ID: give a user access (and lift a block)."""
    user_id = await _user_id_argument(update, context, "allow")
    if user_id is None:
        return
    deps = deps_of(context)
    await deps.access.allow(user_id)
    await update.effective_message.reply_text(f"User {user_id} may now use the advisor.")


@admin_only
async def block(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/block USER_ID: shut a user out, at once."""
    user_id = await _user_id_argument(update, context, "block")
    if user_id is None:
        return
    deps = deps_of(context)
    if deps.access.is_admin(user_id):
        await update.effective_message.reply_text("Admins cannot be blocked; remove them from ADMIN_USER_IDS first.")
        return
    await deps.access.block(user_id)
    await update.effective_message.reply_text(f"User {user_id} is blocked.")


async def prune_old_turns(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Daily job: delete turns older than RETENTION_DAYS."""
    deps = deps_of(context)
    deleted = await deps.storage.prune(deps.settings.retention_days)
    log.info("retention: deleted %d turns older than %d days", deleted, deps.settings.retention_days)


# --------------------------------------------------------------------------- errors


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log first (with the update id, never the token), then tell the owner, with a reference."""
    reference = secrets.token_hex(3).upper()
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s (reference %s)", update_id, reference, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(
                update.effective_chat.id,
                f"Sorry, something went wrong on my side (reference {reference}). Please try again.",
            )
        except TelegramError:
            log.warning("could not tell chat %s about error %s", update.effective_chat.id, reference)


# --------------------------------------------------------------------------- helpers


async def _user_id_argument(update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> int | None:
    """The one USER_ID argument of /allow and /block, or None once the admin has the usage hint."""
    args = context.args or []
    if len(args) != 1 or not args[0].isdigit():
        await update.effective_message.reply_text(f"Usage: /{command} USER_ID, e.g. /{command} 123456789")
        return None
    return int(args[0])


def _days_ago(days: int):
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days)


def _duration(seconds: float) -> str:
    seconds = max(1, int(seconds + 0.999))
    if seconds < 90:
        return f"{seconds} seconds"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def _chunks(text: str, size: int = 4000) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
