"""The question limits as owners meet them: only answered questions count (not failed voice notes,
not small talk), and a question over the minute's limit is kept and answered when the limit
allows, with a few waiting at most; a restart while they wait tells the owner."""

from __future__ import annotations

import re
import time

import pytest

from bot.storage import Storage, TurnFilter
from tests.fakes.openai_server import Error
from tests.fakes.stt_server import FakeSpeech
from tests.helpers import ROOT
from tests.helpers.telegram import CREDIT_Q, OWNER, answers, asked

VOICE = (ROOT / "tests" / "fixtures" / "voice_question.ogg").read_bytes()
KEPT = re.compile(r"You've asked a lot of questions this minute — I'll answer this one in (\d+) seconds\.")
AFTER = "You've asked a lot of questions this minute — I'll answer this one after the ones waiting."


@pytest.fixture
def stt():
    with FakeSpeech(lambda upload: Error(503, "overloaded")) as server:
        yield server


def answered(telegram) -> int:
    return sum("<b>Sources</b>" in text for text in answers(telegram, OWNER))


async def test_only_answered_questions_count_and_one_over_the_limit_is_answered_when_it_may_be(
    start_bot, telegram, stt
):
    speech = {"stt_model": "whisper-test", "stt_base_url": stt.base_url, "stt_api_key": "k", "stt_timeout": 5}
    bot = await start_bot(**speech, questions_per_minute=2)
    for _ in range(2):  # two voice notes the speech service fails on: not answered, not counted
        before = len(answers(telegram, OWNER))
        telegram.voice(OWNER, VOICE)
        await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, what="the voice note's line")  # noqa: B023
        assert "isn't working right now" in answers(telegram, OWNER)[-1]
    [welcome] = await asked(telegram, OWNER, "thanks!")  # small talk: never counted
    assert welcome.startswith("You're welcome!")
    [first] = await asked(telegram, OWNER, CREDIT_Q)
    asked_second = time.monotonic()
    [second] = await asked(telegram, OWNER, "Should I sell cross-border?")
    assert "<b>Sources</b>" in first and "<b>Sources</b>" in second

    # the third this minute is kept, not dropped: told when, and answered then
    [kept] = await asked(telegram, OWNER, "What about tariffs?")
    assert (match := KEPT.fullmatch(kept)) and 50 <= int(match[1]) <= 60, kept
    for n in range(4):  # four more wait behind it, each told so at once
        [waits] = await asked(telegram, OWNER, f"And what about export credit {n}?")
        assert waits == AFTER
    [refused] = await asked(telegram, OWNER, "And one question too many?")
    assert refused == "You've asked a lot of questions — 5 are waiting already. Please send this one again in a minute."
    assert answered(telegram) == 2
    # (the two slots free ~0.1 s apart, so both answers may arrive between two looks: at least)
    await telegram.wait_for(lambda: answered(telegram) >= 3, 70, "the kept question's answer")
    assert time.monotonic() - asked_second > 50  # not before the limit allowed it
    await telegram.wait_for(lambda: answered(telegram) >= 4, 70, "the next one's, when the second slot frees")

    before = len(answers(telegram, OWNER))
    await bot.stop()  # a restart while three still wait: each owner's question is not lost silently
    restarting = [t for t in answers(telegram, OWNER)[before:] if t.startswith("I'm restarting")]
    assert len(restarting) == 3 and answered(telegram) == 4
    storage = await Storage.open(bot.settings.database)
    try:
        turns = [t.question for t in reversed(await storage.list_turns(TurnFilter(user=f"tg:{OWNER}")))]
    finally:
        await storage.close()
    kept_ones = ["What about tariffs?", "And what about export credit 0?"]
    assert turns == ["thanks!", CREDIT_Q, "Should I sell cross-border?", *kept_ones]  # each answered once
