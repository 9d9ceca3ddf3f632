"""People in the loop, end to end against the fake Bot API: an owner asks for a person, the card
reaches the admin chat, a consultant's reply reaches the owner and is remembered, follow-ups go to
the consultant until the request is resolved or expires (across a restart too); error reports,
the digest and /transcript in the admin chat."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from difflib import SequenceMatcher

from bot.storage import TurnFilter
from tests.fakes.openai_server import last_user_message
from tests.fakes.telegram_server import TOKEN
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked, last_markup, sent_message

NOT_COVERED_Q = "What is the best recipe for sourdough bread?"
GROUP, CONSULTANT = -1001, 77


async def owner_turns(bot) -> list:
    return await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"), limit=None)


def buttons(markup: dict) -> dict[str, str]:
    """callback data → label of every button of an inline keyboard."""
    return {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}


async def card_in(telegram, chat: int, before: int) -> dict:
    """The hand-over card posted to `chat` after its first `before` messages."""
    await telegram.wait_for(lambda: len(answers(telegram, chat)) > before, what=f"the card in chat {chat}")
    call = telegram.calls_of("sendMessage", chat)[before]
    assert "Request #" in call.params["text"], call.params["text"]
    return call.result


async def test_an_owner_reaches_a_consultant_and_back(start_bot, telegram, llm):
    bot = await start_bot()
    [declined] = await asked(telegram, OWNER, NOT_COVERED_Q)
    assert "don't have material" in declined or "not covered" in declined.lower()
    offer = [data for data in buttons(last_markup(telegram, OWNER)) if data.startswith("human:")]
    assert offer, last_markup(telegram, OWNER)

    admin_before = len(answers(telegram, ADMIN))
    owner_before = len(answers(telegram, OWNER))
    telegram.press(OWNER, offer[0], sent_message(telegram, OWNER))
    card = await card_in(telegram, ADMIN, admin_before)
    text = card["text"]
    assert NOT_COVERED_Q in text and "Owner111" in text and "@owner111" in text and "tg:111" in text
    assert "not covered" in text
    assert set(buttons(card["reply_markup"])) == {f"ho:{a}:{n}" for a in ("reply", "resolve", "gap") for n in "1"}
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > owner_before, what="the confirmation")
    assert "within 24 hours" in answers(telegram, OWNER)[owner_before]

    # what the owner writes now goes to the consultant, not to the advisor or the LLM
    llm_calls = len(llm.requests)
    [passed] = await asked(telegram, OWNER, "We are a bakery with 3 staff")
    assert passed == "Passed on to the consultant."
    forwarded = telegram.calls_of("sendMessage", ADMIN)[-1].params
    assert "We are a bakery with 3 staff" in forwarded["text"]
    assert forwarded["reply_parameters"]["message_id"] == card["message_id"] and len(llm.requests) == llm_calls

    # a long message reaches the consultant whole, in parts; one that cannot reach them is never "passed on"
    before = len(answers(telegram, ADMIN))
    [passed] = await asked(telegram, OWNER, "Our numbers: " + "1234 " * 1000)
    parts = answers(telegram, ADMIN)[before:]
    assert (
        passed == "Passed on to the consultant."
        and len(parts) == 2
        and "".join(p.split("\n", 1)[1] for p in parts).count("1234") == 1000
    )
    # one far longer than Telegram allows (a forged update) is cut at two parts and stored once
    before = len(answers(telegram, ADMIN))
    [passed] = await asked(telegram, OWNER, "x" * 2_000_000)
    parts = answers(telegram, ADMIN)[before:]
    assert passed == "Passed on to the consultant." and len(parts) == 2
    assert parts[-1].endswith("… (1,992,400 more characters: the whole message is in the transcript)")
    with contextlib.closing(sqlite3.connect(bot.settings.data_dir / "transcripts.db")) as conn:
        stored = conn.execute("select sum(length(question)) from handover_messages").fetchone()[0]
    assert stored < 20_000  # the pieces shown, not the whole message with each of them
    telegram.fail("sendMessage", 502, "Bad Gateway", times=4)  # the forward, and each of its retries
    [sorry] = await asked(telegram, OWNER, "Are you there?", count=1)
    assert "couldn't reach a consultant" in sorry and "Are you there?" not in answers(telegram, ADMIN)[-1]
    assert (await owner_turns(bot))[0].question == "Are you there?"  # stored all the same

    # the consultant replies to the card: delivered, stored as a human turn
    [sent] = await asked(telegram, ADMIN, "Ask your local bakers' guild about starter recipes.", reply_to=card)
    assert sent.startswith("✓ Sent to the owner")
    delivered = answers(telegram, OWNER)[-1]
    assert delivered.startswith(f"<b>From Owner{ADMIN} (consultant):</b>") and "bakers' guild" in delivered
    [human] = [t for t in await owner_turns(bot) if t.mode == "human"]
    assert human.answered_by == f"Owner{ADMIN} (tg:{ADMIN})" and human.question == NOT_COVERED_Q

    # Resolve: the owner is told, and the bot answers again, remembering the consultant's reply
    owner_before = len(answers(telegram, OWNER))
    telegram.press(ADMIN, "ho:resolve:1", card)
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > owner_before, what="the resolution")
    assert "closed your request" in answers(telegram, OWNER)[-1]
    await telegram.wait_for(lambda: "Resolved by" in answers(telegram, ADMIN)[-1], what="the note on the card")
    [answer] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in answer
    prompt = str(llm.requests[-1])
    assert "bakers' guild" in prompt and last_user_message(llm.requests[-1]).strip()


async def test_a_consultants_group_follow_ups_a_restart_and_expiry(start_bot, telegram, llm):
    bot = await start_bot(admin_chat_id=GROUP, handover_hours=0.004)  # 14.4 seconds: room for a slow restart
    telegram.chats[GROUP] = "supergroup"
    [confirmation] = await asked(telegram, OWNER, "/human I need help with a bank loan application")
    assert "within 0.004 hours" in confirmation
    card = telegram.calls_of("sendMessage", GROUP)[0].result
    assert "bank loan application" in card["text"] and not answers(telegram, ADMIN)  # the group, not admins

    # the bot restarts: the hand-over is in the database, so the next message still goes to the group
    await bot.stop()
    bot = await start_bot(admin_chat_id=GROUP, handover_hours=0.004)
    [passed] = await asked(telegram, OWNER, "It's for 20,000 dollars")
    assert passed == "Passed on to the consultant." and "20,000 dollars" in answers(telegram, GROUP)[-1]

    # anyone in the consultants' group may answer, replying to the owner's forwarded message
    forwarded = telegram.calls_of("sendMessage", GROUP)[-1].result
    before = len(answers(telegram, OWNER))
    telegram.message(
        CONSULTANT, "Bring 6 months of bank statements.", chat_id=GROUP, chat_type="supergroup", reply_to=forwarded
    )
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, what="the consultant's reply")
    assert "6 months of bank statements" in answers(telegram, OWNER)[-1]
    # the turn is stored once delivered; the group's "✓ Sent" says it is
    await telegram.wait_for(lambda: answers(telegram, GROUP)[-1].startswith("✓ Sent"), what="the confirmation")
    [human] = [t for t in await owner_turns(bot) if t.mode == "human"]
    assert human.question == "It's for 20,000 dollars" and human.answered_by.endswith(f"(tg:{CONSULTANT})")

    # an owner forging a card's button is refused; "Add to knowledge gaps" flags the request
    telegram.press(OWNER, "ho:resolve:1", sent_message(telegram, OWNER))  # forged, in the owner's own chat
    await telegram.wait_for(lambda: telegram.calls_of("answerCallbackQuery"), what="the refusal")
    assert telegram.calls_of("answerCallbackQuery")[-1].params["text"] == "Not permitted."
    assert (await bot.storage.get_handover(1)).status == "open"
    telegram.press(CONSULTANT, "ho:gap:1", card)
    await telegram.wait_for(lambda: len(telegram.calls_of("answerCallbackQuery")) >= 2, what="the gap button")
    flagged = [t for t in await owner_turns(bot) if t.flagged_gap]
    assert [t.question for t in flagged] == ["I need help with a bank loan application"]

    # the time passes: the bot answers again and says so
    await asyncio.sleep(14.5)
    replies = await asked(telegram, OWNER, CREDIT_Q, count=2)
    assert "answering again" in replies[0] and "invoice finance" in replies[1]


async def test_no_consultant_reachable_leaves_the_owner_with_the_bot(start_bot, telegram, llm):
    await start_bot(admin_user_ids=[])
    [sorry] = await asked(telegram, OWNER, "/human please call me")
    assert "couldn't reach a consultant" in sorry
    [answer] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in answer


async def test_human_says_at_once_when_no_consultant_can_be_reached(start_bot, telegram, llm):
    """A bare /human used to ask for the request first, then say it could not be sent."""
    unreachable = "Sorry, I couldn't reach a consultant just now. Please try /human again later."
    bot = await start_bot(admin_user_ids=[])  # no admin chat at all
    assert await asked(telegram, OWNER, "/human") == [unreachable]
    [answer] = await asked(telegram, OWNER, CREDIT_Q)  # a question, not a request
    assert "invoice finance" in answer
    await bot.stop()

    await start_bot()  # an admin who never opened the bot: Telegram does not know the chat
    telegram.fail("getChat", 400, "Bad Request: chat not found")
    assert await asked(telegram, OWNER, "/human") == [unreachable]
    assert not answers(telegram, ADMIN)
    [ask] = await asked(telegram, OWNER, "/human")  # reachable again: the request is asked for
    assert ask.startswith("What should a consultant help you with?")
    # (ended: /human's handler outlives this bot in the test process, with its timeout job)
    assert await asked(telegram, OWNER, "/cancel") == ["OK, no request was sent. Ask me anything."]


async def test_an_error_gives_one_admin_report_and_one_owner_line_with_the_same_reference(start_bot, telegram):
    bot = await start_bot()
    with sqlite3.connect(bot.settings.data_dir / "transcripts.db") as conn:
        conn.execute("drop table conversations")
    [reply] = await asked(telegram, OWNER, "/new")
    reference = re.search(r"reference ([0-9A-F]{6})", reply).group(1)
    await telegram.wait_for(lambda: answers(telegram, ADMIN), what="the admin's report")
    await asyncio.sleep(1.5)  # time for a second report or line, if one were coming
    [report] = answers(telegram, ADMIN)
    assert answers(telegram, OWNER) == [reply]
    assert f"Error {reference}" in report and "OperationalError" in report and "tg:111" in report
    assert "Text: /new" in report and TOKEN not in report
    assert "OperationalError" not in reply and "no such table" not in reply and "conversations" not in reply


async def test_past_the_hourly_report_limit_owners_still_get_their_line(start_bot, telegram):
    bot = await start_bot(error_reports_per_hour=1)
    with sqlite3.connect(bot.settings.data_dir / "transcripts.db") as conn:
        conn.execute("drop table conversations")
    [first] = await asked(telegram, OWNER, "/new")
    [second] = await asked(telegram, 222, "/new")
    await telegram.wait_for(lambda: answers(telegram, ADMIN), what="the admin's report")
    await asyncio.sleep(1.5)
    references = [re.search(r"reference ([0-9A-F]{6})", line).group(1) for line in (first, second)]
    [report] = answers(telegram, ADMIN)
    assert f"Error {references[0]}" in report and references[0] != references[1]
    assert answers(telegram, OWNER) == [first] and answers(telegram, 222) == [second]


async def test_an_error_quoting_a_long_request_reports_200_characters_of_it_at_most(start_bot, telegram):
    """SQLAlchemy's error quotes a statement's parameters, 300 characters of each: here the owner's request."""
    bot = await start_bot()
    with sqlite3.connect(bot.settings.data_dir / "transcripts.db") as conn:
        conn.execute("drop table handover_messages")
    words = " ".join(f"w{n:03d}" for n in range(120))
    [line] = await asked(telegram, OWNER, f"/human {words}")
    assert "something went wrong" in line
    await telegram.wait_for(lambda: any("⚠️ Error" in a for a in answers(telegram, ADMIN)), what="the report")
    [report] = [a for a in answers(telegram, ADMIN) if "⚠️ Error" in a]
    assert "OperationalError" in report and "handover_messages" in report
    quoted = SequenceMatcher(None, f"/human {words}", report, autojunk=False).find_longest_match().size
    assert quoted <= 200 and "w119" not in report, report


