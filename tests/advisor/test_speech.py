"""The speech-to-text client on its own, against the fake server: audio a service refuses in its
own format is converted to WAV with ffmpeg (when installed) and sent once more."""

from __future__ import annotations

import shutil

import pytest

from bot.advisor.speech import SpeechError, SpeechToText
from tests.fakes.stt_server import FakeSpeech, Page, Text
from tests.helpers import ROOT

VOICE = (ROOT / "tests" / "fixtures" / "voice_question.ogg").read_bytes()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_a_service_that_reads_only_wav_gets_wav():
    with FakeSpeech(wav_only=True) as server:
        client = SpeechToText("whisper.cpp", server.base_url, timeout=20)
        transcript = await client.transcribe(VOICE, "voice.ogg", "audio/ogg")
        first, second = server.uploads
    assert transcript.text == "How can I get credit without collateral?" and transcript.converted
    assert first.content.startswith(b"OggS") and second.content.startswith(b"RIFF")
    assert second.filename == "voice.wav" and len(second.content) > 16_000 * 2 * 2  # over 2 s of 16 kHz 16-bit


async def test_audio_over_the_limit_is_refused_before_it_is_sent():
    with FakeSpeech() as server:
        client = SpeechToText("whisper-1", server.base_url, max_bytes=1000)
        with pytest.raises(SpeechError) as refused:
            await client.transcribe(VOICE)
    assert refused.value.kind == "too_large" and not server.uploads


@pytest.mark.parametrize(
    "page",
    [
        Page("<!doctype html><html><title>Sign in</title><body>Please log in</body></html>"),
        Page("<html><body>502 Bad Gateway</body></html>", "text/plain"),
        Page("\x89PNG...", "image/png"),
    ],
    ids=["html", "html-as-text", "image"],
)
@pytest.mark.hostile
async def test_a_page_that_is_not_a_transcript_is_not_taken_for_one(page):
    """A proxy's or a login wall's HTML page (status 200) was taken as the transcript, and
    answered as the owner's question."""
    with FakeSpeech(lambda upload: page) as server:
        client = SpeechToText("whisper-1", server.base_url, timeout=20)
        with pytest.raises(SpeechError) as caught:
            await client.transcribe(VOICE, "voice.ogg", "audio/ogg")
    assert caught.value.kind == "unavailable"


async def test_a_plain_text_transcript_is_still_read():
    with FakeSpeech(lambda upload: Text("unused")) as server:
        server.responder = lambda upload: Page("How do I price cakes?", "text/plain")
        client = SpeechToText("whisper-1", server.base_url, timeout=20)
        assert (await client.transcribe(VOICE, "voice.ogg", "audio/ogg")).text == "How do I price cakes?"
