"""Admin review: transcripts CLI, export, stats, the gap report and the Datasette browser."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import functools
import io
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from bot.config import load_settings
from bot.review.gaps import find_gaps, gaps_markdown
from bot.storage import Storage, TurnFilter, default_url
from tests.helpers import ROOT, answer, free_port, invoke, retriever_for, run_cli


def env_of(tmp_path) -> dict:
    return {"DATA_DIR": str(tmp_path), "KNOWLEDGE_DIR": str(ROOT / "knowledge")}


async def seed(tmp_path, turns: list[tuple[str, str, dict]]) -> list[int]:
    """Store (user, question, answer-overrides) turns through the real storage API."""
    storage = await Storage.open(default_url(tmp_path))
    ids = []
    try:
        for user, question, extra in turns:
            extra = dict(extra)
            feedback, comment, ms = extra.pop("feedback", None), extra.pop("comment", None), extra.pop("ms", 100)
            await storage.touch_user(user)
            conversation = await storage.current_conversation(user, user)
            ids.append(await storage.record_turn(conversation, user, answer(question, **extra), ms))
            if feedback:
                await storage.record_feedback(ids[-1], user, feedback)
            if comment:
                await storage.add_feedback_comment(ids[-1], user, comment)
    finally:
        await storage.close()
    return ids


def seed_now(tmp_path, turns: list[tuple[str, str, dict]]) -> list[int]:
    """`seed` for the synchronous tests, which drive the CLI (it runs its own event loop)."""
    return asyncio.run(seed(tmp_path, turns))


def bulk_insert(tmp_path, count: int) -> None:
    """10,000 turns in one transaction (record_turn commits each, which would take a minute)."""
    import sqlite3

    with sqlite3.connect(tmp_path / "transcripts.db") as conn:
        conn.execute(
            "insert into users (id, first_seen, last_seen, status, profile) values ('tg:7', ?, ?, 'active', '{}')",
            (dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1)),
        )
        conn.execute(
            "insert into conversations (chat_id, started_by, started_at) values ('tg:7', 'tg:7', ?)",
            (dt.datetime(2026, 1, 1),),
        )
        conn.executemany(
            "insert into turns (conversation_id, user_id, question, answer, covered, mode, sources, best_score,"
            " latency_ms, created_at) values (1, 'tg:7', ?, ?, 1, 'offline', ?, ?, ?, ?)",
            [
                (
                    f'Question {i}, with "quotes", commas and a newline\nsecond line ✓',
                    f"Answer {i} [1]",
                    json.dumps(
                        [{"number": 1, "path": f"credit/f{i % 7}.md", "title": "T", "heading": "T > H", "score": 0.5}]
                    ),
                    0.5 + (i % 10) / 100,
                    float(i % 1000),
                    dt.datetime(2026, 1, 1) + dt.timedelta(seconds=i),
                )
                for i in range(count)
            ],
        )


async def stored_turns(tmp_path) -> list[dict]:
    storage = await Storage.open(default_url(tmp_path))
    try:
        return [t.to_dict() async for t in storage.stream_turns(TurnFilter())]
    finally:
        await storage.close()


def test_export_of_ten_thousand_turns_parses_back_to_the_same_rows(tmp_path):
    seed_now(tmp_path, [])
    bulk_insert(tmp_path, 10_000)
    expected = asyncio.run(stored_turns(tmp_path))
    assert len(expected) == 10_000

    out = tmp_path / "turns.jsonl"
    result = invoke("transcripts", "export", "--format", "jsonl", "-o", str(out), env=env_of(tmp_path))
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == expected

    result = invoke("transcripts", "export", "--format", "csv", env=env_of(tmp_path))
    assert result.returncode == 0, result.stderr
    parsed = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(parsed) == 10_000
    for row, want in zip(parsed, expected, strict=True):
        assert row["question"] == want["question"] and row["answer"] == want["answer"]
        assert int(row["id"]) == want["id"] and row["created_at"] == want["created_at"]
        assert json.loads(row["sources"]) == want["sources"]
        assert float(row["latency_ms"]) == want["latency_ms"]


def test_list_filters_show_and_json(tmp_path):
    ids = seed_now(
        tmp_path,
        [
            ("tg:1", "How do I price cakes?", {"feedback": "up"}),
            ("tg:2", "Invoice finance costs?", {"feedback": "down", "comment": "too vague", "mode": "llm"}),
            ("tg:2", "Export to Japan?", {}),
        ],
    )
    env = env_of(tmp_path)
    listed = json.loads(invoke("transcripts", "list", "--json", "--user", "tg:2", env=env).stdout)
    assert [t["question"] for t in listed] == ["Export to Japan?", "Invoice finance costs?"]
    down = json.loads(invoke("transcripts", "list", "--json", "--feedback", "down", env=env).stdout)
    assert [t["id"] for t in down] == [ids[1]]
    llm = json.loads(invoke("transcripts", "list", "--json", "--mode", "llm", env=env).stdout)
    assert [t["id"] for t in llm] == [ids[1]]
    found = json.loads(invoke("transcripts", "list", "--json", "--search", "japan", env=env).stdout)
    assert [t["id"] for t in found] == [ids[2]]
    future = json.loads(invoke("transcripts", "list", "--json", "--since", "2999-01-01", env=env).stdout)
    assert future == []
    shown = invoke("transcripts", "show", str(ids[1]), env=env)
    assert shown.returncode == 0
    assert "Invoice finance costs?" in shown.stdout and "too vague" in shown.stdout and "👎" in shown.stdout
    table = invoke("transcripts", "list", env=env)
    assert "Export to Japan?" in table.stdout and "tg:1" in table.stdout
    missing = invoke("transcripts", "show", "999", env=env)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: no turn with id 999"
    bad_date = invoke("transcripts", "list", "--since", "last tuesday", env=env)
    assert bad_date.returncode == 2 and "need a date like 2026-11-01" in bad_date.stderr


def test_stats_counts_what_admins_ask_about(tmp_path):
    seed_now(
        tmp_path,
        [
            ("tg:1", "q1", {"feedback": "up", "ms": 100}),
            ("tg:1", "q2", {"feedback": "down", "ms": 300}),
            ("tg:2", "q3", {"mode": "llm", "ms": 200}),
            ("tg:3", "q4", {"feedback": "up", "ms": 900}),
        ],
    )
    result = invoke("stats", "--json", env=env_of(tmp_path))
    stats = json.loads(result.stdout)
    assert (stats["turns"], stats["users"], stats["thumbs_up"], stats["thumbs_down"]) == (4, 3, 2, 1)
    assert stats["feedback_ratio"] == pytest.approx(0.667, abs=0.001)
    assert (stats["offline_share"], stats["llm_share"]) == (0.75, 0.25)
    assert stats["active_users_per_day"] == {dt.datetime.now(dt.UTC).date().isoformat(): 3}
    assert stats["top_topics"] == [{"topic": "credit", "turns": 4}]
    assert stats["latency_ms_p50"] in (200.0, 300.0)
    assert stats["latency_ms_p95"] == 900.0
    table = invoke("stats", env=env_of(tmp_path))
    assert "Active owners per day" in table.stdout and "latency p50 / p95" in table.stdout


def test_stats_breakdown_adds_up_and_latency_counts_answers_only(tmp_path):
    """Every kind of turn has its share, the shares add up to 100, and the instant turns (small
    talk, a consultant's reply, a hand-over request) do not pull the answer time to 0 ms."""
    seed_now(
        tmp_path,
        [
            ("tg:1", "q1", {"ms": 400}),
            ("tg:1", "q2", {"mode": "llm", "ms": 800}),
            ("tg:2", "hi", {"mode": "smalltalk", "ms": 0}),
            ("tg:2", "q3", {"covered": False, "sources": [], "ms": 600}),
            ("tg:3", "help", {"mode": "handover", "ms": 0}),
            ("tg:3", "help", {"mode": "human", "answered_by": "Anna", "ms": 0}),
        ],
    )
    stats = json.loads(invoke("stats", "--json", env=env_of(tmp_path)).stdout)
    shown = {row["kind"]: (row["turns"], row["percent"]) for row in stats["breakdown"]}
    assert shown == {
        "offline answer": (1, 17),
        "LLM answer": (1, 17),
        "not covered": (1, 17),
        "consultant": (1, 17),
        "hand-over request": (1, 16),
        "small talk": (1, 16),
    }
    assert sum(percent for _turns, percent in shown.values()) == 100
    assert (stats["answers"], stats["latency_ms_p50"], stats["latency_ms_p95"]) == (3, 600.0, 800.0)
    table = invoke("stats", env=env_of(tmp_path)).stdout
    assert "small talk" in table and "600 ms / 800 ms (3 answers)" in table


def test_stats_without_answers_says_so_rather_than_zero_ms(tmp_path):
    seed_now(tmp_path, [("tg:1", "hi", {"mode": "smalltalk", "ms": 0})])
    stats = json.loads(invoke("stats", "--json", env=env_of(tmp_path)).stdout)
    assert stats["latency_ms_p50"] is None
    assert stats["breakdown"] == [{"kind": "small talk", "turns": 1, "percent": 100}]
    assert "no answers yet" in invoke("stats", env=env_of(tmp_path)).stdout


def test_whole_percentages_always_add_up_to_100():
    from bot.review.stats import whole_percentages

    assert whole_percentages([1, 1, 1]) == [34, 33, 33]
    assert whole_percentages([46, 0, 30, 24]) == [46, 0, 30, 24]
    assert whole_percentages([2, 2, 2, 1, 1, 1, 1]) == [20, 20, 20, 10, 10, 10, 10]
    assert whole_percentages([]) == [] and whole_percentages([0, 0]) == [0, 0]
    for counts in ([7, 3, 1], [333, 333, 334], [1] * 7, [5, 9, 13, 2, 1]):
        assert sum(whole_percentages(counts)) == 100


PLANTED = {
    "trademarks": [
        "How do I register a trademark for my brand name?",
        "Can someone else trademark my shop's name?",
        "What does it cost to protect my logo as a trademark?",
        "Do I need a lawyer to file a trademark application?",
    ],
    "food hygiene": [
        "What happens at a food hygiene inspection of my café?",
        "How do I pass the health inspection for my restaurant kitchen?",
        "Which food safety certificate do my kitchen staff need?",
    ],
    "website": [
        "How do I build a website for my shop?",
        "What should my small business website include?",
        "Which website builder is best for a small shop?",
    ],
}


async def test_gaps_group_planted_questions_into_their_themes(tmp_path, shared_index_dir, embedder):
    planted = [("tg:9", q, {"covered": False}) for qs in PLANTED.values() for q in qs]
    ids = await seed(
        tmp_path, [*planted, ("tg:9", "How do I price my services?", {}), ("tg:8", "Factoring?", {"feedback": "down"})]
    )
    settings = load_settings(knowledge_dir=ROOT / "knowledge", data_dir=shared_index_dir, _env_file=None)
    storage = await Storage.open(default_url(tmp_path))
    try:
        themes = await find_gaps(storage, retriever_for(settings, embedder), settings.min_score, TurnFilter())
    finally:
        await storage.close()
    by_members = {frozenset(t.turn_ids) for t in themes}
    expected_ids = {}
    position = 0
    for name, questions in PLANTED.items():
        expected_ids[name] = frozenset(ids[position : position + len(questions)])
        position += len(questions)
    for name, members in expected_ids.items():
        assert members in by_members, (name, [(t.label, t.turn_ids) for t in themes])
    assert themes[0].count == 4 and themes[0].reasons == {"not covered": 4}
    thumbs_down = next(t for t in themes if t.turn_ids == [ids[-1]])
    assert thumbs_down.reasons == {"thumbs down": 1}
    assert all(t.turn_ids != [ids[-2]] for t in themes)  # a well-answered question is no gap
    assert all(t.closest_file and t.closest_file.endswith(".md") for t in themes)
    report = gaps_markdown(themes, settings.min_score)
    assert report.startswith("# Knowledge gaps") and "How do I register a trademark" in report


def test_the_themes_closest_passages_found_in_one_search_are_each_ones_own(shared_index_dir, embedder):
    """`query_many` (every theme's closest passage in one call) finds what `query` finds for each."""
    settings = load_settings(knowledge_dir=ROOT / "knowledge", data_dir=shared_index_dir, _env_file=None)
    index = retriever_for(settings, embedder).index
    vectors = embedder.embed([q for qs in PLANTED.values() for q in qs] + ["How do I price my services?"])
    assert index.query_many(vectors, 2) == [index.query(vector, 2) for vector in vectors]
    assert index.query_many([], 1) == []


def test_gaps_command_prints_markdown_without_importing_torch(tmp_path, shared_index_dir):
    """Grouping the gaps is numpy: the bot's /gaps and digest never load torch into the serving process."""
    seed_now(tmp_path, [("tg:9", q, {"covered": False}) for q in PLANTED["trademarks"]])
    env = {**env_of(tmp_path), "INDEX_DIR": str(shared_index_dir / "index"), "PATH": "/usr/bin:/bin"}
    code = (
        "import sys; from bot.channels.cli import cli\n"
        "try:\n cli(['gaps', '--format', 'markdown'])\nexcept SystemExit: pass\n"
        "print('torch loaded:', 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=99)
    assert result.returncode == 0, result.stderr
    assert "## 1." in result.stdout and "Asked:** 4 times (not covered: 4)" in result.stdout
    assert result.stdout.strip().endswith("torch loaded: False")


def test_gap_groups_are_sentence_transformers_communities():
    """The numpy grouping gives what sentence-transformers' `community_detection` gave before it."""
    from sentence_transformers.util import community_detection

    from bot.review.gaps import THEME_SIMILARITY, _groups

    rng = np.random.default_rng(7)
    centres = rng.normal(size=(6, 32))
    vectors = np.concatenate([c + rng.normal(scale=s, size=(n, 32)) for c, n, s in zip(
        centres, [5, 1, 3, 8, 2, 4], [0.2, 0.3, 0.5, 0.4, 0.9, 0.6], strict=True)]).astype(np.float32)
    for threshold in (THEME_SIMILARITY, 0.5, 0.9):
        theirs = community_detection(vectors, threshold=threshold, min_community_size=1)
        ours = _groups(vectors, threshold)
        assert sorted(map(sorted, ours)) == sorted(map(sorted, theirs)), threshold
    assert sorted(i for g in _groups(np.zeros((3, 4), np.float32)) for i in g) == [0, 1, 2]  # none lost


def test_forget_and_prune_commands(tmp_path):
    seed_now(tmp_path, [("tg:1", "mine", {}), ("tg:2", "theirs", {})])
    env = env_of(tmp_path)
    result = invoke("forget", "tg:1", "--yes", env=env)
    assert result.stdout.strip() == "Deleted 1 turns and 0 feedback entries of tg:1."
    remaining = json.loads(invoke("transcripts", "list", "--json", env=env).stdout)
    assert [t["user_id"] for t in remaining] == ["tg:2"]
    assert invoke("prune", env=env).stderr.strip() == "error: no retention period: pass --days N or set RETENTION_DAYS"
    assert invoke("prune", env={**env, "RETENTION_DAYS": "30"}).stdout.strip() == "Deleted 0 turns older than 30 days."


def get_json(url: str, auth: str | None = None, opener=None, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    if auth:
        import base64

        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with (opener or urllib.request.build_opener()).open(request, timeout=5) as response:
        return json.loads(response.read())


def login_link(proc) -> str:
    """The one-time login URL `review` prints when it has no password."""
    for line in proc.stdout:
        if "/-/auth-token?token=" in line:
            return line.strip()
    raise AssertionError(f"no login link; review said: {proc.stderr.read()}")


def logged_in(link: str):
    """A browser-like client that opened the login link (and keeps its cookie)."""
    import http.cookiejar

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    opener.open(link, timeout=5).read()
    return opener


def start_review(tmp_path, *args: str, env: dict | None = None):
    port = free_port()
    full_env = {k: v for k, v in __import__("os").environ.items() if k not in ("REVIEW_PASSWORD",)}
    full_env.update(env_of(tmp_path), **(env or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "review", "--port", str(port), *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, port


def wait_for(url: str, proc, auth: str | None = None) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"review exited: {proc.stderr.read()}")
        try:
            get_json(url, auth)
            return
        except urllib.error.HTTPError:
            return  # it answers (perhaps 401): it is up
        except OSError:
            time.sleep(0.3)
    raise AssertionError("review did not start")


async def test_review_serves_canned_queries_and_search_over_http(tmp_path):
    ids = await seed(
        tmp_path,
        [
            ("tg:1", "How do I use invoice finance?", {"feedback": "down", "comment": "no steps"}),
            ("tg:2", "Should I sell to Japan?", {"covered": False}),
        ],
    )
    proc, port = start_review(tmp_path)
    base = f"http://127.0.0.1:{port}/transcripts"
    try:
        link = login_link(proc)
        wait_for(f"http://127.0.0.1:{port}/-/versions.json", proc)
        with pytest.raises(urllib.error.HTTPError) as anonymous:  # nobody reads transcripts without logging in
            get_json(f"{base}/turns.json")
        assert anonymous.value.code == 403
        browser = logged_in(link)
        fetch = functools.partial(get_json, opener=browser)
        with pytest.raises(urllib.error.HTTPError):  # the link works once
            logged_in(link).open(f"{base}/turns.json", timeout=5)
        with pytest.raises(urllib.error.HTTPError) as rebound:  # DNS rebinding: another name for 127.0.0.1
            fetch(f"{base}/turns.json", headers={"Host": f"evil.example:{port}"})
        assert rebound.value.code == 400
        with pytest.raises(urllib.error.HTTPError) as other_name:  # localhost is fine (then: not logged in there)
            fetch(f"http://localhost:{port}/transcripts/turns.json")
        assert other_name.value.code == 403
        latest = fetch(f"{base}/latest_conversations.json?_shape=array")
        assert {row["last_question"] for row in latest} == {"How do I use invoice finance?", "Should I sell to Japan?"}
        down = fetch(f"{base}/thumbs_down.json?_shape=array")
        assert [(r["turn"], r["comment"]) for r in down] == [(ids[0], "no steps")]
        assert "credit/invoice-finance.md (0.61)" in down[0]["sources"]
        gaps = fetch(f"{base}/knowledge_gaps.json?_shape=array")
        assert {r["turn"] for r in gaps} == set(ids)
        history = fetch(f"{base}/user_history.json?_shape=array&user=tg:2")
        assert [r["question"] for r in history] == ["Should I sell to Japan?"]
        found = fetch(f"{base}/turns.json?_shape=array&_search=japan")
        assert [r["id"] for r in found] == [ids[1]]
        with pytest.raises(urllib.error.HTTPError):  # read-only: no writes through SQL
            fetch(f"{base}.json?sql=" + urllib.parse.quote("delete from turns"))
    finally:
        proc.terminate()
        proc.wait(10)


async def test_review_on_a_public_address_needs_a_password(tmp_path):
    await seed(tmp_path, [("tg:1", "q", {})])
    refused = run_cli("review", "--host", "0.0.0.0", "--port", str(free_port()), env=env_of(tmp_path))
    assert refused.returncode == 2
    assert "refusing to serve transcripts on 0.0.0.0 without a password" in refused.stderr
    proc, port = start_review(tmp_path, "--host", "0.0.0.0", env={"REVIEW_PASSWORD": "s3cret"})
    url = f"http://127.0.0.1:{port}/transcripts/latest_conversations.json?_shape=array"
    try:
        wait_for(url, proc)
        with pytest.raises(urllib.error.HTTPError) as denied:
            get_json(url)
        assert denied.value.code == 401
        assert len(get_json(url, auth="admin:s3cret")) == 1
    finally:
        proc.terminate()
        proc.wait(10)


def test_owners_markup_and_control_characters_cannot_break_or_steer_admin_tools(tmp_path):
    hostile = "[/] [bold red]Loans?[/bold red] \x1b]0;pwned\x07\x1b[2J and [link=http://x]here[/link]"
    [turn] = seed_now(tmp_path, [("tg:1", hostile, {"covered": False})])
    env = env_of(tmp_path)
    tools = (["transcripts", "list"], ["transcripts", "show", str(turn)], ["gaps"], ["gaps", "--format", "markdown"])
    for args in tools:
        result = run_cli(*args, env={**env, "COLUMNS": "250"})
        assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr)
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout, args
    assert "## 1. [/] [bold red]Loans?[/bold red] ]0;pwned[2J and [link=http://x]here[/link]" in result.stdout
    shown = run_cli("transcripts", "show", str(turn), env=env).stdout
    assert "[/] [bold red]Loans?[/bold red]" in shown and "[link=http://x]here[/link]" in shown
    # JSON keeps the text exactly, with what a terminal would obey escaped (\x9b: CSI, \u202e: bidi override)
    seed_now(tmp_path, [("tg:2", "Loans \x9b2J \u202eevil\u202c?", {"covered": False})])
    for args in (["transcripts", "list", "--json"], ["gaps", "--json"]):
        out = run_cli(*args, env=env).stdout
        assert "\x9b" not in out and "\u202e" not in out and "\\u009b2J" in out and "\\u202eevil" in out, args
        if args[0] == "transcripts":
            assert "Loans \x9b2J \u202eevil\u202c?" in [t["question"] for t in json.loads(out)]


def test_csv_exports_are_owner_only_and_never_run_as_formulas(tmp_path):
    seed_now(tmp_path, [("tg:1", "=HYPERLINK(\"http://evil\",\"click\")", {}), ("tg:1", "+1+1", {})])
    out = tmp_path / "turns.csv"
    result = invoke("transcripts", "export", "-o", str(out), env=env_of(tmp_path))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    questions = [row["question"] for row in csv.DictReader(out.open(encoding="utf-8"))]
    assert questions == ["'=HYPERLINK(\"http://evil\",\"click\")", "'+1+1"]
