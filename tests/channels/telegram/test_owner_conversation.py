"""The owner's conversation with the real `python -m bot run` and a fake Bot API: small talk,
unknown commands, help and menus by audience, /cancel, a question while another is answered,
long pastes, the guided profile, drafts, and suggested next questions."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3

import pytest

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import ROOT, run_cli
from tests.helpers.live_bot import running_bot
from tests.helpers.telegram import CREDIT_Q

OWNER, ADMIN = 111, 1


def env_for(tmp_path, shared_index_dir, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
    env.update(
        KNOWLEDGE_DIR=str(ROOT / "knowledge"),
        DATA_DIR=str(tmp_path),
        INDEX_DIR=str(shared_index_dir / "index"),
        ADMIN_USER_IDS=str(ADMIN),
        DRAFT_INTERVAL="0.2",
    )
    env.update(extra)
    return env


async def said(telegram: FakeTelegram, chat: int, text: str, count: int = 1, timeout: float = 30) -> list[str]:
    """What the bot sends to `chat` after `text` (the next `count` messages)."""
    before = len(telegram.texts(chat))
    telegram.message(chat, text)
    await telegram.wait_for(lambda: len(telegram.texts(chat)) >= before + count, timeout, f"a reply to {text!r}")
    return telegram.texts(chat)[before:]


def turns(tmp_path) -> list[dict]:
    with sqlite3.connect(tmp_path / "transcripts.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("select * from turns order by id")]


async def test_small_talk_unknown_commands_and_help_by_audience(tmp_path, shared_index_dir):
    env = env_for(tmp_path, shared_index_dir, QUESTIONS_PER_MINUTE="1")
    async with running_bot(env, tmp_path / "bot.log") as telegram:
        [hello] = await said(telegram, OWNER, "hi")
        assert hello.startswith("Hello! I'm SME Advisor.") and "Try one of these:" in hello
        keyboard = telegram.calls_of("sendMessage", OWNER)[-1].params["reply_markup"]["inline_keyboard"]
        assert keyboard[0][0]["callback_data"] == "ask:0"
        for text, start in [
            ("thanks!", "You're welcome!"),
            ("ok", "👍"),
            ("Who are you?", "I'm SME Advisor, an assistant"),
            ("what can you do?", "I give short, practical answers"),
        ]:
            [reply] = await said(telegram, OWNER, text)
            assert reply.startswith(start), (text, reply)
        [answer] = await said(telegram, OWNER, CREDIT_Q)  # small talk did not use up the one question a minute
        assert "<b>Sources</b>" in answer
        [limited] = await said(telegram, OWNER, "Should I sell cross-border?")
        assert "try again in" in limited

        [unknown] = await said(telegram, OWNER, "/foo")
        assert unknown == "I don't know /foo. /help lists what I can do."
        [owner_help] = await said(telegram, OWNER, "/help")
        [admin_help] = await said(telegram, ADMIN, "/help")
        assert "/cancel" in owner_help and "/stats" not in owner_help
        assert "For admins:" in admin_help and "/stats" in admin_help and "/block" in admin_help
        [gaps] = await said(telegram, ADMIN, "/gaps")
        assert gaps == "No knowledge gaps in the last 30 days."  # "hi" and "thanks" are not gaps

        menus = telegram.calls_of("setMyCommands")
        default = [c for c in menus if "scope" not in c.params]
        admin = [c for c in menus if (c.params.get("scope") or {}).get("chat_id") == ADMIN]
        assert default and "stats" not in {c["command"] for c in default[0].params["commands"]}
        assert admin and {"stats", "gaps", "block"} <= {c["command"] for c in admin[0].params["commands"]}
    stored = turns(tmp_path)
    assert [t["mode"] for t in stored[:5]] == ["smalltalk"] * 5
    assert not any(t["mode"] == "llm" for t in stored)


@pytest.fixture
def slow_llm():
    """An LLM that streams its answer slowly: time to /cancel it, or to ask something else."""
    text = "**Invoice finance** turns unpaid invoices into cash [1]. Supplier credit buys time [2]. " * 3
    with FakeOpenAI(lambda body: Reply(text, piece=8, piece_delay=0.15)) as server:
        yield server


async def test_cancel_stops_the_answer_and_a_new_question_waits_its_turn(tmp_path, shared_index_dir, slow_llm):
    env = env_for(tmp_path, shared_index_dir, LLM_MODEL="openai:fake", LLM_BASE_URL=slow_llm.base_url)
    async with running_bot(env, tmp_path / "bot.log") as telegram:
        await said(telegram, OWNER, "thanks!")
        assert slow_llm.requests == []  # small talk never reaches the model
        telegram.message(OWNER, CREDIT_Q)
        await telegram.wait_for(lambda: telegram.calls_of("sendMessageDraft", OWNER), what="the answer to stream")
        [help_text] = await said(telegram, OWNER, "/help", timeout=3)  # not queued behind the answer
        assert "/cancel" in help_text
        bold = lambda: any("<b>" in d.params["text"] for d in telegram.calls_of("sendMessageDraft", OWNER))  # noqa: E731
        await telegram.wait_for(bold, what="a draft with the bold rendered")
        drafts = telegram.calls_of("sendMessageDraft", OWNER)
        assert all(d.params["parse_mode"] == "HTML" for d in drafts)
        [stopped] = await said(telegram, OWNER, "/cancel", timeout=3)
        assert stopped.startswith("Stopped.")
        await asyncio.sleep(3)
        assert telegram.texts(OWNER)[-1] == stopped  # nothing half-written was sent after it
        assert [t["cancelled"] for t in turns(tmp_path) if t["mode"] != "smalltalk"] == [1]
        [nothing] = await said(telegram, OWNER, "/cancel")
        assert "nothing to cancel" in nothing

        telegram.message(OWNER, CREDIT_Q)
        await telegram.wait_for(lambda: len(telegram.calls_of("sendMessageDraft", OWNER)) > len(drafts) + 1)
        waiting = await said(telegram, OWNER, "Should I sell cross-border?", count=3, timeout=60)
        assert waiting[0] == "I'm still answering your previous question; I'll answer this one right after."
        assert all("<b>Invoice finance</b>" in w for w in waiting[1:])  # both answered, in order
    questions = [(t["question"], t["cancelled"]) for t in turns(tmp_path) if t["mode"] != "smalltalk"]
    assert questions == [(CREDIT_Q, 1), (CREDIT_Q, 0), ("Should I sell cross-border?", 0)]


async def test_a_long_paste_is_answered_once_with_its_question(tmp_path, shared_index_dir):
    background = "We are a family bakery in Lyon with six staff, two shops and a market stall. " * 60
    async with running_bot(env_for(tmp_path, shared_index_dir), tmp_path / "bot.log") as telegram:
        telegram.message(OWNER, background[:4000])  # Telegram splits a long paste like this
        await asyncio.sleep(0.3)
        telegram.message(OWNER, background[4000:] + " Our cash is tight every winter. " + CREDIT_Q)
        await telegram.wait_for(lambda: telegram.texts(OWNER), what="the answer")
        await asyncio.sleep(3)
        [answer] = telegram.texts(OWNER)
    assert answer.startswith(f"<i>Your message was long, so I answered its question (“{CREDIT_Q}”) with the ")
    assert "collateral" in answer.lower() and "<b>Sources</b>" in answer
    [turn] = turns(tmp_path)
    assert turn["question"].endswith(CREDIT_Q) and len(turn["question"]) < len(background)


async def test_the_guided_profile_and_its_use(tmp_path, shared_index_dir):
    async with running_bot(env_for(tmp_path, shared_index_dir), tmp_path / "bot.log") as telegram:
        [intro, industry] = await said(telegram, OWNER, "/profile", count=2)
        assert "/skip" in intro and "/cancel" in intro and industry.startswith("What does your business do?")
        buttons = telegram.calls_of("sendMessage", OWNER)[-1].params["reply_markup"]["inline_keyboard"]
        assert [row[0]["text"] for row in buttons][:2] == ["Retail shop", "Food & drink"]
        before = len(telegram.texts(OWNER))
        telegram.press(OWNER, buttons[1][0]["callback_data"], telegram.calls_of("sendMessage", OWNER)[-1].result)
        await telegram.wait_for(lambda: len(telegram.texts(OWNER)) > before, what="the staff question")
        assert telegram.texts(OWNER)[-1].startswith("How many people work in it")
        [region] = await said(telegram, OWNER, "6")
        assert region.startswith("Which country or region")
        [stage] = await said(telegram, OWNER, "/skip")
        assert stage.startswith("Where is the business now?")
        [name] = await said(telegram, OWNER, "Growing")  # typed instead of tapped: also fine
        assert name.startswith("What is the business called?")
        [goals] = await said(telegram, OWNER, "Rosie's Cakes & Co")
        assert goals.startswith("Last one")
        [stopped] = await said(telegram, OWNER, "/cancel")
        assert "saved" in stopped
        [again] = await said(telegram, OWNER, "/profile goals=two more shops by 2030 region=Rhône-Alpes, France")
        assert "Goals: two more shops by 2030" in again and "Region/country: Rhône-Alpes, France" in again
        [bad] = await said(telegram, OWNER, "/profile staff=lots")
        assert "staff must be a whole number" in bad
        await said(telegram, OWNER, CREDIT_Q)
    shown = run_cli("transcripts", "show", str(turns(tmp_path)[-1]["id"]), env={"DATA_DIR": str(tmp_path)})
    assert "Profile: business_name Rosie's Cakes & Co, industry food and drink, staff 6" in shown.stdout
    profile = json.loads(turns(tmp_path)[-1]["profile"])
    assert profile == {
        "business_name": "Rosie's Cakes & Co",
        "industry": "food and drink",
        "staff": 6,
        "region": "Rhône-Alpes, France",
        "stage": "Growing",
        "goals": "two more shops by 2030",
    }


async def test_suggested_next_questions_ask_when_tapped(tmp_path, shared_index_dir):
    async with running_bot(env_for(tmp_path, shared_index_dir), tmp_path / "bot.log") as telegram:
        await said(telegram, OWNER, "How do I get working capital without collateral?")
        call = telegram.calls_of("sendMessage", OWNER)[-1]
        _, *rows = call.params["reply_markup"]["inline_keyboard"]
        next_rows = [row for row in rows if row[0]["callback_data"].startswith("next:")]  # (a "Remind me" row too)
        assert 1 <= len(next_rows) <= 2
        question = next_rows[0][0]["text"]
        assert question.endswith("?") and len(question) <= 60
        before = len(telegram.texts(OWNER))
        telegram.press(OWNER, next_rows[0][0]["callback_data"], call.result)
        await telegram.wait_for(lambda: len(telegram.texts(OWNER)) > before, what="the next question's answer")
        assert "<b>Sources</b>" in telegram.texts(OWNER)[-1]
    assert turns(tmp_path)[-1]["question"] == question
