"""The review browser's own pages and cells, without a browser: what the HTML says, who may see
it, the new canned queries' SQL, the dashboard's figures, and the gap themes' file."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import http.cookiejar
import json
import sqlite3
import urllib.error
import urllib.request

import pytest

from bot.config import load_settings
from bot.review.cells import readable_cell
from bot.review.dashboard import dashboard_charts, load_gaps, totals
from bot.review.datasette import metadata
from bot.review.gap_store import gaps_path, refresh_gaps
from bot.review.render import markdown_html
from bot.storage import Storage, default_url
from tests.helpers import ROOT
from tests.helpers.browser import ReviewServer
from tests.helpers.review_data import HOSTILE_COMMENT, move_to_yesterday, seed_review


def cell(column, value, row=None, table=None):
    return readable_cell(column, value, row or {}, table, path=lambda p: p, transcripts="transcripts")


def test_cells_render_answers_sources_and_links_and_never_run_owners_html():
    html = markdown_html("<img src=x onerror=alert(1)> **bold** [site](javascript:alert(1))")
    assert "<img" not in html and "&lt;img" in html and "<strong>bold</strong>" in html
    assert "href=\"javascript:" not in html and "[site](javascript:alert(1))" in html  # left as text
    assert 'href="/-/conversation/3#turn-7"' in cell("conversation_id", 3, {"id": 7}, "turns")
    assert 'href="/-/conversation/3#turn-5"' in cell("conversation", 3, {"turn": 5})
    assert 'href="/-/turn/5"' in cell("turn", 5)
    sources = cell("sources", json.dumps([{"number": 1, "path": "credit/a.md", "title": "A", "score": 0.612}]))
    assert '<ol class="sources">' in sources and "credit/a.md" in sources and "score 0.61" in sources
    assert cell("rating", "up") == '<span class="rating" title="up">👍</span>'
    assert "👍 👎" in cell("feedback", "up,down")
    assert 'href="/transcripts/turns?id__in=4,9"' in cell("turn_ids", "[4, 9]")
    long = "word " * 100
    assert "<details" in cell("question", long) and cell("question", "short") is None
    answer = cell("answer", "- **one**\n- two " + "x" * 400)
    assert "<details" in answer and "<strong>one</strong>" in answer and "**" not in answer.split("</summary>")[0]
    assert "<details" not in cell("answer", "short **answer**")


async def test_canned_queries_show_this_weeks_problems(tmp_path):
    ids = await seed_review(tmp_path)
    storage = await Storage.open(default_url(tmp_path))
    try:  # a 👎 without a comment, an expired and a resolved hand-over: none of them belong in the lists
        await storage.record_feedback(ids["trademark0"], "tg:2", "down")
        expired = await storage.open_handover("tg:2", 2, "old request", -1)
        resolved = await storage.open_handover("tg:2", 2, "answered request", 24)
        await storage.resolve_handover(resolved.id, "Maria Santos")
    finally:
        await storage.close()
    queries = metadata("transcripts", 0.4, protected=False)["databases"]["transcripts"]["queries"]
    with sqlite3.connect(tmp_path / "transcripts.db") as conn:
        conn.row_factory = sqlite3.Row

        def run(name: str) -> list[dict]:
            return [dict(row) for row in conn.execute(queries[name]["sql"])]

        assert [(r["turn"], r["conversation"], r["comment"]) for r in run("thumbs_down_recent")] == [
            (ids["credit"], ids["conversation"], HOSTILE_COMMENT)
        ]
        assert sorted(r["turn"] for r in run("not_covered_recent")) == sorted(ids[f"trademark{n}"] for n in range(3))
        [waiting] = run("handovers_open")
        assert (waiting["owner"], waiting["name"], waiting["username"]) == ("tg:1", "Ana Lima", "ana_bakes")
        assert waiting["turn"] == ids["handover"] and expired.id != waiting["handover"] != resolved.id
        slowest = run("slowest_answers")
        assert [r["turn"] for r in slowest[:2]] == [ids["cost"], ids["credit"]]
        assert {r["mode"] for r in slowest} == {"offline"}  # not the consultant's reply or the hand-over
        conn.execute("update feedback set created_at = datetime('now', '-8 days')")
        assert run("thumbs_down_recent") == []  # last week's only
    conn.close()


async def test_dashboard_counts_questions_ratings_and_the_median_latency_per_day(tmp_path):
    from datasette.app import Datasette

    ids = await seed_review(tmp_path)
    move_to_yesterday(tmp_path, ids["cost"])
    db = Datasette([str(tmp_path / "transcripts.db")]).get_database("transcripts")
    charts = {c.id: c for c in await dashboard_charts(db, await load_gaps(None), days=30, turns_link=str)}
    today, yesterday = dt.datetime.now(dt.UTC).date().isoformat(), (dt.datetime.now(dt.UTC).date() - dt.timedelta(1))
    questions = charts["chart-questions"].spec["data"]["values"]
    assert {(r["day"], r["mode"], r["questions"]) for r in questions} == {
        (today, "offline", 4),  # the credit and three trademark questions (not the consultant's reply)
        (today, "handover", 1),
        (yesterday.isoformat(), "offline", 1),
    }
    latency = {r["day"]: r["median_ms"] for r in charts["chart-latency"].spec["data"]["values"]}
    assert latency == {yesterday.isoformat(): 300.0, today: pytest.approx(91.5)}  # 90, 91, 92, 120
    rate = {r["day"]: r["rate"] for r in charts["chart-not-covered"].spec["data"]["values"]}
    assert rate == {yesterday.isoformat(): 0.0, today: 0.75}
    feedback = {(r["day"], r["rating"]) for r in charts["chart-feedback"].spec["data"]["values"]}
    assert feedback == {(today, "👎 not helpful"), (yesterday.isoformat(), "👍 helpful")}
    gaps = charts["chart-gaps"]
    assert gaps.spec is None and "not computed" in gaps.empty


async def test_dashboard_tiles_count_the_periods_questions_owners_and_ratings(tmp_path):
    """The tiles above the charts; ratings are those of the period's turns (counted by the turns'
    ids since issue 31, as the join of ratings and turns counted them)."""
    from datasette.app import Datasette

    ids = await seed_review(tmp_path)
    with sqlite3.connect(tmp_path / "transcripts.db") as conn:  # the 👍 turn asked before the period
        conn.execute("update turns set created_at = datetime('now', '-40 days') where id = ?", (ids["cost"],))
        joined = (
            "select count(*) from feedback f join turns t on t.id = f.turn_id where t.created_at >= ? and f.rating = ?"
        )
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).strftime("%Y-%m-%d")
        expected = [conn.execute(joined, (since, rating)).fetchone()[0] for rating in ("up", "down")]
    conn.close()
    db = Datasette([str(tmp_path / "transcripts.db")]).get_database("transcripts")
    assert expected == [0, 1]
    assert dict(await totals(db, 30)) == {
        "questions": "5",  # the credit question, three trademark ones and the hand-over request
        "owners": "2",
        "rated 👍": "0%",  # the 👎 on the credit answer; the 👍 turn is older than the period
        "not covered": "75%",  # three trademark questions of four answers
        "hand-overs open": "1",
    }
    assert dict(await totals(db, 90))["rated 👍"] == "50%"


async def test_without_an_index_the_gap_file_says_why(tmp_path):
    await seed_review(tmp_path)
    settings = load_settings(data_dir=tmp_path, knowledge_dir=ROOT / "knowledge", _env_file=None)
    storage = await Storage.open(default_url(tmp_path))
    try:
        note = await refresh_gaps(settings, storage, 30)
    finally:
        await storage.close()
    assert note.startswith("No knowledge index yet")
    path = gaps_path(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600  # owners' questions, like the transcripts
    with sqlite3.connect(path) as conn:
        assert conn.execute("select note from report").fetchone()[0] == note
        assert conn.execute("select count(*) from themes").fetchone()[0] == 0
    conn.close()


def fetch(url: str, opener=None, auth: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=10) as response:
            return response.status, response.url, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, url, ""


def test_review_pages_need_the_same_login_as_the_tables(tmp_path):
    ids = asyncio.run(seed_review(tmp_path))
    conversation = f"/-/conversation/{ids['conversation']}"
    with ReviewServer(tmp_path, args=("--no-gaps",)) as server:
        for path in (conversation, "/-/dashboard", f"/-/turn/{ids['credit']}"):
            assert fetch(server.base + path)[0] == 403, path
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        browser.open(server.login, timeout=10).read()
        status, _, html = fetch(server.base + conversation, browser)
        assert status == 200 and "How can a bakery borrow without collateral?" in html
        assert "&lt;script&gt;" in html and "<script>alert" not in html
        status, url, _ = fetch(f"{server.base}/-/turn/{ids['credit']}", browser)
        assert status == 200 and url.endswith(f"{conversation}#turn-{ids['credit']}")  # redirected to its place
        assert fetch(f"{server.base}/-/conversation/999", browser)[0] == 404
        status, _, html = fetch(server.base + "/-/dashboard", browser)
        assert status == 200 and "not computed (`python -m bot review --no-gaps`)" in html.replace("&#96;", "`")
        assert fetch(server.base + "/review-assets/vendor/vega.min.js", browser)[0] == 200
    with ReviewServer(tmp_path, env={"REVIEW_PASSWORD": "s3cret"}, args=("--no-gaps",)) as server:
        assert fetch(server.base + "/-/dashboard")[0] == 401
        assert fetch(server.base + "/-/dashboard", auth="admin:s3cret")[0] == 200