async def test_the_digest_transcript_and_open_turn_for_admins(start_bot, telegram):
    await start_bot()
    await asked(telegram, OWNER, CREDIT_Q)
    down = next(d for d in buttons(last_markup(telegram, OWNER)) if d.startswith("fb:down:"))
    turn_id = int(down.split(":")[2])
    before = len(answers(telegram, OWNER))
    telegram.press(OWNER, down, sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, what="the question after 👎")
    prompt = telegram.calls_of("sendMessage", OWNER)[-1].result
    await asked(telegram, OWNER, "It did not mention my country", reply_to=prompt)
    assert f"human:{turn_id}" in buttons(telegram.calls_of("editMessageReplyMarkup", OWNER)[-1].params["reply_markup"])

    [digest] = await asked(telegram, ADMIN, "/digest")
    assert "Questions: 1 from 1 owners" in digest and "1 👍 / 0 👎" not in digest and "0 👍 / 1 👎" in digest
    assert "It did not mention my country" in digest
    markup = last_markup(telegram, ADMIN)
    # the 👎 made the question a gap: "✍️ Answer this" under it (tests/channels/telegram/test_teach.py)
    assert buttons(markup) == {f"turn:{turn_id}": f"Open #{turn_id}", f"teach:gap:{turn_id}": "✍️ Answer this: 1"}
    before = len(answers(telegram, ADMIN))
    telegram.press(ADMIN, f"turn:{turn_id}", sent_message(telegram, ADMIN))
    await telegram.wait_for(lambda: len(answers(telegram, ADMIN)) > before, what="the opened turn")
    assert (
        CREDIT_Q in answers(telegram, ADMIN)[-1]
        and "👎 “It did not mention my country”" in answers(telegram, ADMIN)[-1]
    )

    for who in ("@owner111", "@OWNER111", "tg:111", "111"):
        [history] = await asked(telegram, ADMIN, f"/transcript {who}")
        assert CREDIT_Q in history and "👎 “It did not mention my country”" in history, who
    [unknown] = await asked(telegram, ADMIN, "/transcript @nobody")
    assert unknown == "No owner @nobody is stored."
    [refused] = await asked(telegram, OWNER, "/digest")
    assert refused == "Only the advisor's consultants and admins may use this command."
