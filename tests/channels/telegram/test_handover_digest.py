"""The daily digest end to end against the fake Bot API: the scheduled job sends it once when its
time has come (and never twice, across restarts), and its figures count what owners did."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from bot.advisor.pipeline import FALLBACK_NOTE
from bot.channels.telegram.handlers.digest import SENT_KEY
from bot.config import load_settings
from bot.storage import Storage
from bot.storage.models import utcnow
from tests.channels.telegram.test_handover import NOT_COVERED_Q, card_in
from tests.fakes.openai_server import Error, Reply
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked

JOB_FIRST_RUN = 5  # seconds after the start: the digest job's first look at the clock (bot/channels/telegram/app.py)


def digests(telegram) -> list[str]:
    return [text for text in answers(telegram, ADMIN) if text.startswith("📊 <b>Digest since")]


def refused_sends(telegram) -> list:
    return [c for c in list(telegram.calls) if c.method == "sendMessage" and not c.ok]


async def sent_slot(storage: Storage, timeout: float = JOB_FIRST_RUN + 15) -> str | None:
    """The digest slot last claimed, once the job has claimed one."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (claimed := await storage.get_state(SENT_KEY)) is None and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    return claimed


async def test_the_scheduled_digest_goes_once_when_due_and_not_again_after_a_restart(start_bot, telegram, llm):
    slot = utcnow().replace(second=0, microsecond=0) - dt.timedelta(minutes=1)  # DIGEST_TIME just past
    at = f"{slot:%H:%M}"

    # the very first start: no digest, the clock starts at the slot just past
    bot = await start_bot(digest_time=at)
    assert await sent_slot(bot.storage) == slot.isoformat()
    await asyncio.sleep(1)  # time for a digest, if one were coming after the claim
    assert not digests(telegram)
    await asked(telegram, OWNER, CREDIT_Q)
    await bot.stop()

    # yesterday's digest went out, today's has not: the next start sends it, once, since yesterday's
    yesterday = slot - dt.timedelta(days=1)
    storage = await Storage.open(bot.settings.database)
    try:
        assert await storage.claim_state(SENT_KEY, slot.isoformat(), yesterday.isoformat())
    finally:
        await storage.close()
    bot = await start_bot(digest_time=at)
    await telegram.wait_for(lambda: digests(telegram), timeout=JOB_FIRST_RUN + 25, what="the scheduled digest")
    [digest] = digests(telegram)
    assert digest.startswith(f"📊 <b>Digest since {yesterday:%Y-%m-%d %H:%M} UTC</b>")
    assert "Questions: 1 from 1 owners" in digest
    assert telegram.calls_of("sendMessage", ADMIN)[-1].params["parse_mode"] == "HTML"
    assert await bot.storage.get_state(SENT_KEY) == slot.isoformat()
    await bot.stop()

    # a restart the same day: the job runs again and sends nothing
    bot = await start_bot(digest_time=at)
    await asyncio.sleep(JOB_FIRST_RUN + 3)
    assert len(digests(telegram)) == 1 and await bot.storage.get_state(SENT_KEY) == slot.isoformat()


async def test_the_digest_counts_gaps_hand_overs_and_llm_failures(start_bot, telegram, llm):
    await start_bot(llm_max_retries=0)
    # not covered, twice, by two owners: one gap theme asked twice
    [declined] = await asked(telegram, OWNER, NOT_COVERED_Q)
    assert "don't have material" in declined
    [declined] = await asked(telegram, 222, "Which sourdough starter makes the best bread?")
    assert "don't have material" in declined
    # the model fails: answered offline, counted as an LLM failure
    llm.responder = lambda body: Error(500, "upstream exploded")
    [offline] = await asked(telegram, 333, CREDIT_Q)
    llm.responder = lambda body: Reply("Use **invoice finance** [1] and supplier credit [2].")
    assert offline.startswith(f"<i>{FALLBACK_NOTE.strip('_')}</i>")
    # two hand-overs: one resolved by a consultant, one still open
    await asked(telegram, 333, "/human please look at my loan plan")
    card = await card_in(telegram, ADMIN, 0)
    owner_before = len(answers(telegram, 333))
    telegram.press(ADMIN, "ho:resolve:1", card)
    await telegram.wait_for(lambda: len(answers(telegram, 333)) > owner_before, what="the resolution")
    await asked(telegram, 444, "/human call me about exporting")
    await card_in(telegram, ADMIN, len(answers(telegram, ADMIN)) - 1)

    [digest] = await asked(telegram, ADMIN, "/digest")
    # the three answers, from three owners: 444 only asked for a person, which is no question
    assert "\nQuestions: 3 from 3 owners\n" in digest
    assert "\nNot covered: 2\n" in digest
    assert "\nHand-overs: 2 asked, 1 open now\nHand-overs resolved: 1 (👍 0, 👎 0)\n" in digest
    assert "\nLLM failures: 1" in digest
    assert "\n\n<b>Biggest gaps:</b>\n1. " in digest
    [top] = re.findall(r"\n1\. (.+) — (\d+)×", digest)
    assert "sourdough" in top[0].lower() and top[1] == "2", digest


async def test_a_digest_telegram_could_not_deliver_is_sent_at_the_next_check(start_bot, telegram, tmp_path):
    """Telegram down through every retry of the digest's send: the day's claim is given back
    (not lost), and the next check sends it; a digest every admin chat refuses is not retried."""
    slot = utcnow().replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    at, yesterday = f"{slot:%H:%M}", (slot - dt.timedelta(days=1)).isoformat()
    storage = await Storage.open(load_settings(data_dir=tmp_path, _env_file=None).database)
    try:  # yesterday's digest went out
        assert await storage.claim_state(SENT_KEY, None, yesterday)
    finally:
        await storage.close()

    telegram.fail("sendMessage", 502, "Bad Gateway", times=4)  # the send and its three retries
    bot = await start_bot(digest_time=at)
    await telegram.wait_for(lambda: len(refused_sends(telegram)) >= 4, what="the digest's tries")
    deadline = asyncio.get_running_loop().time() + 10
    while await bot.storage.get_state(SENT_KEY) != yesterday and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    assert await bot.storage.get_state(SENT_KEY) == yesterday and not digests(telegram)
    await bot.stop()

    bot = await start_bot(digest_time=at)  # the next check (here: the restart's first, 5 s in)
    await telegram.wait_for(lambda: digests(telegram), timeout=JOB_FIRST_RUN + 25, what="the digest, sent again")
    assert await bot.storage.get_state(SENT_KEY) == slot.isoformat()
    assert await bot.storage.claim_state(SENT_KEY, slot.isoformat(), yesterday)  # as if not sent yet
    await bot.stop()

    # the bot blocked in the admin chat: a refusal, not an outage; the day stays claimed
    telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    tries = len(refused_sends(telegram))
    bot = await start_bot(digest_time=at)
    await telegram.wait_for(lambda: len(refused_sends(telegram)) > tries, what="the refused digest")
    await asyncio.sleep(1)
    assert await bot.storage.get_state(SENT_KEY) == slot.isoformat() and len(digests(telegram)) == 1
