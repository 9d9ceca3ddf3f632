"""The bot when Telegram, the network, the database or an owner misbehaves: refusals that cannot
be sent, access that cannot be checked, updates that cannot be read, gateways that fail, forged
buttons, redelivered webhooks, control characters and cut answers; and a log that stays quiet
while the index is checked every fraction of a second."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

import pytest

from bot.channels.telegram.formatting import to_html, to_plain
from bot.knowledge import runner as ingest_runner
from bot.storage import TurnFilter
from tests.fakes.openai_server import Reply
from tests.fakes.telegram_server import _visible_text
from tests.helpers import SAMPLE_CREDIT, free_port, write
from tests.helpers.live_bot import KOMBUCHA, bot_env, running_bot
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked, last_markup, post_update, sent_message

pytestmark = pytest.mark.hostile

STRANGER = 4242
SORRY = "Sorry, something went wrong"  # the error handler's apology, which says nothing more


async def test_a_refusal_that_cannot_be_sent_never_lets_the_question_through(start_bot, telegram, llm):
    bot = await start_bot(allowed_user_ids=[OWNER])
    telegram.fail("sendMessage", 502, "Bad Gateway", times=4)  # the refusal and all its retries
    telegram.message(STRANGER, CREDIT_Q)
    await telegram.wait_for(
        lambda: len([c for c in telegram.calls if c.method == "sendMessage"]) >= 4, what="the refusal's retries"
    )
    await asyncio.sleep(1)
    assert llm.requests == [] and answers(telegram, STRANGER) == []
    assert await bot.storage.list_turns(TurnFilter(user=f"tg:{STRANGER}")) == []

    # Blocked owners and admin-only commands hold the same way.
    await asked(telegram, ADMIN, f"/block {OWNER}")
    telegram.fail("sendMessage", 502, "Bad Gateway", times=8)
    telegram.message(OWNER, CREDIT_Q)
    telegram.message(OWNER, f"/allow {OWNER}")
    await asyncio.sleep(5)
    assert llm.requests == [] and await bot.storage.users_with_status("blocked") == {f"tg:{OWNER}"}


async def test_an_access_check_that_fails_lets_no_one_through(start_bot, telegram, llm, tmp_path, caplog):
    bot = await start_bot(allowed_user_ids=[OWNER])
    database = sqlite3.connect(tmp_path / "transcripts.db", timeout=30, isolation_level=None)
    database.execute("ALTER TABLE owner_documents RENAME TO moved")  # the gate's read fails: "no such table"
    for user in (STRANGER, OWNER):
        telegram.message(user, CREDIT_Q)
    await telegram.wait_for(lambda: len([r for r in caplog.records if r.levelno >= logging.ERROR]) >= 2, what="faults")
    assert "no such table: owner_documents" in caplog.text
    database.execute("ALTER TABLE moved RENAME TO owner_documents")

    # A chat's questions are handled one at a time, in order: once these are answered, the first are done with.
    def said(user: int) -> list[str]:
        return [text for text in answers(telegram, user) if not text.startswith(SORRY)]

    telegram.message(STRANGER, CREDIT_Q)
    telegram.message(OWNER, "Should I sell cross-border?")
    await telegram.wait_for(lambda: any("is private" in t for t in said(STRANGER)) and said(OWNER), what="replies")
    assert len(said(STRANGER)) == 1 and len(said(OWNER)) == 1 and len(llm.answer_requests()) == 1
    assert [t.question for t in await bot.storage.list_turns(TurnFilter())] == ["Should I sell cross-border?"]
    # the failed checks went to the error handler: each user got the apology, the admin a report
    assert all(sum(t.startswith(SORRY) for t in answers(telegram, user)) == 1 for user in (STRANGER, OWNER))
    assert sum("no such table" in t for t in answers(telegram, ADMIN)) >= 1


async def test_an_admin_command_whose_refusal_cannot_be_sent_never_runs(start_bot, telegram, llm):
    bot = await start_bot(allowed_user_ids=[OWNER])
    telegram.fail("sendMessage", 502, "Bad Gateway", times=12)  # each refusal and all its retries
    for command in ("/stats", f"/allow {STRANGER}", "/export 30"):
        telegram.message(OWNER, command)
    await telegram.wait_for(lambda: not telegram.faults["sendMessage"], what="the refusals' attempts")
    await asyncio.sleep(2)
    assert answers(telegram, OWNER) == [] and telegram.calls_of("sendDocument") == []
    assert await bot.storage.users_with_status("allowed") == set()
    [reply] = await asked(telegram, STRANGER, CREDIT_Q)  # still shut out
    assert "this advisor is private" in reply and llm.requests == []


def test_nul_and_control_characters_never_reach_a_message():
    answer = "Pay **on time**\x00 and see [the terms](https://example.com)\x000\x00.\x07\x1b[0m\tDone\x7f"
    rendered = to_html(answer)
    assert rendered == 'Pay <b>on time</b> and see <a href="https://example.com">the terms</a>0.[0m\tDone'
    assert _visible_text(rendered) == "Pay on time and see the terms0.[0m\tDone"  # valid Telegram HTML
    assert to_plain(answer) == "Pay on time and see the terms (https://example.com)0.[0m\tDone"


async def test_an_answer_cut_at_the_length_limit_is_stored_as_truncated(start_bot, telegram, llm):
    long = "Use invoice finance to turn unpaid invoices into cash [1]. " + "Then keep records of every sale. " * 30
    llm.responder = lambda body: Reply(long, finish="length")
    bot = await start_bot()
    [reply] = await asked(telegram, OWNER, CREDIT_Q)
    assert "cut short" in reply and "invoice finance" in reply
    await asyncio.sleep(1.5)  # deliveries are marked within a second
    [turn] = await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"))
    assert turn.truncated is True and turn.delivered is True and turn.answer.endswith(".")


async def test_an_unreadable_update_is_skipped_and_everyone_else_answered(start_bot, telegram, caplog):
    await start_bot()
    bad = telegram.raw_update({"message": {"text": "no chat, no sender, no date"}})
    [reply] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in reply
    [line] = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert f"update {bad} could not be read" in line.getMessage() and "no chat" not in line.getMessage()
    offsets = [int(c.params.get("offset") or 0) for c in telegram.calls_of("getUpdates")]
    assert max(offsets) > bad  # acknowledged: Telegram will not send it again


async def test_a_bad_gateway_is_retried_and_the_turn_records_delivery(start_bot, telegram):
    bot = await start_bot()
    telegram.fail("sendMessage", 502, "Bad Gateway", times=2)
    [reply] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in reply
    await asyncio.sleep(1.5)  # deliveries are marked together, within a second (`GroupCommit.mark`)
    [turn] = await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"))
    assert turn.delivered is True

    telegram.fail("sendMessage", 502, "Bad Gateway", times=10)  # every retry fails: the answer is lost
    telegram.message(OWNER, "Should I sell cross-border?")
    await telegram.wait_for(
        lambda: len(telegram.faults["sendMessage"]) <= 6, timeout=20, what="the answer's four attempts"
    )
    await asyncio.sleep(2)
    turns = await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"))
    assert [t.delivered for t in turns] == [False, True]


async def test_buttons_work_only_on_answers_from_their_own_chat(start_bot, telegram):
    bot = await start_bot()
    await asked(telegram, OWNER, CREDIT_Q)
    up = last_markup(telegram, OWNER)["inline_keyboard"][0][0]["callback_data"]
    sources = last_markup(telegram, OWNER)["inline_keyboard"][0][2]["callback_data"]
    await asked(telegram, STRANGER, "Should I sell cross-border?")
    theirs = sent_message(telegram, STRANGER)
    for number, forged in enumerate((up, sources), start=1):  # callback data naming the owner's turn
        telegram.press(STRANGER, forged, theirs)
        await telegram.wait_for(lambda: len(telegram.calls_of("answerCallbackQuery")) >= number, what="the refusal")  # noqa: B023
        assert telegram.calls_of("answerCallbackQuery")[-1].params["text"] == "That answer is not from this chat."
    [turn] = await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"))
    assert turn.feedback is None and len(answers(telegram, STRANGER)) == 1


async def test_a_blocked_owner_can_still_erase_their_data(start_bot, telegram):
    bot = await start_bot()
    await asked(telegram, OWNER, CREDIT_Q)
    up = last_markup(telegram, OWNER)["inline_keyboard"][0][0]["callback_data"]
    answer_message = sent_message(telegram, OWNER)
    await asked(telegram, ADMIN, f"/block {OWNER}")
    [confirm] = await asked(telegram, OWNER, "/forget")
    assert "cannot be undone" in confirm
    before = len(telegram.calls_of("editMessageText"))
    telegram.press(OWNER, "forget:yes", sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: len(telegram.calls_of("editMessageText")) > before, what="the deletion")
    assert await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}")) == []
    assert await bot.storage.users_with_status("blocked") == {f"tg:{OWNER}"}  # the block outlives the data

    await asked(telegram, ADMIN, f"/allow {OWNER}")
    before = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(OWNER, up, answer_message)  # 👍 on an answer that /forget deleted
    await telegram.wait_for(lambda: len(telegram.calls_of("answerCallbackQuery")) > before, what="the reply")
    assert "was deleted" in telegram.calls_of("answerCallbackQuery")[-1].params["text"]


async def test_a_redelivered_webhook_update_is_answered_once_on_sqlite(start_bot, telegram, llm, caplog):
    port = free_port()
    await start_bot(
        telegram_webhook_url=f"http://127.0.0.1:{port}/hook",
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
        telegram_webhook_secret="s3cret",
    )
    hook = f"http://127.0.0.1:{port}/hook"
    update = telegram.message_update(OWNER, CREDIT_Q)
    for _ in range(2):  # Telegram thought the first delivery failed
        assert await asyncio.to_thread(post_update, hook, update, "s3cret") == 200
    await telegram.wait_for(lambda: answers(telegram, OWNER), what="the answer")
    await asyncio.sleep(1.5)
    assert len(answers(telegram, OWNER)) == 1 and len(llm.answer_requests()) == 1

    with caplog.at_level(logging.ERROR):
        unreadable = {"update_id": 9999, "message": {"text": "private words", "date": int(time.time())}}
        assert await asyncio.to_thread(post_update, hook, unreadable, "s3cret") == 200  # acknowledged
    assert "update 9999 could not be read" in caplog.text and "private words" not in caplog.text
    second = telegram.message_update(OWNER, "Should I sell cross-border?")
    assert await asyncio.to_thread(post_update, hook, second, "s3cret") == 200
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) == 2, what="the next answer")


async def test_the_index_check_logs_only_a_switch_to_a_new_version(tmp_path, kdir, settings):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    await asyncio.to_thread(ingest_runner.run_ingest, settings)
    log = tmp_path / "bot.log"

    def info_lines() -> list[str]:
        return [line for line in log.read_text(encoding="utf-8").splitlines() if " INFO " in line]

    async with running_bot(bot_env(settings, INDEX_CHECK_SECONDS="0.2", LOG_LEVEL="INFO"), log) as telegram:
        await telegram.wait_for(lambda: any(" is ready" in line for line in info_lines()), what="the bot to be ready")
        started = len(info_lines())
        await asyncio.sleep(3)  # some fifteen checks, with nothing new to find
        assert info_lines()[started:] == []
        write(kdir, "operations/kombucha.md", KOMBUCHA)
        await asyncio.to_thread(ingest_runner.run_ingest, settings)  # publishes version 2
        await telegram.wait_for(lambda: len(info_lines()) > started, what="the switch to version 2")
        await asyncio.sleep(2)  # ten more checks
        [switch] = info_lines()[started:]
        assert "bot.index.reloader: now answering from index version 2 (2 files, " in switch
    assert "Running job" not in log.read_text(encoding="utf-8")
