"""Screenshots of the review browser for docs/reviewing.md: the conversation view and the dashboard.

    python bench/review_screenshots.py               # ~1 min: ingests knowledge/ into a temporary folder
    python bench/review_screenshots.py --index data/index   # reuse an index instead

It builds a demo transcript database the way the bot does (five owners' questions over two
weeks, answered by the offline advisor on the real knowledge base, with 👍/👎, comments, a
hand-over and a consultant's reply), starts `python -m bot review` on it as an admin would,
and photographs two pages in headless Chromium (Debian's `chromium`) with the machinery of
`tests/review/test_review_browser.py`. It writes bench/results/review-conversation.png and
bench/results/review-dashboard.png. The turns' times are moved onto the last 14 days after
they are answered, so the charts have days to show; everything else is as stored.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from common import RESULTS, ROOT

from bot.advisor import Answer, make_advisor
from bot.channels.dialogue import Dialogue
from bot.config import load_settings
from bot.storage import Storage
from tests.helpers.browser import ReviewServer, browser_page, chromium, wait_for_charts

# (owner id, username, name, sessions: (days ago, hour, questions))
OWNERS = [
    ("tg:1001", "ana_bakes", "Ana Lima", [
        (13, 9, ["How can a small bakery get a loan without collateral?",
                 "What do lenders look at if I have no property to pledge?"]),
        (6, 15, ["Customers pay my invoices after 60 days and I can't cover wages. What can I do?",
                 "Is invoice finance expensive?"]),
        (1, 10, ["How should I price a custom wedding cake so I actually make money?"]),
    ]),
    ("tg:1002", "kofi_prints", "Kofi Mensah", [
        (12, 11, ["Should I sell my prints on Etsy or build my own shop?",
                  "90% of my sales come through one app, what if they kick me off?"]),
        (8, 16, ["How do I find my first export market?", "What about customs duties when I ship to the EU?"]),
        (3, 9, ["How do I register a trademark for my shop name?", "Can someone else trademark my brand?"]),
    ]),
    ("tg:1003", "mei_makes", "Mei Chen", [
        (11, 20, ["Amazon or Etsy or my own Shopify store for handmade jewellery?",
                  "How do I work out my real margin per item after fees and returns?"]),
        (5, 21, ["Which website builder is best for a small shop?", "What should my small business website include?"]),
        (0, 8, ["Is it worth teaming up with other local shops to cross-promote?"]),
    ]),
    ("tg:1004", "rafa_cafe", "Rafael Souza", [
        (10, 7, ["Should I hire a bookkeeper or keep doing the books myself at night?",
                 "too much admin, no time to grow"]),
        (4, 14, ["What happens at a food hygiene inspection of my café?",
                 "Which food safety certificate do my kitchen staff need?"]),
        (2, 17, ["How can a 3 person company punch above its weight?"]),
    ]),
    ("tg:1005", None, "Olga Petrova", [
        (9, 12, ["We want to outsource payroll. What should the agreement say?"]),
        (7, 10, ["How do I build a credit history for my new company?"]),
        (1, 16, ["What is the best sourdough recipe?",
                 "How do I pass the health inspection for my restaurant kitchen?"]),
    ]),
]
COMMENTS = [
    "Too general, I need numbers for my country.",
    "Didn't answer my question about trademarks at all.",
    "I asked about food safety, not finance.",
    "Good start but what documents do I need?",
]
HANDOVER = "Can I talk to a real person about the bank's loan offer? The rate looks high."
CONSULTANT = "Maria Santos"
CONSULTANT_REPLY = (
    "Hi Ana, Maria here. A rate of 14% for a 2-year unsecured loan is on the high side for a bakery "
    "with your sales. Before you sign:\n\n- ask the bank for the **total cost** including fees\n"
    "- get a second offer from a *revenue-based* lender\n- send me both and I'll compare them with you."
)


async def seed(settings, rng: random.Random) -> tuple[int, dict[int, dt.datetime]]:
    """Answer every owner's questions through the bot's own dialogue; returns the conversation to
    photograph and when each turn should have happened."""
    storage = await Storage.open(settings.database)
    advisor = make_advisor(settings)
    advisor.warm_up()  # as the bot does at start, so the first owner's latency is not the model's loading
    dialogue = Dialogue(advisor, storage)
    times: dict[int, dt.datetime] = {}
    featured = 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    try:
        for user, username, name, sessions in OWNERS:
            await storage.touch_user(user, username, name)
            chat = f"tg-chat:{user.split(':')[1]}"
            for days_ago, hour, questions in sessions:
                conversation = await storage.new_conversation(chat, user)
                at = now.replace(hour=hour) - dt.timedelta(days=days_ago)
                featuring = user == "tg:1001" and days_ago == 6
                for number, question in enumerate(questions):
                    reply = await dialogue.ask(user, chat, question)
                    at += dt.timedelta(minutes=rng.randint(2, 6))
                    times[reply.turn_id] = at
                    if featuring and number == 0:  # the screenshot shows a 👎 with its comment
                        await storage.record_feedback(reply.turn_id, user, "down")
                        await storage.add_feedback_comment(reply.turn_id, user, COMMENTS[3])
                    else:
                        await rate(storage, reply, user, rng)
                if featuring:
                    featured = conversation
                    times |= await hand_over(storage, conversation, user, chat, at)
    finally:
        await storage.close()
    return featured, times


async def rate(storage: Storage, reply, user: str, rng: random.Random) -> None:
    """Owners rate about two answers in three: mostly 👍 when covered, 👎 (often with a comment) when not."""
    if rng.random() > 0.65:
        return
    good = reply.answer.covered and rng.random() < 0.8
    await storage.record_feedback(reply.turn_id, user, "up" if good else "down")
    if not good and rng.random() < 0.7:
        await storage.add_feedback_comment(reply.turn_id, user, rng.choice(COMMENTS))


async def hand_over(storage: Storage, conversation: int, user: str, chat: str, at: dt.datetime) -> dict:
    """Ana asks for a person; a consultant answers in the same conversation; she asks again later."""
    confirmation = "I've passed your message to a consultant. They usually reply within a working day."
    asked = await storage.record_turn(
        conversation, user, Answer(question=HANDOVER, text=confirmation, covered=True, mode="handover"), 0.0
    )
    reply = Answer(question=HANDOVER, text=CONSULTANT_REPLY, covered=True, mode="human", answered_by=CONSULTANT)
    answered = await storage.record_turn(conversation, user, reply, 0.0)
    await storage.record_feedback(answered, user, "up")
    await storage.add_feedback_comment(answered, user, "Thank you Maria, very clear!")
    chat_id = int(chat.split(":")[1])
    handover = await storage.open_handover(user, chat_id, HANDOVER, 24, conversation_id=conversation, turn_id=asked)
    await storage.resolve_handover(handover.id, CONSULTANT)
    await storage.open_handover(user, chat_id, "Could Maria also look at my lease renewal?", 72)
    return {asked: at + dt.timedelta(minutes=3), answered: at + dt.timedelta(hours=2)}


def move_in_time(database: Path, times: dict[int, dt.datetime]) -> None:
    """Put each turn (and its feedback and conversation) at its demo time."""
    with sqlite3.connect(database) as conn:
        for turn, at in times.items():
            conn.execute("update turns set created_at = ? where id = ?", (str(at), turn))
            rated = str(at + dt.timedelta(minutes=1))
            conn.execute("update feedback set created_at = ? where turn_id = ?", (rated, turn))
        conn.execute(
            "update conversations set started_at = (select min(created_at) from turns t"
            " where t.conversation_id = conversations.id) where exists"
            " (select 1 from turns t where t.conversation_id = conversations.id)"
        )
        conn.execute(
            "update conversations set closed_at = (select datetime(max(created_at), '+30 minutes') from turns t"
            " where t.conversation_id = conversations.id) where closed_at is not null"
        )
        conn.execute(
            "update handovers set created_at = coalesce((select created_at from turns where id = turn_id), created_at)"
        )
    conn.close()


def ingest(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("EMBEDDING_CACHE", "LLM_MODEL")}
    env.update(DATA_DIR=str(data_dir), KNOWLEDGE_DIR=str(ROOT / "knowledge"))
    done = subprocess.run([sys.executable, "-m", "bot", "ingest"], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ingest failed:\n{done.stderr[-3000:]}")


def photograph(data_dir: Path, index: Path, conversation: int) -> list[Path]:
    shots = [RESULTS / "review-conversation.png", RESULTS / "review-dashboard.png"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (
        ReviewServer(data_dir, env={"INDEX_DIR": str(index)}) as server,
        browser_page(server.login, only=server.base) as (page, log),
    ):
        page.goto(f"{server.base}/-/conversation/{conversation}")
        page.screenshot(path=shots[0], full_page=True)
        page.goto(f"{server.base}/-/dashboard")
        wait_for_charts(page, ["#chart-questions svg .mark-rect path", "#chart-gaps svg .mark-rect path"])
        page.wait_for_timeout(500)  # let the last chart finish its layout
        page.screenshot(path=shots[1], full_page=True)
    if log.errors or log.blocked:
        raise SystemExit(f"the pages logged errors {log.errors} or asked for outside URLs {log.blocked}")
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="An existing index folder (INDEX_DIR) to answer from.")
    args = parser.parse_args()
    if chromium() is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    os.environ.pop("LLM_MODEL", None)  # the demo's answers are the offline advisor's
    with tempfile.TemporaryDirectory(prefix="review-demo-") as folder:
        data_dir = Path(folder)
        index = args.index.resolve() if args.index else data_dir / "index"
        if not args.index:
            ingest(data_dir)
        settings = load_settings(data_dir=data_dir, knowledge_dir=ROOT / "knowledge", index_dir=index)
        conversation, times = asyncio.run(seed(settings, random.Random(7)))
        move_in_time(data_dir / "transcripts.db", times)
        for shot in photograph(data_dir, index, conversation):
            print(f"wrote {shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot}")
        shutil.rmtree(data_dir / "review", ignore_errors=True)


if __name__ == "__main__":
    main()
