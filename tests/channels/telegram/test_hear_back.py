"""Owners hear back, against the fake Bot API: "Tell me when you know" under a not-covered answer
is stored once; after an ordinary ingest of a file that answers it, `tell_waiting_owners` sends
the owner one message (their question, the answer, its source, the usual buttons), in their
language; nothing when the new file does not answer it; one a day; /forget removes the wish; a
send that fails keeps it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from bot.channels.telegram.handlers.hear_back import tell_held, tell_waiting_owners
from bot.knowledge import runner as ingest_runner
from bot.locales import texts
from bot.storage import TurnFilter
from tests.helpers import SAMPLE_CREDIT, SAMPLE_TRADE, write
from tests.helpers.live_bot import KOMBUCHA
from tests.helpers.telegram import OWNER, answers, asked, last_markup, sent_message

SOURDOUGH_Q = "What is the best recipe for sourdough bread?"
SOURDOUGH_RU = "Какой лучший рецепт хлеба на закваске?"
KOMBUCHA_Q = "What licence does a kombucha brewery need?"
SOURDOUGH = """---
title: Sourdough for small bakeries
topic: operations
---

# Sourdough for small bakeries

## What is a good sourdough bread recipe for a bakery?

Asked:
- what is the best recipe for sourdough bread
- how do I bake sourdough bread
- a sourdough starter recipe
- какой лучший рецепт хлеба на закваске

Feed a starter of rye flour and water every day for a week. Then mix 1 kg of bread flour,
700 g of water, 200 g of starter and 20 g of salt, fold the dough four times, prove it
overnight in the fridge and bake it at 250 °C for 40 minutes.
"""


def buttons(markup: dict) -> dict[str, str]:
    """callback data → label of every button of an inline keyboard."""
    return {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}


@pytest.fixture
async def library(settings, kdir):
    """A small knowledge dir, ingested: credit and trade, nothing on bread or kombucha."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    await asyncio.to_thread(ingest_runner.run_ingest, settings)
    return settings


async def published(settings, rel: str, text: str) -> str:
    """A new knowledge file, live after the ordinary ingest (what a publish does); its path."""
    write(settings.knowledge_dir, rel, text)
    await asyncio.to_thread(ingest_runner.run_ingest, settings)
    return rel


async def start(start_bot, library, **overrides):
    return await start_bot(knowledge_dir=library.knowledge_dir, index_dir=library.index_path, **overrides)


async def wish_for(telegram, question: str, language: str | None = None) -> dict:
    """Ask a question the bot cannot answer and tap "Tell me when you know" under the answer;
    the confirmation."""
    [declined] = await asked(telegram, OWNER, question, language_code=language)
    offer = [data for data in buttons(last_markup(telegram, OWNER)) if data.startswith("wish:")]
    assert offer, (declined, last_markup(telegram, OWNER))
    telegram.press(OWNER, offer[0], sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: answers(telegram, OWNER)[-1] != declined, what="the confirmation")
    return sent_message(telegram, OWNER, -2)  # the answer the button is under


async def test_an_owner_hears_back_once_an_entry_answers_them_and_once_a_day(start_bot, telegram, library):
    bot = await start(start_bot, library)
    under = await wish_for(telegram, SOURDOUGH_Q)
    label = buttons(under["reply_markup"])
    assert [text for data, text in label.items() if data.startswith("wish:")] == ["🔔 Tell me when you know"]
    assert any(data.startswith("human:") for data in label)  # the consultant's row stays
    assert answers(telegram, OWNER)[-1].startswith("🔔 Noted.") and SOURDOUGH_Q in answers(telegram, OWNER)[-1]
    [wish] = await bot.storage.open_wishes(f"tg:{OWNER}")
    assert (wish.question, wish.chat_id, wish.language) == (SOURDOUGH_Q, OWNER, "en")

    # a second tap is told it is noted already, and stores nothing more
    sent = len(answers(telegram, OWNER))
    telegram.press(OWNER, next(d for d in label if d.startswith("wish:")), under)
    await telegram.wait_for(
        lambda: any(
            c.params.get("text") == "Already noted: I'll tell you when I know."
            for c in telegram.calls_of("answerCallbackQuery")
        ),
        what="the second tap's answer",
    )
    assert len(answers(telegram, OWNER)) == sent and len(await bot.storage.open_wishes()) == 1

    # a file that does not answer it: nothing is sent, the wish stays open
    await wish_for(telegram, KOMBUCHA_Q)
    sent = len(answers(telegram, OWNER))
    bread = await published(library, "answers/sourdough.md", SOURDOUGH)
    assert await tell_waiting_owners(bot.application, "answers/other.md") == 0
    assert len(answers(telegram, OWNER)) == sent and len(await bot.storage.open_wishes()) == 2

    # the file that answers it: one message, the question, the answer with its source, the buttons
    assert await tell_waiting_owners(bot.application, str(library.knowledge_dir / bread)) == 1
    [told] = answers(telegram, OWNER)[sent:]
    assert "You asked me to tell you when I know" in told and f"You asked: {SOURDOUGH_Q}" in told
    assert "invoice finance" in told and "Sourdough for small bakeries" in told  # the (fake) model's answer, its source
    follow_up = buttons(last_markup(telegram, OWNER))
    assert {d.split(":")[0] for d in follow_up} >= {"fb", "src"}
    turn = await _follow_up_delivered(bot)
    assert turn.question == SOURDOUGH_Q and turn.covered and turn.delivered
    assert [w.question for w in await bot.storage.open_wishes()] == [KOMBUCHA_Q]

    # the next publish answers the other question the same day: it waits for the next day
    brewery = await published(library, "answers/kombucha.md", KOMBUCHA)
    assert await tell_waiting_owners(bot.application, brewery) == 0
    assert len(answers(telegram, OWNER)) == sent + 1
    [held] = await bot.storage.open_wishes()
    assert held.found_in == brewery
    await tell_held(bot.application)  # the hourly job, still the same day
    assert len(answers(telegram, OWNER)) == sent + 1
    await _a_day_passes(bot)
    await tell_held(bot.application)
    [told] = answers(telegram, OWNER)[sent + 1 :]
    assert f"You asked: {KOMBUCHA_Q}" in told and "Licensing a kombucha brewery" in told
    assert await bot.storage.open_wishes() == []


