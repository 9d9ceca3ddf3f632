"""A small transcript database for the review browser's tests, stored through the real
`Storage` API: one owner's conversation with a rated, cited answer, a hand-over and a
consultant's reply, and another owner's not-covered trademark questions (a gap theme)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from bot.advisor import Answer, Source
from bot.storage import Storage, default_url
from tests.helpers import answer

CREDIT_ANSWER = (
    "Lenders can judge you on data instead of property:\n"
    "- **Traceable sales** through a business account [1]\n"
    "- <b>invoice finance</b> against unpaid invoices [2]\n"
)
CONSULTANT = "Maria Santos"
HOSTILE_COMMENT = "<script>alert('owned')</script> Too vague for my bakery"
TRADEMARKS = [
    "How do I register a trademark for my brand name?",
    "Can someone else trademark my shop's name?",
    "What does it cost to protect my logo as a trademark?",
]
SOURCES = [
    Source(1, "credit/collateral.md", "Credit without collateral", "Credit without collateral > Lenders", 0.83, "…"),
    Source(2, "credit/invoice-finance.md", "Invoice finance", "Invoice finance > What it costs", 0.61, "…"),
]


async def seed_review(data_dir: Path) -> dict[str, int]:
    """Store the turns; returns their ids by name, and the featured `conversation`."""
    storage = await Storage.open(default_url(data_dir))
    ids: dict[str, int] = {}
    try:
        await storage.touch_user("tg:1", "ana_bakes", "Ana Lima")
        ids["conversation"] = conversation = await storage.current_conversation("tg-chat:1", "tg:1")
        credit = answer("How can a bakery borrow without collateral?", CREDIT_ANSWER, sources=SOURCES, best_score=0.83)
        ids["credit"] = await storage.record_turn(conversation, "tg:1", credit, 120.0)
        await storage.record_feedback(ids["credit"], "tg:1", "down")
        await storage.add_feedback_comment(ids["credit"], "tg:1", HOSTILE_COMMENT)
        ids["cost"] = await storage.record_turn(conversation, "tg:1", answer("Is invoice finance expensive?"), 300.0)
        await storage.record_feedback(ids["cost"], "tg:1", "up")
        request = "Can I talk to a person about my loan offer?"
        passed = Answer(question=request, text="I passed your message to a consultant.", covered=True, mode="handover")
        ids["handover"] = await storage.record_turn(conversation, "tg:1", passed, 0.0)
        reply = Answer(request, "Hi Ana, **send me the offer**.", covered=True, mode="human", answered_by=CONSULTANT)
        ids["human"] = await storage.record_turn(conversation, "tg:1", reply, 0.0)
        await storage.open_handover("tg:1", 1, request, 24, conversation_id=conversation, turn_id=ids["handover"])
        await storage.touch_user("tg:2", None, "Kofi Mensah")
        other = await storage.current_conversation("tg-chat:2", "tg:2")
        for number, question in enumerate(TRADEMARKS):
            not_covered = answer(question, "I don't have material on that.", covered=False, best_score=0.2, sources=[])
            ids[f"trademark{number}"] = await storage.record_turn(other, "tg:2", not_covered, 90.0 + number)
    finally:
        await storage.close()
    return ids


def move_to_yesterday(data_dir: Path, *turn_ids: int) -> None:
    """Some turns a day earlier, so the per-day charts have two days to draw."""
    yesterday = str(dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1))
    with sqlite3.connect(data_dir / "transcripts.db") as conn:
        conn.executemany("update turns set created_at = ? where id = ?", [(yesterday, t) for t in turn_ids])
    conn.close()
