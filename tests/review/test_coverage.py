"""Knowledge coverage: citations and 👍/👎 per file, files no question retrieves, and gap themes a
newly ingested file covers — on a real transcript database and a real small index."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3

import pytest

from bot.advisor import Source
from bot.review.coverage import FILE_COVERAGE_SQL, compute_coverage
from bot.review.datasette import metadata
from bot.storage import Storage, sqlite_path
from tests.helpers import SAMPLE_CREDIT, SAMPLE_TRADE, answer, invoke, retriever_for, run_ingest, write

OVENS = """---
title: Looking after a deck oven
topic: operations
---

# Looking after a deck oven

## Cleaning the oven stones

Brush the baking stones of a deck oven while they are warm, never wash them with water, and
replace a cracked stone before it breaks under a full load of bread.
"""

HIRING = """---
title: Hiring your first employee
topic: growth
---

# Hiring your first employee

## When to hire

Hire your first employee when you turn work away every week: write down the tasks you would
hand over, and agree the wage, hours and trial period in a written contract.
"""

TRADEMARKS = """---
title: Protecting your brand name
topic: legal
---

# Protecting your brand name

## Registering a trademark

Register your shop's brand name and logo as a trademark with the national trademark office
before someone else does; a search of the register and the filing fee cost far less than a
lawyer's fight over a name later.
"""

TRADEMARK_QUESTIONS = [
    "How do I register a trademark for my brand name?",
    "Can someone else trademark my shop's name?",
    "What does it cost to protect my logo as a trademark?",
]


def cite(path: str, number: int = 1) -> Source:
    return Source(number, path, "T", "T > H", 0.6, "…")


@pytest.fixture
def library(settings, kdir, embedder):
    """Four files: credit and trade are cited by owners, hiring is asked about only by an eval
    file other than questions.yaml, and the oven file by nobody. Ingested."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    write(kdir, "operations/ovens.md", OVENS)
    write(kdir, "growth/hiring.md", HIRING)
    write(
        kdir,
        "eval/questions.yaml",
        '- question: "How do I pick a first export market?"\n  files: [trade/export.md]\n'
        '- question: "What is the best sourdough recipe?"\n  expect: not_covered\n',
    )
    write(kdir, "eval/more.yaml", '- question: "When should I hire my first employee?"\n  files: [growth/hiring.md]\n')
    run_ingest(settings, embedder)
    return settings


async def seed(settings) -> dict[str, int]:
    """Turns and feedback through the real storage API; one turn is then aged by 60 days."""
    storage = await Storage.open(settings.database)
    ids: dict[str, int] = {}

    async def turn(name: str, user: str, question: str, **extra) -> None:
        await storage.touch_user(user)
        conversation = await storage.current_conversation(user, user)
        ids[name] = await storage.record_turn(conversation, user, answer(question, **extra), 100)

    try:
        credit = [cite("credit/collateral.md", 1), cite("credit/collateral.md", 2)]  # one file, two passages
        await turn("credit", "tg:1", "How can a small business get credit without collateral?", sources=credit)
        await storage.record_feedback(ids["credit"], "tg:1", "up")
        both = [cite("credit/collateral.md", 1), cite("trade/export.md", 2)]
        await turn("invoices", "tg:1", "Can invoices get me cash?", sources=both)
        await storage.record_feedback(ids["invoices"], "tg:1", "down")
        await storage.record_feedback(ids["invoices"], "tg:2", "up")  # a group: rated both ways
        await turn("abroad", "tg:2", "Should I sell on a marketplace abroad?", sources=[cite("trade/export.md")])
        await turn("old", "tg:3", "Loans without a house as security?", sources=[cite("credit/collateral.md")])
        await storage.record_feedback(ids["old"], "tg:3", "down")
        # no knowledge questions: they must not count as retrieving the oven file
        await turn("hello", "tg:2", "hello", mode="smalltalk", sources=[])
        oven = "How do I clean the stones of my deck oven?"
        await turn("human", "tg:2", oven, mode="human", sources=[])
        await turn("cancelled", "tg:2", oven, sources=[], cancelled=True)
        for number, question in enumerate(TRADEMARK_QUESTIONS):
            await turn(f"tm{number}", "tg:4", question, covered=False, sources=[], best_score=0.18)
    finally:
        await storage.close()
    aged = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=60)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(sqlite_path(settings.database)) as conn:
        conn.execute("update turns set created_at = ? where id = ?", (aged, ids["old"]))
    return ids


def env_for(settings) -> dict:
    return {"KNOWLEDGE_DIR": str(settings.knowledge_dir), "DATA_DIR": str(settings.data_dir)}


