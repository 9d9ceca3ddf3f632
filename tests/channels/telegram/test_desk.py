"""The consultants' desk, end to end against the fake Bot API: /queue with claims (a second
claim told who has it), Open, the consultant's name reaching the owner (in Russian, /myname),
the owner's rating after Resolve in the digest, and who may use which command."""

from __future__ import annotations

import asyncio

from tests.channels.telegram.test_handover import GROUP, buttons, card_in
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked, assert_rendered, sent_message

SECOND_OWNER, OTHER_CONSULTANT, OUTSIDE_CONSULTANT, STRANGER = 333, 78, 55, 4242
ONLY_TEAM = "Only the advisor's consultants and admins may use this command."
ONLY_ADMINS = "Only admins (ADMIN_USER_IDS) may use this command."


def in_group(telegram, user: int, text: str, **kwargs):
    return asked(telegram, user, text, chat_id=GROUP, chat_type="supergroup", **kwargs)


async def callback_answer(telegram, before: int) -> str:
    await telegram.wait_for(lambda: len(telegram.calls_of("answerCallbackQuery")) > before, what="the tap's answer")
    return telegram.calls_of("answerCallbackQuery")[before].params.get("text", "")


async def test_queue_lists_open_requests_and_a_second_claim_is_told_who_has_it(start_bot, telegram, llm):
    bot = await start_bot(admin_chat_id=GROUP)
    telegram.chats[GROUP] = "supergroup"
    assert await in_group(telegram, 77, "/queue") == ["No open requests."]

    await asked(telegram, OWNER, "/human")  # the request written after, on two lines
    await asked(telegram, OWNER, "I need a loan for a second oven\nand some advice on rates")
    await asked(telegram, SECOND_OWNER, "/human Help me price my cakes")
    cards = telegram.calls_of("sendMessage", GROUP)[1:3]
    assert ["Request #1" in cards[0].params["text"], "Request #2" in cards[1].params["text"]] == [True, True]

    [listing] = await in_group(telegram, 77, "/queue")
    assert listing.startswith("<b>📋 Open requests</b> (2, oldest first)")
    assert listing.index("#1") < listing.index("#2")  # oldest first
    assert "Owner111 (@owner111, tg:111)" in listing and "“I need a loan for a second oven”" in listing
    assert "and some advice" not in listing  # the request's first line
    assert "⏳ waiting 0 min · <i>unclaimed</i>" in listing
    queue = sent_message(telegram, GROUP)
    assert buttons(queue["reply_markup"]) == {
        "q:claim:1": "🙋 Claim #1",
        "q:open:1": "📂 Open #1",
        "q:claim:2": "🙋 Claim #2",
        "q:open:2": "📂 Open #2",
    }

    # consultant 77 claims #1: told so, the card shows it, the queue is refreshed for them
    taps = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(77, "q:claim:1", queue)
    assert await callback_answer(telegram, taps) == "Request #1 is yours now."
    await telegram.wait_for(lambda: telegram.calls_of("editMessageReplyMarkup", GROUP), what="the claimed card")
    edited_card = telegram.calls_of("editMessageReplyMarkup", GROUP)[-1].params
    assert int(edited_card["message_id"]) == cards[0].result["message_id"]
    assert buttons(edited_card["reply_markup"])["q:claim:1"] == "👤 Claimed by Owner77"
    await telegram.wait_for(lambda: telegram.calls_of("editMessageText", GROUP), what="the refreshed queue")
    refreshed = telegram.calls_of("editMessageText", GROUP)[-1].params
    assert "claimed by <b>Owner77</b>" in refreshed["text"]
    assert buttons(refreshed["reply_markup"])["q:claim:1"] == "↩️ Unclaim #1"

    # consultant 78 tries to claim it too: told who has it, nothing changes
    taps = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(OTHER_CONSULTANT, "q:claim:1", queue)
    assert await callback_answer(telegram, taps) == "Request #1 is already claimed by Owner77."
    handover = await bot.storage.get_handover(1)
    assert (handover.claimed_by, handover.claimed_by_name) == (77, "Owner77")
    [listing] = await in_group(telegram, OTHER_CONSULTANT, "/queue")
    assert "claimed by <b>Owner77</b>" in listing
    assert buttons(sent_message(telegram, GROUP)["reply_markup"])["q:claim:1"] == "🙋 Claim #1"  # not theirs

    # Open #2: the request under its card, and a reply to it reaches the owner
    telegram.press(OTHER_CONSULTANT, "q:open:2", queue)
    await telegram.wait_for(lambda: "Reply to this message" in answers(telegram, GROUP)[-1], what="the opened card")
    opened = telegram.calls_of("sendMessage", GROUP)[-1]
    assert opened.params["text"].startswith("🙋 <b>Request #2</b> from <b>Owner333 (@owner333, tg:333)</b>")
    assert opened.params["reply_parameters"]["message_id"] == cards[1].result["message_id"]
    before = len(answers(telegram, SECOND_OWNER))
    [sent] = await in_group(telegram, OTHER_CONSULTANT, "Price at cost plus 60%.", reply_to=opened.result)
    assert sent == "✓ Sent to the owner (request #2)."
    assert answers(telegram, SECOND_OWNER)[before:] == ["<b>From Owner78 (consultant):</b>\nPrice at cost plus 60%."]
    # answering an unclaimed request claims it: its card says so
    await telegram.wait_for(
        lambda: "👤 Claimed by Owner78" in str(telegram.calls_of("editMessageReplyMarkup", GROUP)[-1].params),
        what="the answered card claimed",
    )
    assert (
        int(telegram.calls_of("editMessageReplyMarkup", GROUP)[-1].params["message_id"])
        == cards[1].result["message_id"]
    )
    assert (await bot.storage.get_handover(2)).claimed_by == OTHER_CONSULTANT

    # 77 gives #1 back: the card shows no claimer; then two claims at once: exactly one wins
    taps = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(77, "q:claim:1", queue)
    assert await callback_answer(telegram, taps) == "You gave request #1 back."
    await telegram.wait_for(
        lambda: (
            "q:claim:1" not in buttons(telegram.calls_of("editMessageReplyMarkup", GROUP)[-1].params["reply_markup"])
        ),
        what="the card unclaimed",
    )
    first, second = await asyncio.gather(
        bot.storage.claim_handover(1, 80, "Ana"), bot.storage.claim_handover(1, 81, "Ben")
    )
    assert first.claimed_by == second.claimed_by and first.claimed_by in (80, 81)
    assert not await bot.storage.unclaim_handover(1, 77)  # not theirs any more

    # an owner cannot claim (a forged tap in their own chat)
    taps = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(OWNER, "q:claim:2", sent_message(telegram, OWNER))
    assert await callback_answer(telegram, taps) == "Only consultants and admins may use the desk."
    assert (await bot.storage.get_handover(2)).claimed_by == OTHER_CONSULTANT  # unchanged
    assert_rendered(telegram, GROUP, html_only=False)  # the desk's texts: no raw Markdown


