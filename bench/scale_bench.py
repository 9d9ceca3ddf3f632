"""How cost grows with the transcript database: /stats, /gaps, the digest and the review dashboard
at 100,000 and 1,000,000 turns, and the database file's size per 100,000 turns (issue 31).

    python bench/scale_bench.py --index DATA/index    # 100k and 1M turns (about 9 minutes on 2 cores)
    python bench/scale_bench.py --quick               # 2,000 and 20,000 turns, for the smoke test

The databases are synthesised through the project's own schema: `Storage.open` runs the real
migrations, then the rows go into the real tables in bulk with SQL (the write path would take
hours for a million turns). A year of traffic at a steady rate, ids in time order as in
production, from a few thousand owners (some ask much more than others): conversations of about
five turns; answered offline and by the LLM (a tenth not covered, a few weak matches, cancelled
and failed ones), small talk, hand-over requests and consultants' replies; 👍/👎 on about one
answer in seven (some 👎 with a comment); hand-overs resolved, expired, rated and open; voice notes
nobody answered; "tell me when you know" wishes. Questions are the eval set's (knowledge/eval),
many with an owner's context in front, so few texts repeat; answers and cited sources are cut
from knowledge/ at the sizes real turns have (about 1 KB of answer, up to three 300-character
excerpts).

Each figure is what the bot or the review computes, called as the program calls it:
- /stats: `compute_stats` over the last 30 days and the voice-notes line (`count_events`);
- /gaps: `find_gaps` over the last 30 days with the real embedding model and knowledge index;
- the digest: `compute_digest` of the last 24 hours (gap clusters included), and on the weekly
  suggestions day (DIGEST_SUGGESTIONS_WEEKDAY) with `compute_suggestions` as well;
- the review dashboard (`/-/dashboard`): its tiles (`totals`) and charts (`dashboard_charts`)
  through Datasette's own database object, as the page builds them.
Each is run three times: p50 reported, and the first run. The vector cache is on, as in production
(EMBEDDING_CACHE=true), and empty at the start: the first daily digest embeds the day's gap
candidates (as each day's digest does: they are new questions), the first /gaps the rest of the
month's, and later runs find them in the cache. Target: each ≤ 2 s at 1M turns.

The 100k database is the same year at a tenth of the traffic, so every window holds ten times
fewer turns: the growth per 10× includes both a longer table and busier windows.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from common import ROOT, print_table, summary, write_result

from bot.config import load_settings
from bot.index.evaluation import load_eval_set
from bot.knowledge import discover, load_document, split_document
from bot.review.dashboard import dashboard_charts, load_gaps, totals
from bot.review.digest import compute_digest
from bot.review.gap_store import open_retriever
from bot.review.gaps import find_gaps
from bot.review.stats import compute_stats
from bot.storage import Storage, TurnFilter

TARGET_S = 2.0
STEP = 100_000  # turns between two measurements of the file's size
DAYS = 365
RUNS = 3
CONTEXTS = [
    "",
    "",
    "",
    "I run a bakery. ",
    "We are a family restaurant. ",
    "I have a small textile workshop. ",
    "My shop sells phone accessories. ",
    "I run a hair salon with 3 staff. ",
    "We export coffee. ",
    "I'm a freelance designer. ",
    "We make furniture. ",
    "I own a small hotel. ",
    "Our cleaning company has 12 employees. ",
    "I sell cosmetics online. ",
    "We run a car repair garage. ",
    "I have a food truck. ",
    "Quick question: ",
    "Hello, ",
    "Please help. ",
]
FOLLOW_UPS = ["and what about the bank?", "how much does that cost?", "is that risky?", "what do I do first?"]
SMALLTALK = ["hi", "thanks!", "hello", "ok thank you", "great, thanks a lot"]
SECTORS = ["food", "retail", "services", "manufacturing", "tourism", "agriculture"]
COUNTRIES = ["KE", "NG", "GH", "IN", "BR", "MX", "UK", "DE"]


class Material:
    """The texts turns are made of: eval questions, knowledge passages as answers and sources."""

    def __init__(self) -> None:
        questions = load_eval_set(ROOT / "knowledge" / "eval" / "questions.yaml")
        self.covered = [q.question for q in questions if not q.not_covered]
        self.not_covered = [q.question for q in questions if q.not_covered]
        files, _ = discover(ROOT / "knowledge")
        passages = []
        for path in files:
            doc = load_document(path, ROOT / "knowledge", 5 * 1024 * 1024)
            for chunk in split_document(doc, 150, 30):
                passages.append((doc.path, doc.title, chunk.text))
        rng = random.Random(0)
        self.answers, self.sources = [], []
        for _ in range(300):
            picked = rng.sample(passages, 3)
            self.answers.append("\n\n".join(text for _, _, text in picked)[:1200])
            cited = [
                {
                    "number": n,
                    "path": rel,
                    "title": title,
                    "heading": title,
                    "score": round(rng.uniform(0.4, 0.95), 4),
                    "excerpt": " ".join(text.split())[:300],
                }
                for n, (rel, title, text) in enumerate(picked[: rng.randint(1, 3)], start=1)
            ]
            self.sources.append(json.dumps(cited))


def stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores a DateTime in SQLite


def synthesise(path: Path, turns: int, owners: int, material: Material, seed: int, on_step=None) -> None:
    """A transcript database of `turns` turns over the last year, through the real migrations."""
    asyncio.run(_migrate(path))
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    start = now - dt.timedelta(days=DAYS)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    weights = [1 / (rank + 1) ** 0.8 for rank in range(owners)]  # a few owners ask much more than most
    users = [f"tg:{100_000 + n}" for n in range(owners)]
    conn.executemany(
        "insert into users (id, username, display_name, first_seen, last_seen, status, profile) "
        "values (?, ?, ?, ?, ?, 'active', ?)",
        [(u, f"owner{n}", f"Owner {n}", stamp(start), stamp(now), "{}") for n, u in enumerate(users)],
    )
    current: dict[str, int] = {}
    conversation_id = turn_id = handover_id = 0
    span = (now - start).total_seconds() - 60
    for first in range(0, turns, STEP):
        size = min(STEP, turns - first)
        times = sorted(start + dt.timedelta(seconds=span * (first + rng.random() * size) / turns) for _ in range(size))
        askers = rng.choices(users, weights=weights, k=size)
        rows = {name: [] for name in ("conversations", "turns", "feedback", "handovers", "events", "wishes")}
        cards = []
        for when, owner in zip(times, askers, strict=True):
            turn_id += 1
            if owner not in current or rng.random() < 0.2:
                conversation_id += 1
                current[owner] = conversation_id
                rows["conversations"].append((conversation_id, f"tg-chat:{owner[3:]}", owner, stamp(when)))
            row, extra = _turn(rng, material, turn_id, current[owner], owner, when, now)
            rows["turns"].append(row)
            for table, value in extra:
                if table == "handovers":
                    handover_id += 1
                    value = (handover_id, *value)
                    cards.append((-100_123, 10_000_000 + handover_id, handover_id, row[3]))
                rows[table].append(value)
        conn.executemany(
            "insert into conversations (id, chat_id, started_by, started_at) values (?,?,?,?)", rows["conversations"]
        )
        conn.executemany(f"insert into turns ({TURN_COLUMNS}) values ({','.join('?' * 23)})", rows["turns"])
        conn.executemany(
            "insert into feedback (turn_id, user_id, rating, comment, created_at) values (?,?,?,?,?)", rows["feedback"]
        )
        conn.executemany(
            "insert into handovers (id, user_id, chat_id, conversation_id, turn_id, request, status, created_at, "
            "expires_at, resolved_at, resolved_by, claimed_by, claimed_by_name, claimed_at, rating, rated_at) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows["handovers"],
        )
        conn.executemany("insert into handover_messages values (?,?,?,?)", cards)
        conn.executemany("insert into events (kind, user_id, created_at) values (?,?,?)", rows["events"])
        conn.executemany(
            "insert into wishes (user_id, chat_id, turn_id, question, language, asked_at, told_at) "
            "values (?,?,?,?,?,?,?)",
            rows["wishes"],
        )
        conn.commit()
        if on_step:
            on_step(first + size, conn)
    conn.close()


async def _migrate(path: Path) -> None:
    storage = await Storage.open(f"sqlite+aiosqlite:///{path}")
    await storage.close()


TURN_COLUMNS = (
    "id, conversation_id, user_id, question, standalone_question, answer, covered, mode, model, sources, "
    "best_score, latency_ms, input_tokens, output_tokens, error, created_at, delivered, truncated, cancelled, "
    "profile, follow_ups, flagged_gap, input_kind"
)


def _turn(rng: random.Random, material: Material, turn_id: int, conversation: int, owner: str, when, now):
    """One turn's row and the rows that go with it (feedback, a hand-over, an event, a wish)."""
    extra = []
    draw = rng.random()
    mode = "offline" if draw < 0.52 else "llm" if draw < 0.85 else "smalltalk" if draw < 0.93 else "human"
    if 0.93 <= draw < 0.96:
        mode = "handover"
    covered, best, sources, standalone, error, cancelled = True, None, "[]", None, None, False
    answer = rng.choice(material.answers)
    latency = input_tokens = output_tokens = None
    if mode in ("offline", "llm"):
        covered = rng.random() >= 0.10
        if covered:
            question = rng.choice(CONTEXTS) + rng.choice(material.covered)
            best = rng.uniform(0.32, 0.40) if rng.random() < 0.06 else rng.uniform(0.40, 0.95)
            sources = rng.choice(material.sources)
        else:
            question = rng.choice(CONTEXTS) + rng.choice(material.not_covered)
            best = rng.uniform(0.05, 0.31)
            answer = "I don't have material on that in my knowledge base yet. A consultant can help: /human"
        if rng.random() < 0.15:  # a follow-up: searched as rewritten
            question, standalone = rng.choice(FOLLOW_UPS), question
        cancelled = rng.random() < 0.01
        latency = rng.lognormvariate(5.0, 0.4) if mode == "offline" else rng.lognormvariate(7.8, 0.35)
        if mode == "llm":
            input_tokens, output_tokens = rng.randint(900, 2500), rng.randint(150, 450)
            error = "timeout" if rng.random() < 0.01 else None
        if not cancelled and rng.random() < 0.15:
            rating = "up" if rng.random() < 0.75 else "down"
            comment = "Too general for my case" if rating == "down" and rng.random() < 0.3 else None
            extra.append(("feedback", (turn_id, owner, rating, comment, stamp(when + dt.timedelta(minutes=1)))))
        if not covered and rng.random() < 0.05:
            told = stamp(when + dt.timedelta(days=3)) if rng.random() < 0.3 else None
            extra.append(("wishes", (owner, int(owner[3:]), turn_id, question, "en", stamp(when), told)))
    elif mode == "smalltalk":
        question, answer = rng.choice(SMALLTALK), "You're welcome! Ask me anything about your business."
    else:
        question = "Can I talk to a person about " + rng.choice(material.covered)
        if mode == "handover":
            answer = "I passed your message to a consultant."
            extra.append(("handovers", _handover(rng, turn_id, conversation, owner, question, when, now)))
        else:
            answer = "Hi, this is Maria. " + answer[:400]
    if rng.random() < 0.004:
        extra.append(("events", ("voice_unanswered", owner, stamp(when))))
    profile = (
        json.dumps({"sector": rng.choice(SECTORS), "country": rng.choice(COUNTRIES)}) if rng.random() < 0.3 else None
    )
    follow_ups = json.dumps(rng.sample(material.covered, 2)) if mode in ("offline", "llm") and covered else None
    kind = "voice" if rng.random() < 0.03 else "photo" if rng.random() < 0.01 else None
    row = (
        turn_id, conversation, owner, question, standalone, answer, covered, mode,
        "gpt-4o-mini" if mode == "llm" else None, sources, best, latency, input_tokens, output_tokens, error,
        stamp(when), True, False, cancelled, profile, follow_ups, rng.random() < 0.002, kind,
    )  # fmt: skip
    return row, extra


