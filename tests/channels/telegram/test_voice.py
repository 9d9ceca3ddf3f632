"""Voice notes and photos, end to end: a real OGG/Opus voice note goes through the fake Bot API
(getFile, the file download) to a fake speech-to-text server and is answered like a typed
question, opening with what was understood; every fault and speech-to-text switched off each
give the owner their line, and /stats counts what went unanswered.

tests/fixtures/voice_question.ogg ("How can I get credit without collateral?", 2.5 s) was made with
  espeak-ng -v en-us -s 165 -w q.wav "How can I get credit without collateral?"
  ffmpeg -i q.wav -ac 1 -ar 16000 -c:a libopus -b:a 16k -application voip voice_question.ogg
"""

from __future__ import annotations

import stat

import pytest

from bot.storage import TurnFilter
from tests.fakes.openai_server import Error, Hang, last_user_message
from tests.fakes.stt_server import FakeSpeech, Text
from tests.helpers import ROOT
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked, sent_message

VOICE = (ROOT / "tests" / "fixtures" / "voice_question.ogg").read_bytes()
# What the stand-in speech service hears. (The recording says "How can I get credit without
# collateral?"; with an LLM, one embedding space judges it 0.78 sure against a threshold of 0.79
# since the library grew, and it is declined: the test is about voice, so it hears the question
# the advisor answers surely.)
HEARD = CREDIT_Q


@pytest.fixture
def stt():
    with FakeSpeech(lambda upload: Text(HEARD)) as server:
        yield server


async def replies(telegram, push, chat: int = OWNER, count: int = 1) -> list[str]:
    """Push an update (`push()`), then wait until `count` more messages reached the chat."""
    before = len(answers(telegram, chat))
    push()
    await telegram.wait_for(lambda: len(answers(telegram, chat)) >= before + count, what="the bot's reply")
    return answers(telegram, chat)[before:]


async def test_a_voice_note_is_transcribed_and_answered_and_every_fault_has_its_line(start_bot, telegram, llm, stt):
    speech = {"stt_model": "whisper-test", "stt_base_url": stt.base_url, "stt_api_key": "stt-key", "stt_timeout": 1.5}
    bot = await start_bot(**speech, voice_max_mb=1, store_audio=True, questions_per_minute=3)
    [answer] = await replies(telegram, lambda: telegram.voice(OWNER, VOICE, duration=3))
    assert answer.startswith(f"<i>You asked: {HEARD}</i>\n\n"), answer
    assert "<b>invoice finance</b>" in answer
    [upload] = stt.uploads
    assert upload.content == VOICE and upload.content.startswith(b"OggS")
    assert (upload.model, upload.filename, upload.authorization) == ("whisper-test", "voice.ogg", "Bearer stt-key")
    assert f"<question>\n{HEARD}\n</question>" in last_user_message(llm.requests[-1])
    [turn] = await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"))
    assert (turn.question, turn.input_kind, turn.mode) == (HEARD, "voice", "llm")
    [kept] = (bot.settings.data_dir / "audio" / f"tg-{OWNER}").iterdir()
    assert kept.read_bytes() == VOICE and stat.S_IMODE(kept.stat().st_mode) == 0o600

    # a photo: its caption is the question; without one, the owner is asked what they want to know
    [answer] = await replies(telegram, lambda: telegram.photo(OWNER, CREDIT_Q))
    assert "invoice finance" in answer and "You asked" not in answer
    assert (await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}")))[0].input_kind == "photo"
    [line] = await replies(telegram, lambda: telegram.photo(OWNER))
    assert line.startswith("What would you like to know about this photo?")

    # faults: each gets its own line, nothing crashes, no answer is made up
    faults = [
        (Error(503, "overloaded"), "isn't working right now"),
        (Error(401, "Incorrect API key"), "couldn't read your voice note"),
        (Text("  \n "), "couldn't make out any words"),
        (Hang(), "took too long"),
    ]
    for rule, expected in faults:
        stt.responder = lambda upload, rule=rule: rule
        [line] = await replies(telegram, lambda: telegram.voice(OWNER, VOICE))
        assert expected in line, (rule, line)
    uploads, downloads = len(stt.uploads), len(telegram.calls_of("download"))
    [line] = await replies(telegram, lambda: telegram.voice(OWNER, VOICE, duration=1000))
    assert "too long for me (1000 s; the limit is 300 s)" in line
    [line] = await replies(telegram, lambda: telegram.voice(OWNER, VOICE, file_size=5 * 1024 * 1024))
    assert "too large for me (5 MB; the limit is 1 MB)" in line
    assert (len(stt.uploads), len(telegram.calls_of("download"))) == (uploads, downloads)  # refused before download
    assert len(await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"))) == 2
    [stats] = await asked(telegram, ADMIN, "/stats")
    assert "Voice notes unanswered: 0; not transcribed (faults, limits): 6" in stats

    # the faults did not count against the limit (3 a minute): one more question is answered; the
    # next, a voice note, waits for the limit before anything is transcribed, and /cancel stops it
    [answer] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in answer
    [line] = await replies(telegram, lambda: telegram.voice(OWNER, VOICE))
    assert line.startswith("You've asked a lot of questions this minute — I'll answer this one in"), line
    [stopped] = await asked(telegram, OWNER, "/cancel")
    assert stopped.startswith("Stopped.") and len(stt.uploads) == uploads

    # /forget deletes the kept audio with everything else
    await asked(telegram, OWNER, "/forget")
    telegram.press(OWNER, "forget:yes", sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: telegram.calls_of("editMessageText", OWNER), what="/forget's confirmation")
    assert not (bot.settings.data_dir / "audio" / f"tg-{OWNER}").exists()


async def test_without_speech_to_text_the_owner_is_told_and_admins_see_the_count(start_bot, telegram, llm):
    bot = await start_bot()
    [line] = await replies(telegram, lambda: telegram.voice(OWNER, VOICE))
    assert "the admin of this bot needs to enable them" in line
    assert not telegram.calls_of("getFile") and not llm.requests
    assert not (bot.settings.data_dir / "audio").exists()
    [line] = await replies(telegram, lambda: telegram.message(OWNER, extra={"sticker": STICKER}))
    assert line == "I can only read text questions — please type yours."
    [stats] = await asked(telegram, ADMIN, "/stats")
    assert "Voice notes unanswered: 1 (speech-to-text is off: set STT_MODEL)" in stats


STICKER = {
    "file_id": "s1",
    "file_unique_id": "su1",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}