async def test_the_consultants_name_reaches_a_russian_owner_and_myname_sets_it(start_bot, telegram, llm):
    bot = await start_bot()
    [mine] = await asked(telegram, ADMIN, "/myname")
    assert mine.startswith(f"Owners read your replies as from “Owner{ADMIN}” (your Telegram first name).")
    [too_long] = await asked(telegram, ADMIN, "/myname " + "A" * 41)
    assert too_long.startswith("A name needs at most 40 characters.")
    [set_] = await asked(telegram, ADMIN, "/myname Анна")
    assert set_ == "Owners will read “From Анна (consultant):” above your replies."
    [mine] = await asked(telegram, ADMIN, "/myname")
    assert mine.startswith("Owners read your replies as from “Анна” (the name you set).")

    admin_before = len(answers(telegram, ADMIN))
    await asked(telegram, OWNER, "/human Нужен кредит на вторую печь", language_code="ru")
    card = await card_in(telegram, ADMIN, admin_before)
    before = len(answers(telegram, OWNER))
    [sent] = await asked(telegram, ADMIN, "Принесите выписки за 6 месяцев.", reply_to=card)
    assert sent == "✓ Sent to the owner (request #1)."
    assert answers(telegram, OWNER)[before:] == ["<b>Консультант Анна:</b>\nПринесите выписки за 6 месяцев."]
    [history] = await asked(telegram, ADMIN, f"/transcript {OWNER}")
    assert f"Consultant Анна (tg:{ADMIN}):" in history and "Принесите выписки" in history

    [reset] = await asked(telegram, ADMIN, "/myname -")
    assert reset == f"Owners will read your Telegram first name, “Owner{ADMIN}”."
    assert await bot.storage.consultant_name(ADMIN) is None
    before = len(answers(telegram, OWNER))
    await asked(telegram, ADMIN, "И справку о доходах.", reply_to=card)
    assert answers(telegram, OWNER)[before:] == [f"<b>Консультант Owner{ADMIN}:</b>\nИ справку о доходах."]


