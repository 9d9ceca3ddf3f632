"""The hand-over card and its ways in and out, end to end against the fake Bot API: what a card
shows a consultant, /human without a request, the card's Reply button, and the owner's /cancel
of an open request."""

from __future__ import annotations

import asyncio

import pytest

from tests.channels.telegram.test_handover import buttons, card_in, owner_turns
from tests.fakes.openai_server import Reply, last_user_message
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked, last_markup, sent_message

EARLIER_Q = "Should I sell cross-border?"
EARLIER_A = "Test **one market** first [1]."
CARD_BUTTONS = {"ho:reply:1": "↩️ Reply", "ho:resolve:1": "✅ Resolve", "ho:gap:1": "➕ Add to knowledge gaps"}


async def test_the_card_of_a_rated_down_answer_shows_what_a_consultant_needs(start_bot, telegram, llm):
    def responder(body: dict) -> Reply:
        if body.get("stream") and EARLIER_Q in last_user_message(body):
            return Reply(EARLIER_A)
        return Reply("Use **invoice finance** [1] and supplier credit [2].")

    llm.responder = responder
    bot = await start_bot()
    await asked(telegram, OWNER, "/profile industry=bakery staff=6 region=AU")
    [earlier] = await asked(telegram, OWNER, EARLIER_Q)
    assert earlier.startswith("Test <b>one market</b> first")
    [answer] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in answer
    down = next(d for d in buttons(last_markup(telegram, OWNER)) if d.startswith("fb:down:"))
    turn_id = int(down.split(":")[2])
    turn = await bot.storage.get_turn(turn_id)
    assert turn.mode == "llm" and turn.sources  # a cited answer
    path = turn.sources[0]["path"]

    # 👎: the answer gets a "Talk to a consultant" row, and pressing it posts the card
    before = len(answers(telegram, OWNER))
    telegram.press(OWNER, down, sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: telegram.calls_of("editMessageReplyMarkup", OWNER), what="the consultant button")
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, what="the question after 👎")
    rated = telegram.calls_of("editMessageReplyMarkup", OWNER)[-1]
    assert buttons(rated.params["reply_markup"])[f"human:{turn_id}"] == "🙋 Talk to a consultant"
    admin_before = len(answers(telegram, ADMIN))
    telegram.press(OWNER, f"human:{turn_id}", rated.result)
    card = await card_in(telegram, ADMIN, admin_before)
    text = telegram.calls_of("sendMessage", ADMIN)[admin_before].params["text"]  # as sent, with its HTML
    assert "<i>Profile:</i> Industry: bakery; Staff: 6; Region" in text and "AU" in text
    assert f"<b>Request:</b> {CREDIT_Q}" in text
    # the answer as the owner read it, not its Markdown
    assert "<b>The bot's answer</b> (llm, answered):\nUse invoice finance [1] and supplier credit [2]." in text
    assert "<b>Sources:</b> [1] " in text and f"({path})" in text and path.endswith(".md")
    assert f"<b>Earlier in the conversation:</b>\nQ: {EARLIER_Q}\nA: Test one market first [1]." in text
    assert f"Q: {CREDIT_Q}" not in text  # the question the card is about is not repeated as "earlier"
    assert buttons(card["reply_markup"]) == CARD_BUTTONS
    await telegram.wait_for(lambda: "passed this to a consultant" in answers(telegram, OWNER)[-1], what="the reply")
    assert (await bot.storage.get_handover(1)).turn_id == turn_id


async def test_human_without_a_request_asks_for_it_and_cancel_sends_nothing(start_bot, telegram, llm):
    bot = await start_bot()
    [ask] = await asked(telegram, OWNER, "/human")
    assert ask == "What should a consultant help you with? Write it in one message (or /cancel)."
    [cancelled] = await asked(telegram, OWNER, "/cancel")
    assert cancelled == "OK, no request was sent. Ask me anything."
    [answer] = await asked(telegram, OWNER, CREDIT_Q)  # the next message is a question again, not a request
    assert "invoice finance" in answer
    await asyncio.sleep(1)
    assert not answers(telegram, ADMIN) and await bot.storage.get_handover(1) is None

    [ask] = await asked(telegram, OWNER, "/human")
    assert ask.startswith("What should a consultant help you with?")
    [confirmation] = await asked(telegram, OWNER, "I need a loan for a second oven")
    assert "passed this to a consultant" in confirmation
    card = await card_in(telegram, ADMIN, 0)
    assert (
        "<b>Request:</b> I need a loan for a second oven" in telegram.calls_of("sendMessage", ADMIN)[0].params["text"]
    )
    assert buttons(card["reply_markup"]) == CARD_BUTTONS
    handover = await bot.storage.get_handover(1)
    assert (handover.request, handover.status) == ("I need a loan for a second oven", "open")


