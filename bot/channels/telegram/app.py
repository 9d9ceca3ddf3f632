"""The Telegram `Application`, built in one place, and its life: start, serve, stop.

`serve()` runs the whole lifecycle inside an existing event loop (tests drive
it that way); `run()` is what `python -m bot run` calls, with SIGTERM/Ctrl-C
wired to a graceful stop: no new updates, answers in flight finished within
SHUTDOWN_GRACE_SECONDS, the database closed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from telegram import BotCommandScopeChat, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.advisor import Advisor
from bot.advisor.speech import SpeechToText
from bot.channels.dialogue import Dialogue
from bot.channels.telegram.access import Access, RateLimiter
from bot.channels.telegram.admin_chat import ErrorReports, admin_chats
from bot.channels.telegram.chats import ChatActivity, PerChatUpdateProcessor
from bot.channels.telegram.handlers import (
    admin,
    buttons,
    checkin,
    consultants,
    desk,
    digest,
    documents,
    due,
    handover,
    hear_back,
    jobs,
    mydata,
    owner,
    photos,
    profile,
    reminders,
    review,
    teach,
    teach_publish,
    voice,
)
from bot.channels.telegram.handlers.deps import BotContext, BotDeps, access_gate
from bot.channels.telegram.updates import MessageRateLimiter, SharedUpdateQueue, TolerantUpdates
from bot.channels.telegram.webhook import WebhookReceiver
from bot.config import Settings
from bot.locales import DEFAULT, LANGUAGES
from bot.storage import Storage

log = logging.getLogger(__name__)


class TelegramStartError(Exception):
    """The bot cannot start (wrong token, Bot API unreachable); the message says which."""


def build_application(settings: Settings, deps: BotDeps) -> Application:
    """The bot: rate limiter, per-chat ordering, and every handler, registered once."""
    shared = deps.storage if deps.storage.shared else None  # PostgreSQL: other processes may serve too
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .rate_limiter(MessageRateLimiter(overall_max_rate=settings.telegram_max_messages_per_second, max_retries=5))
        .concurrent_updates(processor := PerChatUpdateProcessor(512, deps.activity, shared))
        .context_types(ContextTypes(context=BotContext))
        # httpcore checks every idle pooled connection before each request; a pool of
        # hundreds made that scan the bot's biggest cost under load (bench/bot_bench.py).
        .connection_pool_size(8)
        .pool_timeout(30)
    )
    builder = builder.update_queue(SharedUpdateQueue(deps.storage)).get_updates_request(
        TolerantUpdates(connection_pool_size=1)  # what PTB would build for getUpdates, reading updates one by one
    )
    if settings.telegram_api_base_url:
        base = settings.telegram_api_base_url
        builder = builder.base_url(base).base_file_url(base.removesuffix("/bot") + "/file/bot")
    application = builder.build()
    application.bot_data["deps"] = deps
    _register(application)
    if processor.steps is not None:  # where owners are in /profile etc., for every process to see
        processor.steps.follow([handler for group in application.handlers.values() for handler in group])
    return application


def _register(app: Application) -> None:
    app.add_handler(TypeHandler(Update, access_gate), group=-1)
    # In one group the first matching handler wins: the profile questions see their answers
    # (and /cancel) before the question handler does; unknown commands come last.
    handlers_in_order = (
        profile.HANDLERS,
        reminders.HANDLERS,  # /remind asking the time zone, like /profile's questions
        due.HANDLERS,  # Done / Snooze under reminders
        checkin.HANDLERS,  # /checkin asking the quarter's priorities
        handover.HANDLERS,  # /human waiting for the request, like /profile's questions
        teach.HANDLERS,  # replies to knowledge drafts, before replies to cards
        teach_publish.HANDLERS,
        consultants.HANDLERS,  # replies to hand-over cards, before replies are taken as questions
        desk.HANDLERS,  # /queue, /myname, Claim and Open, the owner's rating of the help
        voice.HANDLERS,  # voice notes, before owner's "I can only read text"
        photos.HANDLERS,  # photos (their text read, or their caption asked), likewise
        documents.HANDLERS,  # owners' own files, before owner's "I can only read text"
        mydata.HANDLERS,
        hear_back.HANDLERS,
        owner.HANDLERS,
        admin.HANDLERS,
        digest.HANDLERS,
        review.HANDLERS,
        buttons.HANDLERS,
        owner.FALLBACKS,
    )
    for handlers in handlers_in_order:
        app.add_handlers(handlers)
    app.add_error_handler(jobs.on_error)


async def _register_commands(app: Application, settings: Settings) -> None:
    """The command menu: owners' commands for everyone, in each language the bot speaks
    (Telegram shows the one matching the owner's app), and in each admin's private chat the
    admin commands too (a scope per admin chat, so owners never see them), and the desk's
    commands for each CONSULTANT_USER_IDS user and in ADMIN_CHAT_ID. A failure is logged
    and the bot starts anyway (an admin who never opened the bot has no chat yet)."""
    menus = [(owner.commands_in(DEFAULT), {})] + [
        (owner.commands_in(code), {"language_code": code}) for code in LANGUAGES if code != DEFAULT
    ]
    admins = settings.admin_user_ids
    menus += [(owner.commands_in(DEFAULT, admin=True), {"scope": BotCommandScopeChat(a)}) for a in admins]
    team = [c for c in settings.consultant_user_ids if c not in admins] + (
        [settings.admin_chat_id] if settings.admin_chat_id is not None else []
    )  # consultants privately, and the consultants' group: the desk's commands
    menus += [(owner.commands_in(DEFAULT, team=True), {"scope": BotCommandScopeChat(chat)}) for chat in team]

    async def register(commands, where: dict) -> None:
        try:
            await app.bot.set_my_commands(commands, **where)
        except TelegramError as exc:
            log.warning("could not register the command menu %s: %s", where or "(default)", exc)

    await asyncio.gather(*(register(commands, where) for commands, where in menus))  # one round trip, not ten


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    *,
    advisor: Advisor | None = None,
    storage: Storage | None = None,
    ready: asyncio.Event | None = None,
    on_ready: Callable[[Application], object] | None = None,
) -> None:
    """Run the bot until `stop` is set, then shut down gracefully. `on_ready` gets the running
    application (what tests and an embedding program call `hear_back.tell_waiting_owners` with)."""
    from bot.advisor import make_advisor

    storage = storage or await Storage.open(settings.database)
    advisor = advisor or make_advisor(settings)
    deps = BotDeps(
        settings=settings,
        advisor=advisor,
        storage=storage,
        dialogue=Dialogue(advisor, storage),
        access=Access.from_settings(settings, storage),
        limiter=RateLimiter(storage, settings.questions_per_minute, settings.questions_per_day),
        reloader=advisor.retriever.follow_versions(settings),
        activity=ChatActivity(settings.question_window_seconds),
        reports=ErrorReports(settings.error_reports_per_hour),
        speech=SpeechToText.from_settings(settings),
    )
    app = build_application(settings, deps)
    webhook = WebhookReceiver(app, settings) if settings.telegram_webhook_url else None
    # the models, the sections and the language identifier load in a thread (~1 s, mostly
    # outside the GIL) while Telegram is greeted and the menus registered, and before the first
    # poll, so the first owner does not wait for them (and a model that cannot load stops the
    # start here)
    warming = asyncio.ensure_future(asyncio.to_thread(advisor.warm_up))
    try:
        await _initialize(app, settings)
        await _register_commands(app, settings)
        await warming
        await app.start()
        if deps.reloader is not None and settings.index_check_seconds:
            app.job_queue.run_repeating(jobs.check_index, interval=settings.index_check_seconds, name="index")
        if settings.digest_time != "off" and admin_chats(settings):
            app.job_queue.run_repeating(digest.send_when_due, interval=60, first=5, name="digest")
        if settings.retention_days:
            app.job_queue.run_repeating(jobs.prune_old_turns, interval=86_400, first=1, name="retention")
        # owners' documents past RETENTION_DAYS, and passages whose document row is gone
        app.job_queue.run_repeating(documents.expire_and_sweep, interval=86_400, first=5, name="documents")
        # answers a killed bot stored but never sent: their owners are told to ask again
        app.job_queue.run_repeating(jobs.tell_unsent, interval=60, first=5, name="unsent")
        # due reminders and check-ins, claimed in the database: one process sends each (handlers/due.py)
        app.job_queue.run_repeating(due.send_due, interval=settings.reminder_check_seconds, first=1, name="reminders")
        # owners who heard back once today and have another answer waiting (handlers/hear_back.py)
        app.job_queue.run_repeating(hear_back.tell_held, interval=3600, first=60, name="hear back")
        await (webhook.start() if webhook else app.updater.start_polling(allowed_updates=Update.ALL_TYPES))
        log.info("the bot @%s is ready", app.bot.username)
        if on_ready is not None:
            on_ready(app)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info(
            "stopping: no new updates; finishing answers in flight (up to %.0f s)", settings.shutdown_grace_seconds
        )
        await (webhook.stop() if webhook else app.updater.stop())
        try:
            await asyncio.wait_for(app.stop(), settings.shutdown_grace_seconds)
        except TimeoutError:
            log.warning("answers still in flight after %.0f s; stopping anyway", settings.shutdown_grace_seconds)
    finally:
        if not warming.done():  # the start failed first (a bad token): the thread ends on its own
            warming.add_done_callback(lambda task: task.cancelled() or task.exception())
        if webhook is not None:
            await webhook.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        await storage.close()


async def _initialize(app: Application, settings: Settings) -> None:
    """getMe happens here: a wrong token or an unreachable API stops the start in one line."""
    try:
        await app.initialize()
    except InvalidToken:
        bot_id = settings.telegram_bot_token.get_secret_value().partition(":")[0]
        raise TelegramStartError(
            f"Telegram rejected TELEGRAM_BOT_TOKEN (the token of bot id {bot_id or '?'}); check the token"
        ) from None
    except NetworkError as exc:
        where = settings.telegram_api_base_url or "https://api.telegram.org"
        raise TelegramStartError(f"cannot reach the Telegram Bot API at {where}: {exc}") from None


class RedactToken(logging.Filter):
    """Keep the bot token out of every log line (it appears in Bot API URLs)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<TELEGRAM_BOT_TOKEN>"), None
        if record.exc_info and record.exc_info[1] is not None and self.token in str(record.exc_info[1]):
            record.exc_text = logging.Formatter().formatException(record.exc_info).replace(self.token, "<TOKEN>")
            record.exc_info = None
        return True


def protect_logs(token: str) -> None:
    redactor = RedactToken(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """Let glibc's malloc keep at most `arenas` arenas (MALLOC_ARENA_MAX), where it would give
    each thread that answers (asyncio's workers, up to 8 per core) one of its own: each keeps
    the memory its thread once used, ~20 MB more after a day of varied questions
    (bench/bot_bench.py). An environment that sets MALLOC_ARENA_MAX itself, or a libc that
    is not glibc, is left as it is."""
    import ctypes
    import ctypes.util
    import os

    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def run(settings: Settings, advisor: Advisor | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C (with `advisor`, else one built from `settings`)."""
    protect_logs(settings.telegram_bot_token.get_secret_value())
    fewer_malloc_arenas()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop, advisor=advisor)

    asyncio.run(main())