def _handover(rng, turn_id, conversation, owner, request, when, now) -> tuple:
    expires = when + dt.timedelta(hours=24)
    status = "open" if expires > now else "resolved" if rng.random() < 0.7 else "expired"
    resolved = claimed = rating = rated = None
    if status == "resolved":
        resolved, claimed = stamp(when + dt.timedelta(hours=2)), stamp(when + dt.timedelta(minutes=20))
        if rng.random() < 0.5:
            rating, rated = ("up" if rng.random() < 0.8 else "down"), stamp(when + dt.timedelta(hours=3))
    return (
        owner, int(owner[3:]), conversation, turn_id, request, status, stamp(when), stamp(expires), resolved,
        "Maria Santos" if resolved else None, 42 if claimed else None, "Maria" if claimed else None, claimed,
        rating, rated,
    )  # fmt: skip


async def measure(path: Path, settings, retriever) -> dict:
    """Each computation, three times, against the database at `path`: seconds per run."""
    from datasette.app import Datasette

    storage = await Storage.open(f"sqlite+aiosqlite:///{path}")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    month, day = TurnFilter(since=now - dt.timedelta(days=30)), now - dt.timedelta(days=1)
    weekly = settings  # compute_digest's `suggest`: the weekly suggestions day
    datasette = Datasette([str(path)], settings={"sql_time_limit_ms": 5000})  # as `python -m bot review` runs it
    db = datasette.get_database(path.stem)

    async def stats():
        await compute_stats(storage, month)
        await storage.count_events(month.since)

    async def gaps():
        return await find_gaps(storage, retriever, settings.min_score, month)

    async def digest():
        return await compute_digest(storage, retriever, settings.min_score, day)

    async def digest_weekly():
        return await compute_digest(storage, retriever, settings.min_score, day, weekly)

    async def dashboard():
        await totals(db, 30)
        await dashboard_charts(db, await load_gaps(None), days=30, turns_link=str)

    timings: dict[str, list[float]] = {}
    try:
        for name, work in [  # the digest first: its first run embeds the day's gap candidates, as it does daily
            ("digest (daily)", digest),
            ("/stats", stats),
            ("/gaps", gaps),
            ("digest (weekly suggestions)", digest_weekly),
            ("review dashboard", dashboard),
        ]:
            timings[name] = []
            for _ in range(RUNS):
                started = time.perf_counter()
                await work()
                timings[name].append(time.perf_counter() - started)
        candidates = len([t for theme in await gaps() for t in theme.turn_ids])
    finally:
        await storage.close()
    return {"timings": timings, "gap_candidates": candidates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 20,000 turns (smoke test)")
    parser.add_argument("--turns", type=int, nargs=2, default=[100_000, 1_000_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--owners", type=int, default=4000, help="owners at the large size (a tenth at the small)")
    parser.add_argument("--index", type=Path, help="an up-to-date index of knowledge/ (else ingested here)")
    args = parser.parse_args()
    global STEP
    if args.quick:
        args.turns, args.owners, STEP = [2_000, 20_000], 200, 2_000
    started = time.perf_counter()
    material = Material()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
        work = Path(work)
        settings = load_settings(
            knowledge_dir=ROOT / "knowledge", data_dir=work / "data", index_dir=args.index, _env_file=None
        )
        if args.index is None:  # passages from the vector cache where it has them; questions never are
            from bot.knowledge.runner import run_ingest

            run_ingest(settings.model_copy(update={"embedding_cache": True}))
        # the vector cache on, as in production (EMBEDDING_CACHE=true), in a folder of its own: the
        # first run embeds every gap candidate, the next ones only find them there
        retriever = open_retriever(settings.model_copy(update={"embedding_cache": True, "embedding_cache_dir": work}))
        if retriever is None:
            raise SystemExit("no knowledge index to compute gaps with (give --index DATA/index)")
        sizes, results = [], {}
        for turns in args.turns:
            path = work / f"transcripts-{turns}.db"
            growth = []

            def on_step(done: int, conn: sqlite3.Connection, growth=growth, path=path) -> None:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                growth.append({"turns": done, "file_mb": round(path.stat().st_size / 1e6, 1)})

            built = time.perf_counter()
            owners = args.owners if turns == max(args.turns) else max(50, args.owners // 10)
            synthesise(path, turns, owners, material, seed=turns, on_step=on_step)
            print(f"{turns:,} turns synthesised in {time.perf_counter() - built:.0f} s: {growth[-1]['file_mb']} MB")
            if turns == max(args.turns):
                sizes = growth
            results[turns] = asyncio.run(measure(path, settings, retriever))
    small, large = args.turns
    rows = []
    for name in results[large]["timings"]:
        at_small, at_large = (summary([s * 1000 for s in results[n]["timings"][name]]) for n in (small, large))
        rows.append(
            {
                "computation": name,
                f"p50_s_{small // 1000}k": round(at_small["p50_ms"] / 1000, 3),
                f"p50_s_{large // 1000}k": round(at_large["p50_ms"] / 1000, 3),
                "first_s_large": round(results[large]["timings"][name][0], 3),
                "growth_x": round(at_large["p50_ms"] / max(at_small["p50_ms"], 0.001), 1),
                "target_s": TARGET_S,
                "met": at_large["p50_ms"] / 1000 <= TARGET_S,
            }
        )
    per_step = [b["file_mb"] - a["file_mb"] for a, b in itertools.pairwise(sizes)]
    print_table(f"Review computations at {small:,} and {large:,} turns (seconds, p50 of {RUNS})", rows)
    print_table(f"Database file as it grows (SQLite, per {STEP:,} turns)", sizes)
    write_result(
        "scale",
        {
            "turns": args.turns,
            "owners": args.owners,
            "computations": rows,
            "gap_candidates": {str(n): results[n]["gap_candidates"] for n in args.turns},
            "database": {
                "sizes": sizes,
                "mb_per_100k_turns": round(sum(per_step) / len(per_step) * 100_000 / STEP, 1) if per_step else None,
            },
            "raw_seconds": {str(n): results[n]["timings"] for n in args.turns},
            "seconds": round(time.perf_counter() - started, 1),
        },
        args.quick,
    )


if __name__ == "__main__":
    main()
