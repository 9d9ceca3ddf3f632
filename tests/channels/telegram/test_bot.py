"""The real Telegram `Application` against a fake Bot API server and a fake LLM, end to end."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy import event

from bot.storage import Storage, TurnFilter
from tests.fakes.openai_server import Reply, last_user_message
from tests.fakes.telegram_server import BOT, TOKEN
from tests.helpers import ROOT, free_port
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked, last_markup, post_update, sent_message

# --------------------------------------------------------------------------- owners


async def test_start_and_an_example_button(start_bot, telegram):
    await start_bot()
    [welcome] = await asked(telegram, OWNER, "/start")
    assert "growth" in welcome and "credit" in welcome and "/forget" in welcome and "/profile" in welcome
    buttons = last_markup(telegram, OWNER)["inline_keyboard"]
    assert buttons[0][0]["callback_data"] == "ask:0"
    before = len(answers(telegram, OWNER))
    telegram.press(OWNER, "ask:1", sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, what="the example's answer")
    assert "invoice finance" in answers(telegram, OWNER)[-1]
    assert telegram.calls_of("answerCallbackQuery")


async def test_a_question_is_answered_with_sources_buttons_typing_and_drafts(start_bot, telegram, llm):
    slow = Reply("Use **invoice finance** [1] and supplier credit [2].", delay=1.0, piece=4, piece_delay=0.05)
    llm.responder = lambda body: slow
    bot = await start_bot()
    [reply] = await asked(telegram, OWNER, CREDIT_Q)
    assert reply.startswith("Use <b>invoice finance</b> [1] and supplier credit [2].")
    assert "<b>Sources</b>\n1. " in reply and "\n2. " in reply
    call = telegram.calls_of("sendMessage", OWNER)[-1]
    assert call.params["parse_mode"] == "HTML"
    [up, down, sources], *next_questions = call.params["reply_markup"]["inline_keyboard"]
    assert (up["text"], down["text"], sources["text"]) == ("👍", "👎", "Sources")
    assert len(next_questions) <= 2 and all(row[0]["text"].endswith("?") for row in next_questions)
    assert telegram.calls_of("sendChatAction", OWNER)
    assert telegram.calls_of("sendMessageDraft", OWNER)  # streamed before the final message
    turns = await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"))
    assert [t.question for t in turns] == [CREDIT_Q] and turns[0].mode == "llm"
    assert telegram.calls_of("setMyCommands")


async def test_an_answer_costs_two_reads_and_three_commits(start_bot, telegram):
    """The database work of an answer (issue 19: it was most of the bot's CPU): the update noted
    (a commit), one read of what is known of the owner (access, language, a hand-over,
    documents), the question counted (a commit), one read of the conversation and its memory,
    the turn and the owner's "last seen" in one commit, and its delivery marked with others a
    second later."""
    bot = await start_bot()
    await asked(telegram, OWNER, CREDIT_Q)  # the first question creates the owner and the conversation
    await asyncio.sleep(1.5)
    statements: list[str] = []

    def note(_connection, _cursor, statement, *_args) -> None:
        if "reminders" not in statement:  # the reminders job runs on its own clock
            statements.append(" ".join(statement.split()[:3]).upper())

    event.listen(bot.storage.engine.sync_engine, "before_cursor_execute", note)
    await asked(telegram, OWNER, "Should I sell cross-border?")
    await asyncio.sleep(1.5)
    event.remove(bot.storage.engine.sync_engine, "before_cursor_execute", note)
    reads = [s for s in statements if s.startswith("SELECT")]
    writes = [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(reads) == 4, statements  # owner state; earlier questions (limits); conversation; memory
    assert writes == [
        "INSERT INTO PENDING_UPDATES",
        "INSERT INTO QUESTIONS_ASKED",
        "INSERT INTO TURNS",
        "UPDATE USERS SET",
        "UPDATE TURNS SET",
    ], statements


async def test_sources_button_shows_the_cited_excerpts(start_bot, telegram):
    await start_bot()
    await asked(telegram, OWNER, CREDIT_Q)
    turn = last_markup(telegram, OWNER)["inline_keyboard"][0][2]["callback_data"]
    before = len(answers(telegram, OWNER))
    telegram.press(OWNER, turn, sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, what="the sources")
    excerpts = answers(telegram, OWNER)[-1]
    assert excerpts.startswith("<b>[1] ") and "collateral" in excerpts.lower()


async def test_a_follow_up_uses_the_conversation(start_bot, telegram, llm):
    await start_bot()
    await asked(telegram, OWNER, CREDIT_Q)
    await asked(telegram, OWNER, "what about for exporters?")
    final = llm.answer_requests()[-1]
    roles = [m["role"] for m in final["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert final["messages"][1]["content"] == CREDIT_Q
    rewrite = [r for r in llm.requests if not r.get("stream")][-1]
    assert "what about for exporters?" in last_user_message(rewrite)


async def test_thumbs_up_and_down_with_a_comment_are_stored(start_bot, telegram):
    bot = await start_bot()
    await asked(telegram, OWNER, CREDIT_Q)
    up, down, _ = last_markup(telegram, OWNER)["inline_keyboard"][0]
    turn_id = int(up["callback_data"].split(":")[2])
    telegram.press(OWNER, up["callback_data"], sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: len(telegram.calls_of("answerCallbackQuery")) >= 1, what="the 👍")
    assert (await bot.storage.get_turn(turn_id)).feedback == "up"

    before = len(answers(telegram, OWNER))
    telegram.press(OWNER, down["callback_data"], sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, what="the question after 👎")
    prompt_call = telegram.calls_of("sendMessage", OWNER)[-1]
    assert "What was missing" in prompt_call.params["text"]
    assert prompt_call.params["reply_markup"]["force_reply"] is True
    [thanks] = await asked(telegram, OWNER, "I needed steps for a bakery", reply_to=prompt_call.result)
    assert "Thank you" in thanks
    turn = await bot.storage.get_turn(turn_id)
    assert (turn.feedback, turn.comments) == ("down", ["I needed steps for a bakery"])
    assert len(await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"))) == 1  # the comment is no question


async def test_new_profile_topics_and_forget(start_bot, telegram, llm):
    bot = await start_bot()
    [saved] = await asked(telegram, OWNER, "/profile industry=bakery staff=6 region=AU")
    assert "Industry: bakery" in saved and "Staff: 6" in saved
    [bad] = await asked(telegram, OWNER, "/profile colour=blue")
    assert "'colour=blue' is not a profile setting" in bad and "/profile industry=bakery" in bad
    await asked(telegram, OWNER, CREDIT_Q)
    assert "Industry: bakery" in last_user_message(llm.answer_requests()[-1])
    [fresh] = await asked(telegram, OWNER, "/new")
    assert "Fresh start" in fresh
    await asked(telegram, OWNER, "Should I sell cross-border?")
    assert [m["role"] for m in llm.answer_requests()[-1]["messages"]] == ["system", "user"]  # no memory after /new
    [listing] = await asked(telegram, OWNER, "/topics")
    assert "<b>Credit</b>" in listing and "<b>Trade</b>" in listing

    [confirm] = await asked(telegram, OWNER, "/forget")
    assert "cannot be undone" in confirm
    telegram.press(OWNER, "forget:yes", sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: telegram.calls_of("editMessageText", OWNER), what="the forget confirmation")
    assert "deleted 2 questions" in telegram.calls_of("editMessageText", OWNER)[-1].params["text"]
    assert await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}")) == []
    assert (await bot.storage.profile(f"tg:{OWNER}")).industry == ""


async def test_a_ten_thousand_character_answer_is_split_into_valid_messages(start_bot, telegram, llm):
    paragraph = "Keep a weekly cash forecast and chase late invoices early, every single week [1]. " * 12
    long_answer = "\n\n".join(f"**Step {i}.** {paragraph}" for i in range(11))
    assert len(long_answer) > 10_000
    llm.responder = lambda body: Reply(long_answer, piece=400)
    await start_bot(answer_max_chars=20_000)
    telegram.message(OWNER, CREDIT_Q)
    await telegram.wait_for(lambda: any("<b>Sources</b>" in t for t in answers(telegram, OWNER)), what="all parts")
    parts = answers(telegram, OWNER)
    assert len(parts) >= 3
    assert all(len(re.sub(r"<[^>]+>", "", p)) <= 4096 for p in parts)  # the fake server also checks
    joined = re.sub(r"<[^>]+>", "", "\n\n".join(parts))
    assert joined.count("[1]") == long_answer.count("[1]")  # no citation cut in half
    assert "fb:up:" in str(last_markup(telegram, OWNER)) and not telegram.calls_of("sendMessage", OWNER)[0].params.get(
        "reply_markup"
    )


async def test_rejected_entities_fall_back_to_plain_text(start_bot, telegram):
    await start_bot()
    telegram.fail("sendMessage", 400, "Bad Request: can't parse entities: unexpected end tag at byte offset 12")
    [plain] = await asked(telegram, OWNER, CREDIT_Q)
    assert plain.startswith("Use invoice finance [1]") and "<b>" not in plain
    assert "parse_mode" not in telegram.calls_of("sendMessage", OWNER)[-1].params


async def test_a_429_is_honoured_and_the_message_still_arrives(start_bot, telegram):
    await start_bot()
    telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    started = time.monotonic()
    [reply] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in reply
    attempts = [c for c in telegram.calls if c.method == "sendMessage"]
    assert len(attempts) == 2 and attempts[1].at - attempts[0].at >= 1.0
    assert time.monotonic() - started >= 1.0


async def test_failing_optional_calls_never_stop_the_answer(start_bot, telegram, llm):
    llm.responder = lambda body: Reply("Use **invoice finance** [1] and supplier credit [2].", delay=1.2)
    telegram.fail("setMyCommands", 404, "Not Found")
    telegram.fail("sendChatAction", 404, "Not Found", times=5)
    telegram.fail("sendMessageDraft", 404, "Not Found", times=5)
    await start_bot()
    [reply] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in reply
    assert [c for c in telegram.calls if c.method == "sendChatAction"]  # tried (a slow answer), failed: no matter


async def test_an_answer_ready_at_once_shows_no_typing(start_bot, telegram):
    """An offline answer takes tens of ms: a 'typing…' the owner would never see is not sent (it
    was a Bot API call per answer); a slow one shows it (above)."""
    await start_bot(llm_model=None)
    await asked(telegram, OWNER, "How do I price my services?")  # the first answer after the start
    [reply] = await asked(telegram, OWNER, CREDIT_Q)
    assert "collateral" in reply.lower()
    assert not telegram.calls_of("sendChatAction", OWNER)


async def test_edited_messages_are_not_answered_again(start_bot, telegram):
    await start_bot()
    await asked(telegram, OWNER, CREDIT_Q)
    telegram.edited_message(OWNER, CREDIT_Q + " (edited)")
    await asked(telegram, OWNER, "/help")  # processed after the edit: the edit had its chance
    assert len([t for t in answers(telegram, OWNER) if "invoice finance" in t]) == 1


async def test_non_text_messages_get_one_friendly_line(start_bot, telegram):
    await start_bot()
    sticker = {"file_id": "s", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1}
    sticker = {"sticker": {**sticker, "is_animated": False, "is_video": False}}
    [reply] = await asked(telegram, OWNER, None, extra=sticker)  # (voice notes and photos: test_voice.py)
    assert reply == "I can only read text questions — please type yours."
    location = {"location": {"latitude": 1.0, "longitude": 2.0}}
    [reply] = await asked(telegram, OWNER, None, extra=location)
    assert "text questions" in reply


# --------------------------------------------------------------------------- groups


async def test_in_groups_the_bot_answers_only_when_addressed(start_bot, telegram, llm):
    await start_bot()
    group = -100200
    telegram.message(OWNER, "Anyone know a good accountant?", chat_id=group, chat_type="supergroup")
    [reply] = await asked(telegram, OWNER, f"@{BOT['username']} {CREDIT_Q}", chat_id=group, chat_type="supergroup")
    assert "invoice finance" in reply
    assert f"@{BOT['username']}" not in last_user_message(llm.answer_requests()[-1])
    assert telegram.calls_of("sendMessage", group)[-1].params["reply_parameters"]["message_id"]  # a reply
    [reply] = await asked(telegram, 222, "/ask Should I sell cross-border?", chat_id=group, chat_type="supergroup")
    assert "invoice finance" in reply
    [reply] = await asked(
        telegram,
        333,
        "and for exporters?",
        chat_id=group,
        chat_type="supergroup",
        reply_to=sent_message(telegram, group),
    )
    assert "invoice finance" in reply
    assert len(llm.answer_requests()) == 3  # the unaddressed message was never answered
    assert not telegram.calls_of("sendMessageDraft", group)  # drafts are for private chats
    # memory is per chat: the third question saw the group's earlier turns
    assert [m["role"] for m in llm.answer_requests()[-1]["messages"]].count("assistant") == 2


# --------------------------------------------------------------------------- access and admins


async def test_unknown_users_are_refused_with_their_id(start_bot, telegram, llm):
    await start_bot(allowed_user_ids=[OWNER])
    [refusal] = await asked(telegram, 4242, CREDIT_Q)
    assert "4242" in refusal and "private" in refusal
    assert llm.requests == []
    [reply] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in reply


async def test_admin_commands_for_admins_only(start_bot, telegram):
    bot = await start_bot(allowed_user_ids=[OWNER])
    await asked(telegram, OWNER, CREDIT_Q)
    for command in ("/stats", "/gaps", "/transcript 111"):  # the desk's commands say who may use them
        [reply] = await asked(telegram, OWNER, command)
        assert reply == "Only the advisor's consultants and admins may use this command.", command
    for command in ("/export", "/allow 4242", "/block 111"):
        [reply] = await asked(telegram, OWNER, command)
        assert reply == "Not permitted.", command

    [stats] = await asked(telegram, ADMIN, "/stats")
    assert "Turns: 1" in stats and "Owners: 1" in stats
    [history] = await asked(telegram, ADMIN, "/transcript 111 3")
    assert CREDIT_Q in history
    [usage] = await asked(telegram, ADMIN, "/transcript bob")
    assert usage.startswith("Usage: <code>/transcript USER_ID [N]</code>")  # HTML, as every admin text
    [gaps] = await asked(telegram, ADMIN, "/gaps")
    assert "gaps" in gaps.lower()
    telegram.message(ADMIN, "/export 30")
    await telegram.wait_for(lambda: telegram.calls_of("sendDocument", ADMIN), what="the export")
    document = telegram.calls_of("sendDocument", ADMIN)[-1].params["document"].decode()
    assert document.startswith("id,created_at,user_id") and CREDIT_Q in document

    [allowed] = await asked(telegram, ADMIN, "/allow 4242")
    assert "4242 may now use" in allowed
    [reply] = await asked(telegram, 4242, CREDIT_Q)
    assert "invoice finance" in reply
    [blocked] = await asked(telegram, ADMIN, "/block 4242")
    assert "4242 is blocked" in blocked
    [refusal] = await asked(telegram, 4242, CREDIT_Q)
    assert "private" in refusal
    assert await bot.storage.users_with_status("blocked") == {"tg:4242"}


async def test_rate_limits_tell_the_owner_when_to_come_back(start_bot, telegram):
    await start_bot(questions_per_minute=2)
    await asked(telegram, OWNER, CREDIT_Q)
    await asked(telegram, OWNER, "Should I sell cross-border?")
    [limited] = await asked(telegram, OWNER, "What about tariffs?")  # kept: answered when the limit allows
    assert re.search(r"I'll answer this one in \d+ seconds", limited)
    for _ in range(3):  # admins are exempt
        [reply] = await asked(telegram, ADMIN, CREDIT_Q)
        assert "invoice finance" in reply


# --------------------------------------------------------------------------- robustness


async def test_thirty_owners_at_once_all_answered_in_order(start_bot, telegram, llm):
    def numbered(body):
        question = last_user_message(body).split("<question>\n")[-1].split("\n</question>")[0]
        return Reply(f"Answer to {question} [1]", delay=0.2)

    llm.responder = numbered
    await start_bot()
    owners = range(5000, 5030)
    for step in range(3):
        for owner in owners:
            telegram.message(owner, f"{CREDIT_Q} #{owner}-{step}")  # a marker of digits: not a word of the question
    await telegram.wait_for(lambda: all(len(answers(telegram, o)) >= 3 for o in owners), timeout=90, what="90 answers")
    for owner in owners:
        got = [re.search(r"#(\d+-\d)", t).group(1) for t in answers(telegram, owner)]
        assert got == [f"{owner}-0", f"{owner}-1", f"{owner}-2"]


async def test_an_unexpected_error_is_logged_and_the_owner_gets_a_reference(start_bot, telegram, caplog):
    bot = await start_bot()
    with sqlite3.connect(bot.settings.data_dir / "transcripts.db") as conn:
        conn.execute("drop table conversations")
    [reply] = await asked(telegram, OWNER, "/new")
    reference = re.search(r"reference ([0-9A-F]{6})", reply).group(1)
    assert f"(reference {reference})" in caplog.text and "error while handling update" in caplog.text
    assert TOKEN not in caplog.text
    [still] = await asked(telegram, OWNER, "/help")  # the bot keeps running
    assert "/new" in still


async def test_webhook_mode_rejects_a_wrong_secret(start_bot, telegram, llm):
    port = free_port()
    await start_bot(
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram-hook",
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
        telegram_webhook_secret="right-secret",
    )
    [registered] = telegram.calls_of("setWebhook")
    assert registered.params["secret_token"] == "right-secret"
    update = {
        "update_id": 77,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "text": CREDIT_Q,
            "chat": {"id": OWNER, "type": "private"},
            "from": {"id": OWNER, "is_bot": False, "first_name": "O"},
        },
    }
    hook = f"http://127.0.0.1:{port}/telegram-hook"
    assert await asyncio.to_thread(post_update, hook, update, "wrong-secret") == 403
    await asyncio.sleep(0.5)
    assert llm.requests == [] and answers(telegram, OWNER) == []
    assert await asyncio.to_thread(post_update, hook, update, "right-secret") == 200
    await telegram.wait_for(lambda: answers(telegram, OWNER), what="the webhook answer")
    assert "invoice finance" in answers(telegram, OWNER)[0]


# --------------------------------------------------------------------------- the `run` command


def run_env(tmp_path, shared_index_dir, telegram, llm, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
    env.update(
        DATA_DIR=str(tmp_path),
        INDEX_DIR=str(shared_index_dir / "index"),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        LLM_MODEL="openai:fake",
        LLM_BASE_URL=llm.base_url,
    )
    env.update(extra)
    return env


def test_run_refuses_a_wrong_token_in_one_line(tmp_path, shared_index_dir, telegram, llm):
    env = run_env(tmp_path, shared_index_dir, telegram, llm, TELEGRAM_BOT_TOKEN="123:wrong")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "starting the Telegram bot (polling)" in result.stderr.splitlines()[0]
    assert result.stderr.strip().splitlines()[-1].startswith("error: Telegram rejected TELEGRAM_BOT_TOKEN")
    assert "Traceback" not in result.stderr and "wrong" not in result.stderr  # the token is never printed
    assert "bot id 123" in result.stderr


def test_run_refuses_an_llm_it_cannot_use_in_one_line(tmp_path, shared_index_dir, telegram, llm):
    """The advisor (and its chat model) is built in a thread while the bot starts: a chat model
    that cannot work still ends the start in one line, not a traceback from the thread."""
    env = run_env(tmp_path, shared_index_dir, telegram, llm, LLM_MODEL="nosuchprovider:model")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: LLM_MODEL=nosuchprovider:model is not usable")
    assert not telegram.calls_of("getUpdates")


async def test_sigterm_finishes_the_answer_in_flight(tmp_path, shared_index_dir, telegram, llm):
    llm.responder = lambda body: Reply("Slow but complete answer [1].", delay=3)
    env = run_env(tmp_path, shared_index_dir, telegram, llm, INDEX_CHECK_SECONDS="0.2")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        await telegram.wait_for(lambda: telegram.calls_of("getUpdates"), timeout=120, what="polling to start")
        telegram.message(OWNER, CREDIT_Q)
        await telegram.wait_for(lambda: llm.answer_requests(), timeout=60, what="the question to reach the LLM")
        proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(proc.wait, 60)
        assert returncode == 0, proc.stderr.read()
        assert answers(telegram, OWNER) and answers(telegram, OWNER)[0].startswith("Slow but complete answer [1].")
        stored = sqlite3.connect(tmp_path / "transcripts.db").execute("select count(*) from turns").fetchone()
        assert stored == (1,)
        log = proc.stderr.read()
        assert "Running job" not in log and "executed successfully" not in log  # ~15 index checks, not logged
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


async def test_the_running_bot_prunes_turns_past_the_retention_period(start_bot, telegram, tmp_path):
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'transcripts.db'}")
    await storage.touch_user("tg:1")
    conversation = await storage.current_conversation("tg:1", "tg:1")
    from tests.helpers import answer

    old = await storage.record_turn(conversation, "tg:1", answer("an old question"), 5)
    await storage.record_turn(conversation, "tg:1", answer("a recent question"), 5)
    await storage.close()
    with sqlite3.connect(tmp_path / "transcripts.db") as conn:
        conn.execute("update turns set created_at = '2020-01-01 00:00:00' where id = ?", (old,))
    bot = await start_bot(retention_days=30)
    await telegram.wait_for(
        lambda: sqlite3.connect(tmp_path / "transcripts.db").execute("select count(*) from turns").fetchone() == (1,),
        timeout=20,
        what="the daily retention job",
    )
    assert [t.question for t in await bot.storage.list_turns(TurnFilter())] == ["a recent question"]


@pytest.mark.hostile
async def test_owners_whose_answer_a_killed_bot_never_sent_are_told_to_ask_again(start_bot, telegram):
    """A kill -9 between storing an answer and sending it: 7 of 20 owners got nothing after the
    restart, and `delivered` was empty, so nobody could tell. Here that state is made by hand."""
    bot = await start_bot()
    await asked(telegram, OWNER, CREDIT_Q)
    await asked(telegram, OWNER, "How do I price my cakes?")
    stale, lost = sorted(t.id for t in await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}")))
    await bot.stop()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with contextlib.closing(sqlite3.connect(bot.settings.data_dir / "transcripts.db")) as conn, conn:
        for turn, age in ((lost, dt.timedelta(minutes=2)), (stale, dt.timedelta(hours=2))):
            when = f"{now - age:%Y-%m-%d %H:%M:%S.%f}"
            conn.execute("update turns set delivered = null, created_at = ? where id = ?", (when, turn))
    before = len(answers(telegram, OWNER))
    bot = await start_bot()
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, 30, "the notice")
    await asyncio.sleep(1)
    [told] = answers(telegram, OWNER)[before:]  # once, and only for the recent one
    assert told == (
        "I was restarted while answering “How do I price my cakes?”, so the answer never reached you. Please ask again."
    )
    assert (await bot.storage.get_turn(lost)).delivered is False
