"""What admins read in Telegram is rendered, never raw Markdown: a session of an owner's answer,
hand-over, consultant's reply, small talk and 👎, then every admin command and button, against the
fake Bot API (which parses HTML the way Telegram does)."""

from __future__ import annotations

import datetime as dt
import re

from bot.channels.telegram.admin_texts import turn_block
from bot.storage import TurnFilter, TurnRecord
from tests.channels.telegram.test_handover import NOT_COVERED_Q, buttons, card_in
from tests.fakes.telegram_server import _visible_text
from tests.helpers.telegram import (
    ADMIN,
    CREDIT_Q,
    OWNER,
    answers,
    asked,
    assert_rendered,
    last_markup,
    sent_message,
)

HOSTILE = "Tom & Jerry's <b>bakery</b>"  # the owner's own words: shown as they wrote them, never as markup


async def test_every_admin_text_is_html_without_raw_markdown(start_bot, telegram):
    bot = await start_bot()
    [answer] = await asked(telegram, OWNER, CREDIT_Q)  # the LLM's answer: **invoice finance** [1]
    assert "<b>invoice finance</b>" in answer
    await asked(telegram, OWNER, "hi")  # small talk
    await asked(telegram, OWNER, NOT_COVERED_Q)
    offer = next(data for data in buttons(last_markup(telegram, OWNER)) if data.startswith("human:"))
    before = len(answers(telegram, ADMIN))
    telegram.press(OWNER, offer, sent_message(telegram, OWNER))
    card = await card_in(telegram, ADMIN, before)
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) >= 4, what="the hand-over confirmation")
    await asked(telegram, OWNER, HOSTILE)  # passed on to the consultant
    reply = "Ask **your** local bakers' guild, see [the guild](https://example.org/guild)."
    await asked(telegram, ADMIN, reply, reply_to=card)
    telegram.press(ADMIN, "ho:resolve:1", card)
    await telegram.wait_for(lambda: "Resolved by" in answers(telegram, ADMIN)[-1], what="the note on the card")

    [history] = await asked(telegram, ADMIN, "/transcript 111 10")
    shown = _visible_text(history)
    assert f"Q: {HOSTILE}" in shown and "→ passed on to the consultants" in shown  # not an empty "A:"
    assert f"Consultant Owner{ADMIN} (tg:{ADMIN}): Ask your local bakers' guild, see the guild." in shown
    assert '<a href="https://example.org/guild">the guild</a>' in history and "<b>invoice finance</b>" in history
    assert "· LLM answer" in shown and "· small talk" in shown and "· not covered" in shown
    assert "A: \n" not in shown and not shown.endswith("A: ")

    [stats] = await asked(telegram, ADMIN, "/stats")
    shares = [int(p) for p in re.findall(r"^• [a-zA-Z -]+: (\d+)% \(\d+\)$", _visible_text(stats), re.MULTILINE)]
    assert len(shares) == 5 and sum(shares) == 100, stats  # LLM, not covered, consultant, hand-over, small talk
    assert "Answer time (2 answers): p50" in _visible_text(stats) and " 0 ms" not in stats

    await asked(telegram, ADMIN, "/gaps")
    [digest] = await asked(telegram, ADMIN, "/digest")
    for command in ("/transcript bob", "/transcript @nobody", "/export x", "/allow 4242", "/block 4242", "/reload"):
        await asked(telegram, ADMIN, command)
    [how] = await asked(telegram, ADMIN, "/review")  # REVIEW_URL unset: how to start the browser review
    assert "python -m bot review" in how and "REVIEW_URL" in how
    telegram.message(ADMIN, "/export 30")
    await telegram.wait_for(lambda: telegram.calls_of("sendDocument", ADMIN), what="the export")

    # the digest's "Open #turn" of a 👎: the whole turn, rendered
    credit = next(
        t for t in await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"), limit=None) if t.question == CREDIT_Q
    )
    await bot.storage.record_feedback(credit.id, f"tg:{OWNER}", "down", "Too vague & <short>")
    [digest] = await asked(telegram, ADMIN, "/digest")
    assert "Too vague &amp; &lt;short&gt;" in digest
    opened = next(iter(buttons(last_markup(telegram, ADMIN))))
    before = len(answers(telegram, ADMIN))
    telegram.press(ADMIN, opened, sent_message(telegram, ADMIN))
    await telegram.wait_for(lambda: len(answers(telegram, ADMIN)) > before, what="the opened turn")
    assert "<b>invoice finance</b>" in answers(telegram, ADMIN)[-1]
    assert "Too vague &amp; &lt;short&gt;" in answers(telegram, ADMIN)[-1]

    visible = assert_rendered(telegram)
    assert len(visible) >= 15
    assert any(HOSTILE in text for text in visible)  # escaped, so shown as the owner wrote it


def turn(**fields) -> TurnRecord:
    values = {
        "id": 7,
        "conversation_id": 1,
        "user_id": "tg:111",
        "created_at": dt.datetime(2026, 12, 7, 9, 30),
        "question": "How do I get credit?",
        "standalone_question": None,
        "answer": "Use **invoice finance** [1].",
        "covered": True,
        "mode": "offline",
        "model": None,
        "sources": [],
        "best_score": 0.8,
        "latency_ms": 200.0,
        "input_tokens": None,
        "output_tokens": None,
        "error": None,
    }
    return TurnRecord(**{**values, **fields})


def test_a_turn_block_names_the_consultant_and_an_open_hand_over_and_fits_one_message():
    human = turn_block(turn(mode="human", answer="See **the guild**.", answered_by="Anna (tg:5)"))
    assert "<b>Consultant Anna (tg:5):</b> See <b>the guild</b>." in human and "· consultant" in human
    assert "<b>A consultant:</b>" in turn_block(turn(mode="human", answer="Yes."))
    passed = turn_block(turn(mode="handover", answer=""))
    assert "→ passed on to the consultants" in passed and "A:" not in passed
    huge = turn(question="Q" * 5000, answer="word " * 4000, comments=["c" * 1000] * 9, feedback="down")
    shown = _visible_text(turn_block(huge, 2000))  # the digest's "Open #turn"
    assert len(shown) <= 4096 and "…and 4 more 👎 comments" in shown
