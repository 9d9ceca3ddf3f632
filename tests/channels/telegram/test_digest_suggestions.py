"""The digest's weekly section against the fake Bot API: on DIGEST_SUGGESTIONS_WEEKDAY the digest
adds "Suggestions this week" (the top of `python -m bot suggest`), on other days it does not."""

from __future__ import annotations

import re

from bot.config import WEEKDAYS
from bot.storage.models import utcnow
from tests.channels.telegram.test_handover import NOT_COVERED_Q
from tests.helpers.telegram import ADMIN, OWNER, asked

SECTION = "\n\n<b>Suggestions this week</b>"


async def test_the_weekly_digest_adds_the_top_suggestions_by_owners_affected(start_bot, telegram, llm):
    today = WEEKDAYS[utcnow().weekday()]
    bot = await start_bot(digest_suggestions_weekday=today)
    [declined] = await asked(telegram, OWNER, NOT_COVERED_Q)
    assert "don't have material" in declined
    [declined] = await asked(telegram, 222, "Which sourdough starter makes the best bread?")
    assert "don't have material" in declined

    [digest] = await asked(telegram, ADMIN, "/digest")
    assert SECTION in digest, digest
    weekly = digest.split(SECTION, 1)[1]
    # a line each; two competing sections take two, the second opening with "↔"
    lines = re.findall(r"\n(\d)\. <i>([a-z -]+)</i>: ((?:.+\n    ↔ )?.+) — (.+) → (.+)", weekly)
    assert [int(n) for n, *_ in lines] == [1, 2, 3, 4, 5]  # the top five
    _number, kind, what, owners, action = lines[0]
    # the two owners' sourdough questions: the most owners affected, so first
    assert (kind, owners) == ("not covered", "2 owners") and "sourdough" in what.lower()
    assert action.startswith("write an entry")
    # the rest of the repository's knowledge: sections competing for the same questions (no
    # owner cited them this week) before files nobody reached, which rank last by definition
    kinds = [kind for _n, kind, *_ in lines]
    assert kinds[1] == "near-duplicate" and "merge these two sections" in lines[1][4]
    first, second = lines[1][2].split("\n    ↔ ")
    assert first.count(".md#") == second.count(".md#") == 1 and "…" not in first + second
    assert kinds == sorted(kinds, key=["not covered", "near-duplicate", "unreached"].index)
    await bot.stop()

    other_day = WEEKDAYS[(utcnow().weekday() + 1) % 7]
    await start_bot(digest_suggestions_weekday=other_day)
    [digest] = await asked(telegram, ADMIN, "/digest")
    assert digest.startswith("📊 <b>Digest since") and "Suggestions this week" not in digest
