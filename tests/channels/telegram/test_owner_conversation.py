"""The owner's conversation with the real `python -m bot run` and a fake Bot API: small talk,
unknown commands, help and menus by audience, /cancel (down to the model's stream), a question
while another is answered (and buttons pressed meanwhile), long pastes, the guided profile at
every step and /profile key=value, drafts, and suggested next questions."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time

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
        assert "I'll answer this one in" in limited

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


SLOW_ANSWER = "**Invoice finance** turns unpaid invoices into cash [1]. Supplier credit buys time [2]. " * 3
SLOWEST_Q = "Should I sell cross-border?"


@pytest.fixture
def slow_llm():
    """An LLM that streams its answer slowly: time to /cancel it, to ask something else, or to
    press a button under an earlier answer (SLOWEST_Q's answer takes longest, about 8 s)."""

    def reply(body: dict) -> Reply:
        slowest = any(SLOWEST_Q in str(m.get("content")) for m in body["messages"])
        return Reply(SLOW_ANSWER, piece=8, piece_delay=0.25 if slowest else 0.15)

    with FakeOpenAI(reply) as server:
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
        assert all(d.params["parse_mode"] == "HTML" for d in telegram.calls_of("sendMessageDraft", OWNER))
        [stopped] = await said(telegram, OWNER, "/cancel", timeout=3)
        assert stopped.startswith("Stopped.")
        stopped_at = telegram.calls_of("sendMessage", OWNER)[-1].at
        drafts = telegram.calls_of("sendMessageDraft", OWNER)
        await asyncio.sleep(3)  # the whole answer would have streamed by now
        assert telegram.texts(OWNER)[-1] == stopped  # nothing half-written was sent after it
        assert telegram.calls_of("sendMessageDraft", OWNER) == drafts  # the drafts stopped growing
        late = [c for m in ("sendMessageDraft", "editMessageText") for c in telegram.calls_of(m) if c.at > stopped_at]
        assert late == []  # not even one draft in flight: the answer's stream ended before "Stopped."
        [cancelled] = slow_llm.answer_requests()
        assert "_finished_at" not in cancelled and "_disconnected_at" in cancelled  # the bot hung up on the model
        assert cancelled["_pieces_sent"] < len(SLOW_ANSWER) / 8 and cancelled["_disconnected_at"] < stopped_at + 1
        assert [t["cancelled"] for t in turns(tmp_path) if t["mode"] != "smalltalk"] == [1]
        [nothing] = await said(telegram, OWNER, "/cancel")
        assert "nothing to cancel" in nothing

        telegram.message(OWNER, CREDIT_Q)
        await telegram.wait_for(lambda: len(telegram.calls_of("sendMessageDraft", OWNER)) > len(drafts) + 1)
        waiting, first = await said(telegram, OWNER, SLOWEST_Q, count=2, timeout=60)
        assert waiting == "I'm still answering your previous question; I'll answer this one right after."
        assert "<b>Invoice finance</b>" in first
        # while SLOWEST_Q's answer is prepared, the buttons under the first answer work at once
        answer = telegram.calls_of("sendMessage", OWNER)[-1]
        [thumbs_up, _thumbs_down, sources] = answer.params["reply_markup"]["inline_keyboard"][0]
        before, pressed = len(telegram.texts(OWNER)), time.monotonic()
        telegram.press(OWNER, thumbs_up["callback_data"], answer.result)
        telegram.press(OWNER, sources["callback_data"], answer.result)
        thanks = lambda: [c.params["text"] for c in telegram.calls_of("answerCallbackQuery") if "text" in c.params]  # noqa: E731
        await telegram.wait_for(thanks, 3, "👍's thanks, not queued behind the slow answer")
        await telegram.wait_for(lambda: len(telegram.texts(OWNER)) > before, 3, "the sources, not queued either")
        assert time.monotonic() - pressed < 3 and thanks() == ["Thanks for the feedback!"]
        assert telegram.texts(OWNER)[-1].startswith("<b>[1] ")  # the sources came before the slow answer
        await telegram.wait_for(lambda: len(telegram.texts(OWNER)) > before + 1, 60, "the slow answer")
        assert "<b>Invoice finance</b>" in telegram.texts(OWNER)[-1]  # both answered, in order
    questions = [(t["question"], t["cancelled"]) for t in turns(tmp_path) if t["mode"] != "smalltalk"]
    assert questions == [(CREDIT_Q, 1), (CREDIT_Q, 0), (SLOWEST_Q, 0)]


async def test_a_tapped_question_waits_its_turn_and_cancel_stops_the_one_being_answered(
    tmp_path, shared_index_dir, slow_llm
):
    """A suggested next question tapped during a slow answer is a question like a typed one: it
    waits (the owner is told), /cancel stops the answer in progress, then the tapped one is answered."""
    env = env_for(tmp_path, shared_index_dir, LLM_MODEL="openai:fake", LLM_BASE_URL=slow_llm.base_url)
    async with running_bot(env, tmp_path / "bot.log") as telegram:
        await said(telegram, OWNER, CREDIT_Q, timeout=60)
        answer = telegram.calls_of("sendMessage", OWNER)[-1]
        rows = answer.params["reply_markup"]["inline_keyboard"]
        tap = next(row[0] for row in rows if row[0]["callback_data"].startswith("next:"))
        drafts = len(telegram.calls_of("sendMessageDraft", OWNER))
        telegram.message(OWNER, SLOWEST_Q)
        await telegram.wait_for(lambda: len(telegram.calls_of("sendMessageDraft", OWNER)) > drafts + 1, what="drafts")
        before = len(telegram.texts(OWNER))
        telegram.press(OWNER, tap["callback_data"], answer.result)
        await telegram.wait_for(lambda: len(telegram.texts(OWNER)) > before, 5, "the tap to be told it waits")
        assert telegram.texts(OWNER)[-1].startswith("I'm still answering your previous question")
        assert len(slow_llm.answer_requests()) == 2  # the tapped question has not reached the model
        [stopped] = await said(telegram, OWNER, "/cancel", timeout=3)
        assert stopped.startswith("Stopped.")
        await telegram.wait_for(lambda: len(telegram.texts(OWNER)) > before + 2, 60, "the tapped question's answer")
        assert "<b>Sources</b>" in telegram.texts(OWNER)[-1]
        await asyncio.sleep(1)
        assert telegram.texts(OWNER)[-2] == stopped  # the cancelled answer never came
    questions = [(t["question"], t["cancelled"]) for t in turns(tmp_path)]
    assert questions == [(CREDIT_Q, 0), (SLOWEST_Q, 1), (tap["text"], 0)]


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


async def test_a_long_paste_sent_while_an_answer_streams_is_answered_once(tmp_path, shared_index_dir, slow_llm):
    """A paste Telegram split, sent while another answer is prepared, is answered as one question,
    as when the chat is idle: the wait for its rest starts when its turn comes. (Its second part
    was answered on its own when it reached the bot just after the first answer went out: the
    first part had arrived seconds before, so its wait was over at once.)"""
    background = "We are a family bakery in Lyon with six staff, two shops and a market stall. " * 60
    env = env_for(tmp_path, shared_index_dir, LLM_MODEL="openai:fake", LLM_BASE_URL=slow_llm.base_url)
    async with running_bot(env, tmp_path / "bot.log") as telegram:
        telegram.message(OWNER, SLOWEST_Q)
        await telegram.wait_for(lambda: telegram.calls_of("sendMessageDraft", OWNER), what="the first answer to stream")
        telegram.message(OWNER, background[:4000])
        answered = lambda: [t for t in telegram.texts(OWNER) if "<b>Sources</b>" in t]  # noqa: E731
        await telegram.wait_for(lambda: answered(), 60, "the first answer")
        await asyncio.sleep(0.3)
        telegram.message(OWNER, background[4000:] + " Our cash is tight every winter. " + CREDIT_Q)
        await telegram.wait_for(lambda: len(telegram.texts(OWNER)) >= 3, 60, "the paste's answer")
        await asyncio.sleep(5)  # a second answer to the paste would have come by now
        said = telegram.texts(OWNER)
    waits = "I'm still answering your previous question; I'll answer this one right after."
    assert said.count(waits) == 1 and len(said) == 3, said
    assert said[-1].startswith(f"<i>Your message was long, so I answered its question (“{CREDIT_Q}”)")
    questions = [t["question"] for t in turns(tmp_path)]
    assert len(questions) == 2 and questions[0] == SLOWEST_Q and questions[1].endswith(CREDIT_Q), questions


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


PROFILE_QUESTIONS = [
    "What does your business do?",
    "How many people work in it",
    "Which country or region",
    "Where is the business now?",
    "What is the business called?",
    "Last one",
]
PROFILE_STOPPED = "Stopped. What you told me so far is saved; /profile shows it."


def stored_profile(tmp_path) -> dict:
    """The owner's profile as stored, without its empty fields."""
    with sqlite3.connect(tmp_path / "transcripts.db") as conn:
        [(profile,)] = conn.execute("select profile from users where id = ?", (f"tg:{OWNER}",))
    return {key: value for key, value in json.loads(profile).items() if value not in ("", None)}


async def tap(telegram: FakeTelegram, label: str) -> str:
    """Tap the button labelled `label` under the bot's last message with buttons; what it says next."""
    call = next(c for c in reversed(telegram.calls_of("sendMessage", OWNER)) if c.params.get("reply_markup"))
    rows = call.params["reply_markup"]["inline_keyboard"]
    [data] = [button["callback_data"] for row in rows for button in row if button["text"] == label]
    before = len(telegram.texts(OWNER))
    telegram.press(OWNER, data, call.result)
    await telegram.wait_for(lambda: len(telegram.texts(OWNER)) > before, what=f"the question after {label}")
    assert telegram.calls_of("editMessageText", OWNER)[-1].params["text"] == f"{call.params['text']}\n→ {label}"
    return telegram.texts(OWNER)[-1]


async def choose(telegram: FakeTelegram, label: str) -> list[str]:
    """Tap Edit or Start over under the profile /profile showed: the intro and first question."""
    labelled = lambda c: [  # noqa: E731
        b["callback_data"] for row in (c.params.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
        if b["text"] == label
    ]
    call = next(c for c in reversed(telegram.calls_of("sendMessage", OWNER)) if labelled(c))
    before = len(telegram.texts(OWNER))
    telegram.press(OWNER, labelled(call)[0], call.result)
    await telegram.wait_for(lambda: len(telegram.texts(OWNER)) >= before + 2, what=f"the questions after {label}")
    assert telegram.calls_of("editMessageText", OWNER)[-1].params["text"] == f"{call.params['text']}\n→ {label}"
    return telegram.texts(OWNER)[before:]


async def test_profile_shows_an_existing_profile_first_with_edit_and_start_over(tmp_path, shared_index_dir):
    """/profile with a profile used to restart the questions at once; it shows the profile, and
    the owner may leave it, edit it question by question, or start over."""
    change = "Change it question by question (/skip keeps an answer), or start over?"
    async with running_bot(env_for(tmp_path, shared_index_dir), tmp_path / "bot.log") as telegram:
        await said(telegram, OWNER, "/profile industry=bakery staff=6")
        [shown] = await said(telegram, OWNER, "/profile")
        assert shown == f"Your profile now:\nIndustry: bakery\nStaff: 6\n\n{change}"
        rows = telegram.calls_of("sendMessage", OWNER)[-1].params["reply_markup"]["inline_keyboard"]
        assert [button["text"] for row in rows for button in row] == ["✏️ Edit", "🔄 Start over"]
        [answer] = await said(telegram, OWNER, CREDIT_Q)  # only looking: the next message is a question
        assert "<b>Sources</b>" in answer and stored_profile(tmp_path) == {"industry": "bakery", "staff": 6}

        intro, question = await choose(telegram, "✏️ Edit")
        assert intro.startswith("A few quick questions") and question.startswith(PROFILE_QUESTIONS[0])
        [staff] = await said(telegram, OWNER, "/skip")  # keeps the industry
        assert staff.startswith(PROFILE_QUESTIONS[1])
        await said(telegram, OWNER, "7")
        assert await said(telegram, OWNER, "/cancel") == [PROFILE_STOPPED]
        assert stored_profile(tmp_path) == {"industry": "bakery", "staff": 7}

        await said(telegram, OWNER, "/profile")
        _intro, question = await choose(telegram, "🔄 Start over")
        assert question.startswith(PROFILE_QUESTIONS[0]) and stored_profile(tmp_path) == {}
        await said(telegram, OWNER, "Kenyan tea exports")
        assert await said(telegram, OWNER, "/cancel") == [PROFILE_STOPPED]
    assert stored_profile(tmp_path) == {"industry": "Kenyan tea exports"}


async def test_the_guided_profile_at_every_step_its_buttons_and_key_value_forms(tmp_path, shared_index_dir):
    async with running_bot(env_for(tmp_path, shared_index_dir), tmp_path / "bot.log") as telegram:
        for stop_at in range(len(PROFILE_QUESTIONS) + 1):  # /skip passes each question, /cancel stops at each
            _intro, question = await said(telegram, OWNER, "/profile", count=2)
            for step in range(stop_at):
                assert question.startswith(PROFILE_QUESTIONS[step])
                [question] = await said(telegram, OWNER, "/skip")
            if stop_at < len(PROFILE_QUESTIONS):
                assert question.startswith(PROFILE_QUESTIONS[stop_at])
                assert await said(telegram, OWNER, "/cancel") == [PROFILE_STOPPED]
            else:
                assert question == "Thanks! Your profile:\nnot given\n\nMy answers will take it into account. Ask away!"
            [after] = await said(telegram, OWNER, "thanks!")  # not taken as an answer: the questions are over
            assert after.startswith("You're welcome!")
        assert stored_profile(tmp_path) == {}

        await said(telegram, OWNER, "/profile", count=2)
        assert (await tap(telegram, "Manufacturing")).startswith(PROFILE_QUESTIONS[1])
        assert (await tap(telegram, "2–9")).startswith(PROFILE_QUESTIONS[2])
        [stage] = await said(telegram, OWNER, "Kenya")
        assert stage.startswith(PROFILE_QUESTIONS[3])
        assert (await tap(telegram, "Selling abroad")).startswith(PROFILE_QUESTIONS[4])
        assert await said(telegram, OWNER, "/cancel") == [PROFILE_STOPPED]
        tapped = {"industry": "manufacturing", "staff": "2–9", "region": "Kenya", "stage": "selling abroad"}
        assert stored_profile(tmp_path) == tapped  # a range is kept as the button shows it

        [shown] = await said(telegram, OWNER, "/profile")
        assert shown.startswith("Your profile now:\nIndustry: Manufacturing\nStaff: 2–9\nRegion/country: Kenya\n")
        await choose(telegram, "✏️ Edit")
        await said(telegram, OWNER, "/skip")
        [wrong] = await said(telegram, OWNER, "about six")
        assert "staff must be a whole number" in wrong and "(got 'about six')" in wrong and "/skip" in wrong
        [region] = await said(telegram, OWNER, "10-49")  # typed with a hyphen: stored like the button's range
        assert region.startswith(PROFILE_QUESTIONS[2]) and stored_profile(tmp_path)["staff"] == "10–49"
        assert await said(telegram, OWNER, "/cancel") == [PROFILE_STOPPED]
        await said(telegram, OWNER, "/profile")
        await choose(telegram, "✏️ Edit")
        await said(telegram, OWNER, "/skip")
        assert (await tap(telegram, "Just me")).startswith(PROFILE_QUESTIONS[2])
        assert stored_profile(tmp_path)["staff"] == 1  # "Just me" is one person, a number
        assert await said(telegram, OWNER, "/cancel") == [PROFILE_STOPPED]

        [saved] = await said(telegram, OWNER, """/profile business_name="Rosie's Cakes & Co" staff=6""")
        rosie = "Saved. Your profile:\nBusiness: Rosie's Cakes & Co\n"
        assert saved == rosie + "Industry: Manufacturing\nStaff: 6\nRegion/country: Kenya\nStage: Selling abroad"
        [saved] = await said(telegram, OWNER, "/profile industry=home bakery stage=just starting region=")
        assert saved == rosie + "Industry: home bakery\nStaff: 6\nStage: Just starting"  # region= cleared it
    assert stored_profile(tmp_path) == {
        "business_name": "Rosie's Cakes & Co",
        "industry": "home bakery",
        "staff": 6,
        "stage": "just starting",
    }
    refused = [(c.method, c.params.get("text")) for c in telegram.calls if not c.ok]
    assert refused == []  # Telegram took every reply as sent (plain text: the & and ' reach the owner as typed)


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


async def test_the_sources_popup_reads_as_text_without_paths(tmp_path, shared_index_dir):
    """The Sources button under an offline answer: each source's title and section, then a readable
    excerpt of what was quoted: no Markdown, no file paths (the collateral-free options list names
    other files by path), the list's items as lines, cut after a whole item."""
    async with running_bot(env_for(tmp_path, shared_index_dir), tmp_path / "bot.log") as telegram:
        answer = await said(telegram, OWNER, "How do I get working capital without collateral?")
        assert ".md" not in answer and "credit/" not in answer
        call = telegram.calls_of("sendMessage", OWNER)[-1]
        sources = next(
            b["callback_data"]
            for row in call.params["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].startswith("src:")
        )
        before = len(telegram.texts(OWNER))
        telegram.press(OWNER, sources, call.result)
        await telegram.wait_for(lambda: len(telegram.texts(OWNER)) > before, what="the sources")
        popup = telegram.texts(OWNER)[-1]
    assert popup.startswith("<b>[1] Getting credit and working capital without collateral › Which collateral-free")
    assert "\n• Data-driven lending: platform or fintech lenders" in popup
    assert ".md" not in popup and "**" not in popup and "](" not in popup
