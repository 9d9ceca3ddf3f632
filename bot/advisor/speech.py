"""Speech to text: a voice note's audio → its transcript, through any OpenAI-compatible
`/audio/transcriptions` endpoint (OpenAI, Groq, a self-hosted faster-whisper or whisper.cpp
server), configured with STT_MODEL, STT_BASE_URL and STT_API_KEY.

It knows nothing of Telegram: a channel checks a voice note's length and size (`check`) before
downloading it, then passes the bytes to `transcribe`. The audio is sent as it came (OGG/Opus
from Telegram); only when the service refuses its format, and ffmpeg is installed, is it
converted to 16 kHz mono WAV and sent once more. Every failure is a `SpeechError` whose `kind`
says which (timeout, an HTTP status, an empty transcript, too long or too large) and whose
`owner_line` says it to the owner in their language. Nothing is loaded at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from dataclasses import dataclass
from typing import Literal

import httpx

from bot.config import Settings
from bot.locales import N_, Translate

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
MB = 1024 * 1024
Kind = Literal["off", "too_long", "too_large", "timeout", "unavailable", "refused", "empty"]

# What the owner reads for each kind of failure (translated by the channel, then formatted).
REASONS: dict[str, str] = {
    "off": N_(
        "I can't listen to voice notes yet: the admin of this bot needs to enable them. Please type your question."
    ),
    "too_long": N_(
        "That voice note is too long for me ({seconds} s; the limit is {limit} s). "
        "Please send a shorter one, or type your question."
    ),
    "too_large": N_(
        "That voice note is too large for me ({size} MB; the limit is {limit} MB). "
        "Please send a shorter one, or type your question."
    ),
    "timeout": N_("Transcribing your voice note took too long. Please try again, or type your question."),
    "unavailable": N_(
        "The speech-to-text service isn't working right now, so I couldn't hear your voice note. "
        "Please try again later, or type your question."
    ),
    "refused": N_("The speech-to-text service couldn't read your voice note. Please type your question."),
    "empty": N_(
        "I couldn't make out any words in that voice note. Please try again somewhere quieter, or type your question."
    ),
}
_FORMAT_WORDS = ("format", "unsupported", "invalid file", "decode", "could not read", "wav")


class SpeechError(Exception):
    """Why a voice note has no transcript: `kind` for code and counts, `detail` for the log,
    `owner_line(_)` for the owner."""

    def __init__(self, kind: Kind, detail: str = "", *, status: int | None = None, **values: object) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
        self.status = status  # the service's HTTP status, when it answered with an error
        self.values = values  # the numbers the owner's line shows

    def owner_line(self, _: Translate) -> str:
        return _(REASONS[self.kind]).format(**self.values)


@dataclass(frozen=True)
class Transcript:
    """What was understood, by which model, how long it took, and whether the audio was converted."""

    text: str
    model: str
    seconds: float
    converted: bool = False


@dataclass(frozen=True)
class SpeechToText:
    """The client for one configured service; `from_settings` gives None without STT_MODEL."""

    model: str
    base_url: str = OPENAI_URL
    api_key: str | None = None
    timeout: float = 60.0
    max_seconds: int = 300
    max_bytes: int = 20 * MB

    @classmethod
    def from_settings(cls, settings: Settings) -> SpeechToText | None:
        if not settings.stt_model:
            return None
        return cls(
            model=settings.stt_model,
            base_url=(settings.stt_base_url or OPENAI_URL).rstrip("/"),
            api_key=settings.stt_api_key.get_secret_value() if settings.stt_api_key else None,
            timeout=settings.stt_timeout,
            max_seconds=settings.voice_max_seconds,
            max_bytes=int(settings.voice_max_mb * MB),
        )

    def check(self, seconds: float | None, size: int | None) -> None:
        """Refuse audio over the limits before anyone downloads it (unknown values pass)."""
        if seconds is not None and seconds > self.max_seconds:
            raise SpeechError("too_long", f"{seconds} s", seconds=round(seconds), limit=self.max_seconds)
        if size is not None and size > self.max_bytes:
            raise SpeechError("too_large", f"{size} bytes", size=_mb(size), limit=_mb(self.max_bytes))

    async def transcribe(self, audio: bytes, filename: str = "voice.ogg", mime_type: str | None = None) -> Transcript:
        """The transcript of `audio`, or a `SpeechError`; never waits longer than the timeout."""
        self.check(None, len(audio))
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    text = await self._post(audio, filename, mime_type or "application/octet-stream")
                    converted = False
                except SpeechError as exc:
                    if not _wants_other_format(exc) or shutil.which("ffmpeg") is None:
                        raise
                    log.info("the speech service refused %s (%s); converting it to WAV", filename, exc.detail)
                    text = await self._post(await to_wav(audio), "voice.wav", "audio/wav")
                    converted = True
        except TimeoutError:
            raise SpeechError("timeout", f"no transcript within {self.timeout:.0f} s") from None
        text = " ".join(text.split())
        if not text:
            raise SpeechError("empty", "the service returned an empty transcript")
        return Transcript(text, self.model, time.perf_counter() - started, converted)

    async def _post(self, audio: bytes, filename: str, mime_type: str) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        files = {"file": (filename, audio, mime_type)}
        data = {"model": self.model, "response_format": "json"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(
                    f"{self.base_url}/audio/transcriptions", headers=headers, data=data, files=files
                )
        except httpx.TimeoutException:
            raise SpeechError("timeout", f"no answer within {self.timeout:.0f} s") from None
        except httpx.HTTPError as exc:
            raise SpeechError("unavailable", f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            kind: Kind = "too_large" if response.status_code == 413 else "refused"
            if response.status_code >= 500 or response.status_code in (408, 429):
                kind = "unavailable"
            values = {"size": _mb(len(audio)), "limit": _mb(self.max_bytes)} if kind == "too_large" else {}
            detail = f"HTTP {response.status_code}: {response.text[:300]}"
            raise SpeechError(kind, detail, status=response.status_code, **values)
        return _text_of(response)


def _text_of(response: httpx.Response) -> str:
    """`{"text": …}` (response_format=json), or a plain-text body from servers that ignore it.
    Anything else (a proxy's or a login page's HTML, an image) is no transcript: it used to be
    answered as the owner's question."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if "json" not in content_type:
        if content_type not in ("", "text/plain") or response.text.lstrip()[:1] == "<":
            raise SpeechError("unavailable", f"the service answered with {content_type or 'markup'}, not a transcript")
        return response.text
    try:
        body = response.json()
    except ValueError:
        raise SpeechError("refused", "the service answered with invalid JSON") from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise SpeechError("refused", f"no text in the service's answer: {str(body)[:200]}")
    return text


def _wants_other_format(error: SpeechError) -> bool:
    return error.status in (400, 415, 422) and any(word in error.detail.lower() for word in _FORMAT_WORDS)


async def to_wav(audio: bytes) -> bytes:
    """16 kHz mono 16-bit WAV, what whisper.cpp's server reads without --convert (ffmpeg)."""
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-i", "pipe:0", "-ar", "16000", "-ac", "1", "-f", "wav", "pipe:1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        wav, errors = await process.communicate(audio)
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise
    if process.returncode != 0 or not wav:
        raise SpeechError("refused", f"ffmpeg could not convert the audio: {errors.decode(errors='replace')[:200]}")
    return wav


def _mb(size: int) -> str:
    return f"{size / MB:.1f}".removesuffix(".0")
