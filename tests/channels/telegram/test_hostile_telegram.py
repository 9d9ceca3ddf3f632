"""The bot when Telegram, the network or an owner misbehaves: refusals that cannot be sent,
updates that cannot be read, gateways that fail, forged buttons, redelivered webhooks."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.storage import TurnFilter
from tests.helpers import free_port
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked, last_markup, post_update, sent_message

STRANGER = 4242


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