async def test_the_reply_button_prompts_the_consultant_and_delivers_the_answer(start_bot, telegram, llm):
    bot = await start_bot()
    await asked(telegram, OWNER, "/human I need help with a bank loan application")
    card = await card_in(telegram, ADMIN, 0)
    assert "ho:reply:1" in buttons(card["reply_markup"])

    telegram.press(ADMIN, "ho:reply:1", card)
    await telegram.wait_for(lambda: len(answers(telegram, ADMIN)) > 1, what="the reply prompt")
    prompt = telegram.calls_of("sendMessage", ADMIN)[-1]
    assert prompt.params["text"] == "Your answer to request #1, as a reply to this message:"
    assert prompt.params["reply_markup"]["force_reply"] is True
    owner_before = len(answers(telegram, OWNER))
    [sent] = await asked(telegram, ADMIN, "Bring 6 months of bank statements.", reply_to=prompt.result)
    assert sent == "✓ Sent to the owner (request #1)."
    assert answers(telegram, OWNER)[owner_before:] == [
        f"<b>From Owner{ADMIN} (consultant):</b>\nBring 6 months of bank statements."
    ]
    [human] = [t for t in await owner_turns(bot) if t.mode == "human"]
    assert human.answer == "Bring 6 months of bank statements."
    assert (
        human.question == "I need help with a bank loan application"
        and human.answered_by == f"Owner{ADMIN} (tg:{ADMIN})"
    )


async def test_the_owners_cancel_ends_the_request_and_the_bot_answers_again(start_bot, telegram, llm):
    bot = await start_bot()
    await asked(telegram, OWNER, "/human I need help with a bank loan application")
    card = await card_in(telegram, ADMIN, 0)
    [closed] = await asked(telegram, OWNER, "/cancel")
    assert closed == "Your request to a consultant is closed. I'm answering again."
    await telegram.wait_for(lambda: len(answers(telegram, ADMIN)) > 1, what="the note on the card")
    note = telegram.calls_of("sendMessage", ADMIN)[-1].params
    assert note["text"] == "The owner ended this request."
    assert note["reply_parameters"]["message_id"] == card["message_id"]
    handover = await bot.storage.get_handover(1)
    assert (handover.status, handover.resolved_by) == ("resolved", "the owner")

    admin_before, llm_before = len(answers(telegram, ADMIN)), len(llm.requests)
    [answer] = await asked(telegram, OWNER, CREDIT_Q)
    assert "invoice finance" in answer and len(llm.requests) > llm_before
    await asyncio.sleep(1)
    assert len(answers(telegram, ADMIN)) == admin_before  # nothing forwarded to the consultants
    [cancel] = await asked(telegram, OWNER, "/cancel")  # nothing open any more
    assert cancel == "There's nothing to cancel: I'm not preparing an answer."