async def test_the_owner_rates_the_help_after_resolve_and_the_digest_counts_it(start_bot, telegram, llm):
    bot = await start_bot(allowed_user_ids=[OWNER, STRANGER])
    await asked(telegram, OWNER, "/human Which oven should I lease?")
    card = await card_in(telegram, ADMIN, 0)
    await asked(telegram, ADMIN, "The deck oven.", reply_to=card)
    before = len(answers(telegram, OWNER))
    telegram.press(ADMIN, "ho:resolve:1", card)
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, what="the resolution")
    closed = telegram.calls_of("sendMessage", OWNER)[-1]
    assert closed.params["text"].endswith(
        "closed your request. I'm answering your questions again; /human asks for a person.\n\nDid this help?"
    )
    assert buttons(closed.params["reply_markup"]) == {"hr:up:1": "👍", "hr:down:1": "👎"}

    taps = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(STRANGER, "hr:up:1", closed.result)  # not their request
    assert await callback_answer(telegram, taps) == "Not permitted."
    assert (await bot.storage.get_handover(1)).rating is None

    taps = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(OWNER, "hr:down:1", closed.result)
    assert await callback_answer(telegram, taps) == "Thanks — sorry it didn't help."
    handover = await bot.storage.get_handover(1)
    assert handover.rating == "down" and handover.rated_at is not None
    await telegram.wait_for(lambda: telegram.calls_of("editMessageReplyMarkup", OWNER), what="the buttons taken away")
    await telegram.wait_for(lambda: answers(telegram, ADMIN)[-1] == "The owner rated the help 👎.", what="the note")

    [digest] = await asked(telegram, ADMIN, "/digest")
    assert "\nHand-overs: 1 asked, 0 open now\nHand-overs resolved: 1 (👍 0, 👎 1)\n" in digest


async def test_consultants_use_the_desks_commands_and_only_admins_the_rest(start_bot, telegram, llm):
    await start_bot(allowed_user_ids=[OWNER], consultant_user_ids=[OUTSIDE_CONSULTANT], admin_chat_id=GROUP)
    telegram.chats[GROUP] = "supergroup"
    await asked(telegram, OWNER, CREDIT_Q)

    # a CONSULTANT_USER_IDS user, privately, though not in ALLOWED_USER_IDS
    assert await asked(telegram, OUTSIDE_CONSULTANT, "/queue") == ["No open requests."]
    [stats] = await asked(telegram, OUTSIDE_CONSULTANT, "/stats")
    assert "Turns: 1" in stats
    [gaps] = await asked(telegram, OUTSIDE_CONSULTANT, "/gaps")
    assert "gaps" in gaps.lower()
    [history] = await asked(telegram, OUTSIDE_CONSULTANT, f"/transcript {OWNER}")
    assert CREDIT_Q in history
    [digest] = await asked(telegram, OUTSIDE_CONSULTANT, "/digest")
    assert "Digest since" in digest
    [name] = await asked(telegram, OUTSIDE_CONSULTANT, "/myname")
    assert name.startswith("Owners read your replies as from")
    for command in ("/export", "/allow 4242", "/block 111", "/reload"):
        assert await asked(telegram, OUTSIDE_CONSULTANT, command) == [ONLY_ADMINS], command
    [help_] = await asked(telegram, OUTSIDE_CONSULTANT, "/help")
    assert "For consultants:\n/queue – " in help_ and "/myname" in help_ and "/export" not in help_
    menus = {
        (c.params.get("scope") or {}).get("chat_id"): {m["command"] for m in c.params["commands"]}
        for c in telegram.calls_of("setMyCommands")
    }
    assert {"queue", "myname", "transcript", "gaps", "stats", "digest"} <= menus[OUTSIDE_CONSULTANT]
    assert "export" not in menus[OUTSIDE_CONSULTANT] and "queue" in menus[GROUP] and "queue" not in menus[None]

    # anyone in the consultants' group: the same
    [stats] = await in_group(telegram, 77, "/stats")
    assert "Turns: 1" in stats
    assert await in_group(telegram, 77, "/queue") == ["No open requests."]
    assert await in_group(telegram, 77, "/export") == [ONLY_ADMINS]

    # an owner is told who may; a stranger is not let in at all
    for command in ("/queue", "/stats", "/gaps", f"/transcript {OWNER}", "/digest", "/myname Bob"):
        assert await asked(telegram, OWNER, command) == [ONLY_TEAM], command
    [refused] = await asked(telegram, STRANGER, "/queue")
    assert "private" in refused and str(STRANGER) in refused
    assert await asked(telegram, OWNER, "/export") == ["Not permitted."]

    # an admin may do everything
    [allowed] = await asked(telegram, ADMIN, "/allow 4242")
    assert "4242 may now use" in allowed
