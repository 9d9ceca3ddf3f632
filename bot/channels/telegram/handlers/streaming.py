"""Answering a question in a chat: limits, "typing…", drafts while the answer streams, then
the answer as messages with its buttons."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

from bot.channels.dialogue import Reply
from bot.channels.telegram.formatting import escape, telegram_messages, to_html
from bot.channels.telegram.handlers.deps import BotContext, chat_key, is_private, language_of, names_of, user_key
from bot.channels.telegram.handlers.keyboards import (
    closest_questions,
    consultant_button,
    example_questions,
    feedback_buttons,
    has_steps,
    tell_me_button,
)
from bot.locales import DEFAULT, N_, Translate, texts

log = logging.getLogger(__name__)

TYPING_REFRESH = 4.5  # Telegram shows "typing…" for about 5 seconds
# An answer ready sooner (an offline one takes ~50 ms) gets no "typing…": the owner would not see
# it, and it cost a Bot API call per answer (~2 ms of the bot's CPU and one request to Telegram).
TYPING_DELAY = 0.8
DRAFT_CHARACTERS = 3800  # of Markdown: room for the HTML tags within Telegram's 4,096 visible


async def answer_question(
    update: Update,
    context: BotContext,
    question: str,
    *,
    input_kind: str | None = None,
    lead: str | None = None,
    counted: bool = False,
    answer_in: str | None = None,
) -> None:
    """Answer `question` in this chat: small talk at once; a real question counted against the
    owner's limits, then prepared with "typing…" and drafts, and sent with its buttons. /cancel
    stops it while it is prepared (`ChatActivity.cancel`): nothing half-written is sent.
    `input_kind` (voice, photo) is stored with the turn; `lead`, an italic line, opens the answer
    (a voice note's "You asked: …"); `counted`: the caller has already counted the question
    (`within_limits`, before transcribing a voice note). Over the minute's limit the question
    waits until it may be asked (`within_limits`); one that ends unanswered (/cancel, an error)
    is given back, so only answered questions count. `answer_in`: the language to answer in,
    whatever the question's (a suggested question tapped under an answer in that language)."""
    deps = context.deps
    chat_id = update.effective_chat.id
    reply_to = update.effective_message if update.message else None
    language = language_of(update, context)
    chatter = await deps.dialogue.small_talk(
        user_key(update), chat_key(update), question, language, names_of(update), input_kind=input_kind
    )
    if chatter is not None:
        if lead:
            chatter.answer.notes.insert(0, lead)
        await deliver(context, chat_id, chatter, reply_to, language)
        if counted:  # a voice note that said "thanks": small talk never counts
            await give_back(update, context)
        return
    if not counted and not await within_limits(update, context, keep=True):
        return
    try:
        reply = await _prepare(update, context, question, language, input_kind, answer_in)
    except Exception:
        await give_back(update, context)  # an error: the owner is told (`on_error`), nothing counts
        raise
    if reply is None:  # /cancel stopped it: not answered, not counted
        await give_back(update, context)
        return
    if lead:
        reply.answer.notes.insert(0, lead)
    await deliver(context, chat_id, reply, reply_to, language)


MINUTE = 60.0  # a question over the minute's limit may wait this long; over the day's, it is refused
KEPT = N_("You've asked a lot of questions this minute — I'll answer this one in {duration}.")
LIMITED = N_("You've asked a lot of questions — please try again in {duration}.")
STOPPING = N_("I'm restarting, so I couldn't answer your waiting question. Please send it again in a minute.")


async def within_limits(update: Update, context: BotContext, *, keep: bool = False) -> bool:
    """Count a question against the owner's limits (admins are exempt): True when it may be
    asked. Over a limit the owner is told when they can ask again, and False. With `keep` (a
    question, in its chat's turn) one over the minute's limit is kept instead: the owner is told
    when it will be answered, it waits (in its turn, so the chat's later questions wait behind
    it; /cancel stops it), and then True. Over the day's limit, a question is never kept."""
    deps = context.deps
    if deps.access.is_admin(update.effective_user.id):
        return True
    wait = await deps.limiter.check(update.effective_user.id)
    if wait is None:
        return True
    _ = texts(language_of(update, context))
    chat_id = update.effective_chat.id
    if not keep or wait > MINUTE:
        await context.bot.send_message(chat_id, _(LIMITED).format(duration=_duration(wait, _)))
        return False
    if not context.application.running:  # it waited its turn, and the bot began to stop meanwhile
        await context.bot.send_message(chat_id, _(STOPPING))
        return False
    await context.bot.send_message(chat_id, _(KEPT).format(duration=_duration(wait, _)))
    return await _kept(update, context, wait)


async def _kept(update: Update, context: BotContext, wait: float) -> bool:
    """Wait until the owner's limits let the question be asked (counted then): True; False when
    /cancel stopped it, the bot is stopping (the owner is asked to send it again) or the day's
    limit was reached meanwhile (in another chat; the owner is told)."""
    deps, chat_id = context.deps, update.effective_chat.id
    waiting = asyncio.create_task(_until_allowed(context, update.effective_user.id, wait))
    deps.activity.answering[chat_id] = waiting  # what /cancel stops
    deps.activity.limited.add(chat_id)  # the chat's next questions are told they wait for it
    try:
        wait = await asyncio.shield(waiting)
    except asyncio.CancelledError:
        if waiting.cancelled():  # the owner's /cancel, which says so
            return False
        waiting.cancel()  # the bot is stopping
        raise
    finally:
        deps.activity.limited.discard(chat_id)
        if deps.activity.answering.get(chat_id) is waiting:
            del deps.activity.answering[chat_id]
    if wait is None:
        return True
    _ = texts(language_of(update, context))
    said = _(STOPPING) if wait == 0 else _(LIMITED).format(duration=_duration(wait, _))
    await context.bot.send_message(chat_id, said)
    return False


async def _until_allowed(context: BotContext, user_id: int, wait: float) -> float | None:
    """None once the question is counted; else 0 when the bot stops meanwhile, or the wait the
    day's limit sets."""
    while wait is not None:
        if wait > MINUTE:
            return wait
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            if not context.application.running:
                return 0
            await asyncio.sleep(min(left, 0.5))
        wait = await context.deps.limiter.check(user_id)
    return None


async def give_back(update: Update, context: BotContext) -> None:
    """The question was not answered: it does not count against the owner's limits. (A failure
    here is logged; the owner has one question less to ask this minute.)"""
    if context.deps.access.is_admin(update.effective_user.id):
        return
    try:
        await context.deps.limiter.give_back(update.effective_user.id)
    except Exception:
        log.warning("could not give a question back to %s", user_key(update), exc_info=True)


async def _prepare(
    update: Update,
    context: BotContext,
    question: str,
    language: str,
    input_kind: str | None = None,
    answer_in: str | None = None,
) -> Reply | None:
    """The answer, prepared in a task of its own that /cancel can stop (then: None)."""
    deps, chat_id = context.deps, update.effective_chat.id
    drafts = DraftStream(context.bot, chat_id, deps.settings.draft_interval) if is_private(update) else None
    work = asyncio.create_task(
        deps.dialogue.ask(
            user_key(update),
            chat_key(update),
            question,
            on_delta=drafts.push if drafts else None,
            language=language,
            names=names_of(update),
            input_kind=input_kind,
            documents=is_private(update) and (context.owner is None or context.owner.has_documents),
            answer_in=answer_in,
        )
    )
    deps.activity.answering[chat_id] = work
    try:
        async with typing(context.bot, chat_id):
            if drafts:
                drafts.start()
            return await asyncio.shield(work)
    except asyncio.CancelledError:
        if work.cancelled():  # the owner's /cancel: the turn is stored as cancelled, /cancel says so
            return None
        work.cancel()  # the bot is stopping
        raise
    finally:
        if drafts:
            await drafts.stop()
        if deps.activity.answering.get(chat_id) is work:
            del deps.activity.answering[chat_id]


async def deliver(
    context: BotContext, chat_id: int, reply: Reply, reply_to: Message | None, language: str = DEFAULT
) -> None:
    """Send the reply, and record on its turn whether it arrived."""
    delivered = False
    try:
        await send_answer(context.bot, chat_id, reply, reply_to, language)
        delivered = True
    finally:
        await context.deps.dialogue.delivered(reply.turn_id, delivered)


async def send_answer(bot, chat_id: int, reply: Reply, reply_to: Message | None, language: str = DEFAULT) -> None:
    """The answer as HTML messages (plain text if Telegram rejects the markup); on the last one,
    👍/👎/Sources and suggested next questions, or example questions after a greeting."""
    answer, turn_id = reply.answer, reply.turn_id
    language = answer.language or language
    _ = texts(language)  # "Sources" and the buttons in the answer's own language (a tap keeps it)
    messages = telegram_messages(answer.text, answer.sources, answer.notes, _("Sources"))
    if reply.examples:
        more = "\n\n" + escape(_("Try one of these:"))
        messages[-1] = (messages[-1][0] + more, messages[-1][1] + more)
        markup = example_questions(_)
    elif turn_id is not None and answer.covered and answer.mode != "smalltalk":
        markup = feedback_buttons(turn_id, answer.follow_ups, _, steps=has_steps(answer.text), language=language)
    elif turn_id is not None and not answer.covered and chat_id > 0:  # private chats: a person can help
        closest = closest_questions(turn_id, answer.follow_ups, language)
        markup = InlineKeyboardMarkup([*closest, tell_me_button(turn_id, _, language), consultant_button(turn_id, _)])
    else:
        markup = None
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


@contextlib.asynccontextmanager
async def typing(bot, chat_id: int, delay: float = TYPING_DELAY):
    """Show 'typing…' from `delay` seconds on until the answer is ready; a failing indicator never
    stops the answer."""

    async def keep_typing() -> None:
        await asyncio.sleep(delay)
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
            text = self.text[:DRAFT_CHARACTERS]
            if text.strip() and text != self._sent:
                try:  # the same Markdown → HTML as the final message; an unfinished ** stays as typed
                    await self.bot.send_message_draft(self.chat_id, self.draft_id, to_html(text), parse_mode="HTML")
                    self._sent = text
                except TelegramError as exc:
                    log.info("drafts unavailable in chat %s (%s); sending the final answer only", self.chat_id, exc)
                    self.failed = True


def _duration(seconds: float, _: Translate = str) -> str:
    seconds = max(1, int(seconds + 0.999))
    if seconds < 90:
        return _("{count} seconds").format(count=seconds)
    if seconds < 5400:
        return _("{count} minutes").format(count=round(seconds / 60))
    return _("{count} hours").format(count=round(seconds / 3600))