@pytest.mark.hostile
async def test_a_consultants_photo_or_document_reaches_the_owner_and_an_owners_photo_reply_is_theirs(
    start_bot, telegram, llm
):
    """A consultant's photo, document or voice reply to a card never reached the owner, nobody was
    told, and a photo's caption was answered by the bot in the consultants' group."""
    bot = await start_bot()
    await asked(telegram, OWNER, "/human Which oven should I lease?")
    card = await card_in(telegram, ADMIN, 0)
    owner_before = len(answers(telegram, OWNER))
    photo = [{**telegram.add_file(b"\xff\xd8\xff\xe0 oven", "oven.jpg"), "width": 90, "height": 90}]
    [sent] = await asked(telegram, ADMIN, None, reply_to=card, extra={"photo": photo, "caption": "This model, 2 years"})
    assert sent == "✓ Sent to the owner (request #1)."
    assert answers(telegram, OWNER)[owner_before:] == [f"<b>From Owner{ADMIN} (consultant):</b>"]
    [copy] = telegram.calls_of("copyMessage")
    assert int(copy.params["chat_id"]) == OWNER and int(copy.params["from_chat_id"]) == ADMIN
    leaflet = {**telegram.add_file(b"%PDF-1.4 leaflet", "lease.pdf"), "file_name": "lease.pdf"}
    document = {**leaflet, "mime_type": "application/pdf"}
    [sent] = await asked(telegram, ADMIN, None, reply_to=card, extra={"document": document})
    assert sent == "✓ Sent to the owner (request #1)." and len(telegram.calls_of("copyMessage")) == 2
    human = [t.answer for t in await owner_turns(bot) if t.mode == "human"]
    assert sorted(human) == ["[document]", "[photo] This model, 2 years"]

    # an owner's photo in reply to the bot's message is still an owner's question
    answer = sent_message(telegram, OWNER)
    await asked(telegram, OWNER, "/cancel")  # the request ends; the next question is the bot's again
    replies = await asked(telegram, OWNER, None, reply_to=answer, extra={"photo": photo})
    assert replies[-1].startswith("What would you like to know about this photo?")


@pytest.mark.hostile
async def test_a_long_consultant_reply_arrives_whole_and_a_forgotten_owners_card_says_so(start_bot, telegram, llm):
    """A reply of 4,000–4,096 characters could not be delivered with its header (and "try again"
    failed the same way); after the owner's /forget, a reply to their card was answered by the bot
    in the consultants' chat as if it were a question."""
    bot = await start_bot()
    await asked(telegram, OWNER, "/human Which oven should I lease?")
    card = await card_in(telegram, ADMIN, 0)
    owner_before = len(answers(telegram, OWNER))
    long = ("Lease the deck oven for three years. " * 111)[:4090].strip()  # within Telegram's 4,096
    [sent] = await asked(telegram, ADMIN, long, reply_to=card)
    assert sent == "✓ Sent to the owner (request #1)."
    delivered = answers(telegram, OWNER)[owner_before:]
    assert len(delivered) == 2 and delivered[0].startswith(
        f"<b>From Owner{ADMIN} (consultant):</b>\nLease the deck oven"
    )
    assert "".join(delivered).count("Lease the deck oven") == long.count("Lease the deck oven") == 111

    await asked(telegram, OWNER, "/forget")
    telegram.press(OWNER, "forget:yes", sent_message(telegram, OWNER))
    for _ in range(40):
        if await bot.storage.get_handover(1) is None:
            break
        await asyncio.sleep(0.25)
    assert await bot.storage.get_handover(1) is None
    llm_calls = len(llm.requests)
    [gone] = await asked(telegram, ADMIN, "Also check the warranty.", reply_to=card)
    assert gone.startswith("That request is no longer stored: the owner deleted their data (/forget)")
    assert len(llm.requests) == llm_calls  # not answered as a question


@pytest.mark.hostile
async def test_direction_overrides_in_an_owners_name_and_words_never_reach_consultants(start_bot, telegram, llm):
    await start_bot()
    user = {"id": OWNER, "is_bot": False, "first_name": "Evil\u202enamreh", "username": "evil"}
    update = telegram.message_update(OWNER, "/human Please \u202ereverse\u2069 this")
    update["message"]["from"] = user
    telegram.raw_update(update)
    card = await card_in(telegram, ADMIN, 0)
    assert "\u202e" not in card["text"] and "\u2069" not in card["text"] and "Evilnamreh" in card["text"]
    await telegram.wait_for(
        lambda: any("passed this to a consultant" in a for a in answers(telegram, OWNER)), what="confirmed"
    )
    [passed] = await asked(telegram, OWNER, "and \u202ethis\u202c too")
    relayed = answers(telegram, ADMIN)[-1]
    assert passed == "Passed on to the consultant." and "and this too" in relayed
