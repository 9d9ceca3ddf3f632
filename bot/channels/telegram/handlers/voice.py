"""Voice notes and audio messages, asked the way owners ask while driving or in the shop.

A voice note (or an audio message) is checked against VOICE_MAX_SECONDS and VOICE_MAX_MB,
downloaded, transcribed (`bot.advisor.speech`) and answered like a typed question; the answer
opens with the transcript in italics ("You asked: …") and the turn is stored with
`input_kind='voice'` and the transcript as its question. The audio is kept only with
STORE_AUDIO=true (`bot.storage.AudioFolder`). Without STT_MODEL the owner is told in one line
that the admin needs to enable voice, and /stats counts the voice note as unanswered; every
fault (download, timeout, the service's errors, an empty transcript, over-long audio) gets its
own owner line and is counted as failed (and not against the owner's question limits).
(Photos are `photos`.)
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings

from telegram import Audio, Update, Voice
from telegram.ext import MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from bot.advisor.speech import REASONS, SpeechError, Transcript
from bot.channels.telegram.handlers.deps import (
    MESSAGES,
    BotContext,
    BotDeps,
    addressed_to_bot,
    downloaded,
    is_private,
    texts_of,
    user_key,
)
from bot.channels.telegram.handlers.handover import handed_over
from bot.channels.telegram.handlers.streaming import answer_question, give_back, typing, within_limits
from bot.storage import AudioFolder

log = logging.getLogger(__name__)

SHOWN_CHARACTERS = 300  # of the transcript, in the "You asked: …" line
EXTENSIONS = {
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/aac": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/webm": "webm",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
}
UNANSWERED, FAILED = "voice_unanswered", "voice_failed"  # the events /stats counts


async def voice_message(update: Update, context: BotContext) -> None:
    """A voice note or audio message: transcribed, then answered like a typed question."""
    if not addressed_to_bot(update, context.bot.username, context.bot.id):
        return
    deps, message = context.deps, update.effective_message
    _ = texts_of(update, context)
    if deps.speech is None:
        await _count(deps, UNANSWERED, update)
        await message.reply_text(_(REASONS["off"]))
        return
    if not await within_limits(update, context, keep=True):  # counted before transcribing: transcripts cost too
        return
    transcript = await _transcribe(update, context)
    if transcript is None:  # not answered: it does not count
        await give_back(update, context)
        return
    if is_private(update) and await handed_over(update, context, f"🎤 {transcript.text}"):
        return  # a consultant has the owner's request: the transcript goes to them
    lead = you_asked(transcript.text, _)
    await answer_question(update, context, transcript.text, input_kind="voice", lead=lead, counted=True)


async def _transcribe(update: Update, context: BotContext) -> Transcript | None:
    """The transcript, or None after telling the owner why there is none (and counting it)."""
    deps, message = context.deps, update.effective_message
    media: Voice | Audio = message.voice or message.audio
    _ = texts_of(update, context)
    try:
        deps.speech.check(_seconds(media), media.file_size)
        audio = await downloaded(media, deps.speech.timeout, "a voice note")
        if audio is None:
            await _count(deps, FAILED, update)
            await message.reply_text(
                _("I couldn't download your voice note from Telegram. Please send it again, or type your question.")
            )
            return None
        filename = _filename(media)
        if deps.settings.store_audio:
            _keep(deps, update, filename, audio)
        async with typing(context.bot, update.effective_chat.id):
            transcript = await deps.speech.transcribe(audio, filename, media.mime_type)
    except SpeechError as exc:
        log.warning("voice note of %s not transcribed: %s", user_key(update), exc)
        await _count(deps, FAILED, update)
        await message.reply_text(exc.owner_line(_))
        return None
    log.info(
        "voice note of %s transcribed in %.1f s (%d characters%s)",
        user_key(update),
        transcript.seconds,
        len(transcript.text),
        ", converted to WAV" if transcript.converted else "",
    )
    return transcript


def _seconds(media: Voice | Audio) -> float | None:
    """The duration Telegram gives (an int today, a timedelta in a later python-telegram-bot)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = media.duration
    return value.total_seconds() if isinstance(value, dt.timedelta) else value


def _filename(media: Voice | Audio) -> str:
    """A name whose extension tells the service the format (OpenAI reads it from the name)."""
    name = getattr(media, "file_name", None)
    if name and "." in name:
        return name
    return f"voice.{EXTENSIONS.get((media.mime_type or '').lower(), 'ogg')}"


def _keep(deps: BotDeps, update: Update, filename: str, audio: bytes) -> None:
    """STORE_AUDIO=true: keep the audio; a failing disk never stops the answer."""
    try:
        name = f"{update.effective_message.message_id}.{filename.rsplit('.', 1)[-1]}"
        AudioFolder.under(deps.settings.data_dir).keep(user_key(update), name, audio)
    except OSError:
        log.exception("could not keep the audio of a voice note of %s", user_key(update))


async def _count(deps: BotDeps, kind: str, update: Update) -> None:
    try:
        await deps.storage.record_event(kind, user_key(update))
    except Exception:
        log.exception("could not count a %s event", kind)


def you_asked(transcript: str, _) -> str:
    """The line an answer to a voice note opens with (shown in italics): what was understood."""
    shown = transcript if len(transcript) <= SHOWN_CHARACTERS else transcript[: SHOWN_CHARACTERS - 1].rstrip() + "…"
    shown = shown.translate(str.maketrans("", "", "_*`"))  # Markdown would break the italics
    return _("You asked: {question}").format(question=shown)


HANDLERS = [
    MessageHandler(MESSAGES & (filters.VOICE | filters.AUDIO), voice_message),
]