async def test_a_russian_owner_hears_back_in_russian_and_a_failed_send_keeps_the_wish(start_bot, telegram, library):
    bot = await start(start_bot, library, llm_model=None, multilingual=True)  # a Russian question understood
    ru = texts("ru")
    await wish_for(telegram, SOURDOUGH_RU, language="ru")
    noted = answers(telegram, OWNER)[-1]
    assert noted == ru("🔔 Noted. I'll tell you here once I know the answer to “{question}”.").format(
        question=SOURDOUGH_RU
    )
    assert not noted.startswith("🔔 Noted.")  # translated
    bread = await published(library, "answers/sourdough.md", SOURDOUGH)

    # Telegram fails the message and each of its retries: the wish stays open
    sent = len(answers(telegram, OWNER))
    telegram.fail("sendMessage", 502, "Bad Gateway", times=4)
    assert await tell_waiting_owners(bot.application, bread) == 0
    assert len(answers(telegram, OWNER)) == sent and len(await bot.storage.open_wishes()) == 1
    assert len([c for c in telegram.calls if c.method == "sendMessage" and not c.ok]) == 4  # it was tried

    assert await tell_waiting_owners(bot.application, bread) == 1
    [told] = answers(telegram, OWNER)[sent:]
    assert ru("🔔 You asked me to tell you when I know. Now I do.") in told
    assert ru("You asked: {question}").format(question=SOURDOUGH_RU) in told
    assert "250 °C" in told and ru("Sources") in told and "Sourdough for small bakeries" in told
    assert ru("Sources") in buttons(last_markup(telegram, OWNER)).values()
    assert await bot.storage.open_wishes() == []


async def test_forget_removes_the_wish_and_mydata_shows_it(start_bot, telegram, library):
    bot = await start(start_bot, library, llm_model=None)
    await wish_for(telegram, SOURDOUGH_Q)
    before = len(telegram.calls_of("sendDocument"))
    telegram.message(OWNER, "/mydata")
    await telegram.wait_for(lambda: len(telegram.calls_of("sendDocument")) > before, what="the data file")
    data = json.loads(telegram.calls_of("sendDocument")[-1].params["document"])
    [waiting] = data["Waiting to hear back"]
    assert waiting["Question"] == SOURDOUGH_Q and waiting["Asked (UTC)"]

    await asked(telegram, OWNER, "/forget")
    telegram.press(OWNER, "forget:yes", sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: telegram.calls_of("editMessageText", OWNER), what="the deletion")
    assert await bot.storage.open_wishes() == [] and await bot.storage.wishes_of(f"tg:{OWNER}") == []
    bread = await published(library, "answers/sourdough.md", SOURDOUGH)
    sent = len(answers(telegram, OWNER))
    assert await tell_waiting_owners(bot.application, bread) == 0
    assert len(answers(telegram, OWNER)) == sent


async def _a_day_passes(bot) -> None:
    """The owner was last told more than a day ago (the stored time moved back)."""
    from sqlalchemy import update

    from bot.storage.models import Wish

    told = [w for w in await bot.storage.wishes_of(f"tg:{OWNER}") if w.told_at is not None]
    async with bot.storage.sessions.begin() as session:
        for wish in told:
            earlier = wish.told_at - dt.timedelta(hours=25)
            await session.execute(update(Wish).where(Wish.id == wish.id).values(told_at=earlier))


async def _follow_up_delivered(bot):
    """The stored follow-up turn, once its delivery is marked (written within a second)."""
    for _ in range(50):
        turns = await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"), limit=None)
        [turn] = [t for t in turns if t.input_kind == "follow-up"]
        if turn.delivered is not None:
            return turn
        await asyncio.sleep(0.1)
    raise AssertionError("the follow-up's delivery was never marked")


@pytest.mark.hostile
async def test_an_owner_who_blocked_the_bot_is_not_asked_again_at_every_publish(start_bot, telegram, library):
    """Telegram answers 403 (the owner blocked the bot): the wish was reopened and, at every
    publish after, answered, recorded and sent again to an owner who cannot get it."""
    bot = await start(start_bot, library, llm_model=None)
    await wish_for(telegram, SOURDOUGH_Q)
    bread = await published(library, "answers/sourdough.md", SOURDOUGH)
    telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    assert await tell_waiting_owners(bot.application, bread) == 0
    assert await bot.storage.open_wishes() == []
    tried = len(telegram.calls_of("sendMessage", OWNER))
    assert await tell_waiting_owners(bot.application, bread) == 0
    assert len(telegram.calls_of("sendMessage", OWNER)) == tried  # not tried again
