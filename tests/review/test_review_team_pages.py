"""The browser review in the team's language, read in headless Chromium: canned queries without
their SQL on top, owners by name with their `tg:` id small beside it, times to the minute in
REVIEW_TIME_ZONE, no `_internal` or bookkeeping tables on the home page, per-day charts that
look right with one day and with one week of data, the consultant entries page, and the page a
visitor whose session ended gets. Screenshots of each page go to tests/output/review/ (not
committed), to look at when a check fails.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.advisor import Source
from bot.storage import Storage, default_url
from tests.helpers import ROOT, answer
from tests.helpers.browser import ReviewServer, browser_page, chromium
from tests.helpers.review_data import CONSULTANT, seed_review

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="Debian's chromium is not installed (apt-get install chromium): no browser to drive"
)

ZONE = "Asia/Kathmandu"  # UTC+05:45: a shifted minute shows the zone was applied, not just the seconds cut
SHOTS = ROOT / "tests" / "output" / "review"
ENTRY = "answers/vat-registration.md"
MINUTE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")


def write_knowledge(folder: Path, published: dt.date) -> None:
    (folder / "answers").mkdir(parents=True)
    (folder / ENTRY).write_text(
        f"---\ntitle: Registering for VAT\nauthor: {CONSULTANT}\ndate: {published.isoformat()}\n"
        "source: consultant\n---\n"
        "# Registering for VAT\n\nRegister once your turnover passes the threshold.\n"
    )
    (folder / "credit").mkdir()
    (folder / "credit" / "collateral.md").write_text("---\ntitle: Credit without collateral\n---\n# Credit\n\nText.\n")


async def seed_entry_answers(data_dir: Path) -> dict[str, int]:
    """Two answers citing the consultant entry: one before it was published, one after."""
    storage = await Storage.open(default_url(data_dir))
    cited = [Source(1, ENTRY, "Registering for VAT", "Registering for VAT", 0.8, "…")]
    try:
        conversation = await storage.current_conversation("tg-chat:2", "tg:2")
        before = await storage.record_turn(conversation, "tg:2", answer("VAT before?", sources=cited), 80.0)
        after = await storage.record_turn(
            conversation, "tg:2", answer("When must I register for VAT?", sources=cited), 80.0
        )
    finally:
        await storage.close()
    return {"before": before, "after": after}


def set_times(data_dir: Path, times: dict[int, dt.datetime]) -> None:
    with sqlite3.connect(data_dir / "transcripts.db") as conn:
        conn.executemany("update turns set created_at = ? where id = ?", [(str(t), i) for i, t in times.items()])
        conn.execute("update feedback set created_at = (select created_at from turns where id = feedback.turn_id)")
    conn.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def day_labels(page, chart: str) -> list[str]:
    """The x axis's labels (Vega names its axes for screen readers: 'X-axis for a discrete scale…')."""
    return page.locator(f'#{chart} svg g[aria-label^="X-axis"] .role-axis-label text').all_text_contents()