async def test_citations_feedback_and_files_no_question_retrieves(library, embedder):
    ids = await seed(library)
    storage = await Storage.open(library.database)
    try:
        report = await compute_coverage(storage, retriever_for(library, embedder), library)
    finally:
        await storage.close()
    files = {f.path: f for f in report.files}
    assert set(files) == {"credit/collateral.md", "trade/export.md", "operations/ovens.md", "growth/hiring.md"}
    got = {p: (f.citations, f.thumbs_up, f.thumbs_down, f.owner_questions, f.eval_questions) for p, f in files.items()}
    assert got == {
        # cited by "credit" (twice, counted once) and "invoices"; the 60-day-old turn is outside the 30 days
        "credit/collateral.md": (2, 2, 1, 2, 0),
        "trade/export.md": (2, 1, 1, 1, 1),
        "growth/hiring.md": (0, 0, 0, 0, 1),  # only the second eval file asks about it
        "operations/ovens.md": (0, 0, 0, 0, 0),
    }
    assert report.never_retrieved == ["operations/ovens.md"]
    assert [f.path for f in report.files][:2] == ["credit/collateral.md", "trade/export.md"]
    # owner questions: credit, invoices, abroad and the three trademark ones (not small talk, a
    # consultant's reply, a cancelled question, nor the old turn); eval: not the off-topic one
    assert (report.owner_questions, report.eval_questions) == (6, 2)
    tm = next(g for g in report.gaps if set(g.turn_ids) == {ids["tm0"], ids["tm1"], ids["tm2"]})
    assert (tm.asked, tm.covered, tm.status, tm.answered_by) == (3, 0, "open", None)
    invoices = next(g for g in report.gaps if g.turn_ids == [ids["invoices"]])  # 👎 from one owner
    assert (invoices.covered, invoices.status, invoices.answered_by) == (1, "covered", "credit/collateral.md")

    # Datasette's canned query (as `review` hands it over) counts the same from SQL alone
    meta = metadata("transcripts", library.min_score, protected=False)
    sql = meta["databases"]["transcripts"]["queries"]["file_coverage"]["sql"]
    assert sql == FILE_COVERAGE_SQL.strip()
    with sqlite3.connect(sqlite_path(library.database)) as conn:
        rows = conn.execute(sql).fetchall()
    assert rows == [("credit/collateral.md", 2, 2, 1), ("trade/export.md", 2, 1, 1)]
    assert rows == [(p, f.citations, f.thumbs_up, f.thumbs_down) for p, f in files.items() if f.citations]


def test_a_gap_a_newly_ingested_file_covers_is_reported_covered(library, kdir, embedder):
    ids = asyncio.run(seed(library))
    env = env_for(library)
    trademark_turns = sorted(ids[f"tm{n}"] for n in range(3))

    before = invoke("coverage", "--json", env=env)
    assert before.returncode == 0, before.stderr
    report = json.loads(before.stdout)
    [gap] = [g for g in report["gaps"] if g["turn_ids"] == trademark_turns]
    assert (gap["asked"], gap["covered"], gap["status"]) == (3, 0, "open")
    assert gap["closest_file"] in {"credit/collateral.md", "trade/export.md", "operations/ovens.md", "growth/hiring.md"}

    write(kdir, "legal/trademarks.md", TRADEMARKS)
    run_ingest(library, embedder)
    after = json.loads(invoke("coverage", "--json", env=env).stdout)
    [gap] = [g for g in after["gaps"] if g["turn_ids"] == trademark_turns]
    assert (gap["covered"], gap["status"], gap["answered_by"]) == (3, "covered", "legal/trademarks.md")
    assert gap["closest_file"] == "legal/trademarks.md"
    files = {f["path"]: f for f in after["files"]}
    assert files["legal/trademarks.md"]["owner_questions"] == 3
    assert files["legal/trademarks.md"]["citations"] == 0  # nobody was answered from it yet
    assert after["never_retrieved"] == ["operations/ovens.md"]

    table = invoke("coverage", env=env)
    assert table.returncode == 0, table.stderr
    assert "never retrieved" in table.stdout and "operations/ovens.md" in table.stdout
    assert "3/3 covered" in table.stdout and "legal/trademarks.md" in table.stdout

    longer = json.loads(invoke("coverage", "--days", "90", "--json", env=env).stdout)
    credit = next(f for f in longer["files"] if f["path"] == "credit/collateral.md")
    assert (credit["citations"], credit["thumbs_up"], credit["thumbs_down"]) == (3, 2, 2)  # with the old turn
    assert longer["days"] == 90 and longer["owner_questions"] == 7


def test_coverage_errors_are_one_line(settings, kdir):
    env = env_for(settings)
    empty = invoke("coverage", env=env)
    assert empty.returncode == 2
    assert empty.stderr.strip() == "error: the knowledge index is empty; run `python ingest.py` first"
    assert invoke("coverage", "--days", "0", env=env).returncode == 2
    help_text = invoke("coverage", "--help", env=env).stdout
    assert "never retrieved" in help_text and "python -m bot coverage --days 90 --json" in help_text


def test_a_malformed_eval_file_is_named(library, kdir):
    write(kdir, "eval/broken.yaml", "- question: [not, text]\n")
    result = invoke("coverage", env=env_for(library))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "broken.yaml, entry 1: needs a 'question' text" in line