def test_review_pages_speak_the_teams_language_in_chromium(tmp_path):
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[dev]')")
    data, knowledge = tmp_path / "data", tmp_path / "knowledge"
    data.mkdir()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ids = asyncio.run(seed_review(data))
    ids |= asyncio.run(seed_entry_answers(data))
    write_knowledge(knowledge, published=(now - dt.timedelta(days=2)).date())
    asked = now.replace(second=7, microsecond=123456) - dt.timedelta(hours=1)  # today, seconds and microseconds
    set_times(data, {ids["cost"]: asked, ids["before"]: now - dt.timedelta(days=5)})
    local = asked.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M")
    env = {"KNOWLEDGE_DIR": str(knowledge), "REVIEW_TIME_ZONE": ZONE}
    with (
        ReviewServer(data, env=env, args=("--no-gaps",)) as server,
        browser_page(server.login, only=server.base) as (
            page,
            log,
        ),
    ):
        # the home page: the transcripts, not Datasette's _internal nor the bot's bookkeeping
        page.goto(server.base + "/")
        shot(page, "home")
        home = page.locator("body").inner_text()
        assert "transcripts" in home and "_internal" not in home
        assert "pending_updates" not in home and "alembic_version" not in home and "conversation_steps" not in home
        assert page.locator('a[href$="/-/consultant-entries"]').count() >= 1
        assert f"Times shown in {ZONE}" in page.locator("footer").inner_text()  # the zone named once
        assert page.locator("h2 a").all_inner_texts() == ["transcripts", "knowledge_gaps"]

        # a canned query: its rows on top, the SQL folded away behind "show"
        page.goto(f"{server.base}/transcripts/latest_conversations")
        shot(page, "canned-query")
        body = page.locator("body").inner_text()
        assert "group by" not in body.lower() and "select c.id" not in body.lower()
        assert page.locator("textarea[name=sql]").count() == 0 and page.locator(".CodeMirror").count() == 0
        rows = page.locator("table.rows-and-columns tbody tr")
        assert rows.count() == 2
        chat = page.locator("td.col-chat_id .owner", has_text="Ana Lima")
        assert chat.locator(".owner-id").inner_text() == "tg-chat:1"
        for cell in page.locator("td.col-started_at, td.col-last_turn_at").all_inner_texts():
            assert MINUTE.match(cell.strip()), cell
        assert not re.search(r"\d{2}:\d{2}:\d{2}", page.locator("table.rows-and-columns").inner_text())

        page.goto(f"{server.base}/transcripts/thumbs_down_recent")
        owner = page.locator("td.col-owner .owner").first
        assert owner.locator(".name").inner_text() == "Ana Lima" and owner.locator(".owner-id").inner_text() == "tg:1"

        # a table with owners: names, the id small and grey beside them, times to the minute in the zone
        page.goto(f"{server.base}/transcripts/turns?_sort=id")
        shot(page, "turns-table")
        owners = page.locator("td.col-user_id .owner")
        assert set(owners.locator(".name").all_inner_texts()) == {"Ana Lima", "Kofi Mensah"}
        name_size = owners.first.locator(".name").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        id_size = owners.first.locator(".owner-id").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        grey = owners.first.locator(".owner-id").evaluate("e => getComputedStyle(e).color")
        assert id_size < name_size and grey != "rgb(0, 0, 0)"
        cost_row = page.locator(
            "table.rows-and-columns tbody tr", has=page.locator(f'td.col-id a:text-is("{ids["cost"]}")')
        )
        assert cost_row.locator("td.col-created_at").inner_text().strip() == local
        assert "tg:1" not in page.locator("td.col-user_id .name").all_inner_texts()

        # the conversation view: the owner by name, their ids small, the turn's time in the zone
        page.goto(f"{server.base}/-/conversation/{ids['conversation']}")
        shot(page, "conversation")
        head = page.locator(".chat-head .owner")
        assert head.locator(".name").inner_text() == "Ana Lima"
        assert head.locator(".owner-id").inner_text() == "@ana_bakes · tg:1"
        assert page.locator(f"#turn-{ids['cost']} .bubble.owner .when").inner_text() == local
        assert page.locator(f"#turn-{ids['cost']} .bubble.owner .asker").inner_text() == "Ana Lima"
        assert "UTC" not in page.locator(".chat").inner_text()

        # the consultant entries page: who, when, and the questions answered since
        page.goto(f"{server.base}/-/consultant-entries")
        shot(page, "consultant-entries")
        entries = page.locator("tr.entry")
        assert entries.count() == 1  # not the file without `source: consultant`
        entry = entries.first
        assert entry.locator(".title").inner_text() == "Registering for VAT"
        assert entry.locator(".path").inner_text() == ENTRY and entry.locator(".author").inner_text() == CONSULTANT
        assert entry.locator(".count").inner_text() == "1"  # the answer before it was published does not count
        entry.locator("summary").click()
        question = entry.locator(".questions li")
        assert "When must I register for VAT?" in question.inner_text() and "Kofi Mensah" in question.inner_text()
        question.locator("a.chat-link").click()
        page.wait_for_url(f"**/-/conversation/*#turn-{ids['after']}")

        # the dashboard with one day of data: bars among the week's days, one label a day
        set_times(data, {i: asked for i in _turns(data)})
        page.goto(f"{server.base}/-/dashboard?days=30")
        page.wait_for_selector("#chart-questions svg .mark-rect path", state="attached", timeout=30_000)
        shot(page, "dashboard-one-day")
        labels = day_labels(page, "chart-questions")
        assert len(labels) == 7 and len(set(labels)) == 7, labels
        assert labels[-1] == dt.datetime.now(ZoneInfo(ZONE)).strftime("%b %d")
        for chart in ("chart-questions", "chart-not-covered", "chart-latency", "chart-feedback"):
            bars = page.locator(f"#{chart} svg .mark-rect path")
            assert bars.count() >= 1, chart
            box = bars.first.bounding_box()
            assert box["width"] >= 20 and box["height"] >= 5, (chart, box)

        # one week of data: a bar on each of the seven days
        turns = _turns(data)
        questions = _turns(data, "where mode != 'human'")  # what the questions chart counts
        set_times(data, {turn: asked - dt.timedelta(days=n % 7) for n, turn in enumerate(questions)})
        page.goto(f"{server.base}/-/dashboard?days=7")
        page.wait_for_selector("#chart-questions svg .mark-rect path", state="attached", timeout=30_000)
        shot(page, "dashboard-one-week")
        labels = day_labels(page, "chart-questions")
        assert len(labels) == 7 and len(set(labels)) == 7, labels
        boxes = [b.bounding_box() for b in page.locator("#chart-questions svg .mark-rect path").all()]
        assert len({round(box["x"]) for box in boxes}) == 7  # a bar on each day
        assert min(box["width"] for box in boxes) >= 20, boxes

        # nothing in the window: said in words
        set_times(data, {turn: asked - dt.timedelta(days=40) for turn in turns})
        page.goto(f"{server.base}/-/dashboard?days=7")
        assert "Not enough data yet" in page.locator("#chart-questions-card").inner_text()
        assert log.errors == [], log.errors

        assert page.goto(server.base + "/_internal").status == 403  # not even by its address, logged in
        assert "Not for this login" in page.locator("body").inner_text()

        # a returning admin whose session ended (a restart, a used link): how to get a new link
        page.context.clear_cookies()
        response = page.goto(server.base + "/transcripts/turns")
        shot(page, "session-ended")
        assert response.status == 403
        text = page.locator("body").inner_text()
        assert "Your review session has ended" in text and "Forbidden" not in text
        assert "/review" in text and "python -m bot review" in text
        assert "Ana Lima" not in text and "bakery" not in text  # nothing of the transcripts
        response = page.goto(server.login)  # the one-time link again: used up
        assert response.status == 403 and "Get a new link" in page.locator("body").inner_text()
    assert log.blocked == [], f"pages asked for things outside the review server: {log.blocked}"


def _turns(data: Path, where: str = "") -> list[int]:
    with sqlite3.connect(data / "transcripts.db") as conn:
        found = [row[0] for row in conn.execute(f"select id from turns {where} order by id")]
    conn.close()
    return found
