"""Content suggestions (`python -m bot suggest`): each kind on a small real knowledge dir, a real
index and a transcript database written through the storage API, ranked by owners affected."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from bot.advisor import Source
from bot.index.sections import SectionIndex
from bot.review.duplicates import competing_sections
from bot.review.suggestions import compute_suggestions
from bot.storage import Storage, sqlite_path
from tests.helpers import SAMPLE_CREDIT, SAMPLE_TRADE, answer, retriever_for, run_cli, run_ingest, write

LATE_PAYMENTS = """---
title: Chasing late payments
topic: operations
review_by: 2021-03-01
---

# Chasing late payments

## Can I charge interest on a late invoice?

Asked:
- can I charge interest or a fee on a late invoice
- can I add a late fee to an unpaid invoice
- customer pays late, can I charge them extra

Yes, in most places you may charge interest on an invoice paid after its due date, if your
terms said so before the work began: state the rate and the fee on every invoice you send.
"""

SUPPLIER_TERMS = """---
title: Trade credit and supplier terms
topic: credit
---

# Trade credit and supplier terms

## What can I do when a customer pays late?

Asked:
- can I charge interest or a fee on late invoices
- late paying customer, what are my options

Send a polite reminder the day after the due date, then call; charge the late-payment interest
your terms allow, and stop further deliveries until the account is settled.
"""

OVENS = """---
title: Looking after a deck oven
topic: operations
review_by: 2999-01-01
---

# Looking after a deck oven

## How do I clean the stones of a deck oven?

Asked:
- cleaning oven stones

Brush the baking stones of a deck oven while they are warm, never wash them with water, and
replace a cracked stone before it breaks under a full load of bread.
"""

TRADEMARKS = [
    "How do I register a trademark for my brand name?",
    "Can someone else trademark my shop's name?",
    "What does it cost to protect my logo as a trademark?",
]
LATE = "operations/late-payments.md"
SUPPLIERS = "credit/supplier-terms.md"
LATE_SECTION = f"{LATE}#Can I charge interest on a late invoice?"
SUPPLIER_SECTION = f"{SUPPLIERS}#What can I do when a customer pays late?"
COLLATERAL_SECTION = "credit/collateral.md#How do data-driven lenders decide?"


def cite(path: str, heading: str) -> Source:
    return Source(1, path, "T", f"T > {heading}", 0.7, "…")


@pytest.fixture
def library(settings, kdir, embedder):
    """Five files: collateral and trade are cited, the two late-payment sections compete for the
    same question (one of them past its review_by), and the oven file nobody reaches. Ingested."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    write(kdir, LATE, LATE_PAYMENTS)
    write(kdir, SUPPLIERS, SUPPLIER_TERMS)
    write(kdir, "operations/ovens.md", OVENS)
    run_ingest(settings, embedder)
    return settings


async def seed(settings) -> dict[str, int]:
    """Owners 1-3 were answered from the late-payments file (past review_by), owner 7 from the
    section competing with it; owners 1 and 2 gave
    the collateral answer 👎 with a comment; owners 4 and 5 asked about trademarks (not covered)."""
    storage = await Storage.open(settings.database)
    ids: dict[str, int] = {}

    async def turn(name: str, user: str, question: str, **extra) -> int:
        await storage.touch_user(user)
        conversation = await storage.current_conversation(user, user)
        ids[name] = await storage.record_turn(conversation, user, answer(question, **extra), 100)
        return ids[name]

    try:
        for user in ("tg:1", "tg:2", "tg:3"):
            late = [cite(LATE, "Can I charge interest on a late invoice?")]
            await turn(f"late{user}", user, "Can I charge a fee when a customer pays late?", sources=late)
        suppliers = [cite(SUPPLIERS, "What can I do when a customer pays late?")]
        await turn("suppliers", "tg:7", "My customer pays late, what now?", sources=suppliers)
        collateral = [cite("credit/collateral.md", "How do data-driven lenders decide?")]
        for user, comment in (("tg:1", "Too vague for my bakery"), ("tg:2", "  ")):
            number = await turn(f"loan{user}", user, "Can I borrow without my house as security?", sources=collateral)
            await storage.record_feedback(number, user, "down")
            await storage.add_feedback_comment(number, user, comment)
        both = await turn("liked", "tg:2", "Is invoice factoring worth it?", sources=collateral)
        await storage.record_feedback(both, "tg:2", "down")
        await storage.add_feedback_comment(both, "tg:2", "It ignored my slow customers")
        export = [cite("trade/export.md", "How do I pick a first export market?")]
        await turn("export", "tg:3", "Which country should I export to first?", sources=export)
        for number, question in enumerate(TRADEMARKS):
            user = "tg:4" if number < 2 else "tg:5"
            await turn(f"tm{number}", user, question, covered=False, sources=[], best_score=0.15)
        # an old answer from the oven file: outside the 90 days, so the oven file is still unreached
        await turn("old", "tg:6", "How do I clean my oven stones?", sources=[cite("operations/ovens.md", "x")])
    finally:
        await storage.close()
    aged = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=120)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(sqlite_path(settings.database)) as conn:
        conn.execute("update turns set created_at = ? where id = ?", (aged, ids["old"]))
    return ids


async def suggestions_of(library, embedder):
    """The suggestions report of `library`'s database as the digest computes it."""
    storage = await Storage.open(library.database)
    try:
        return await compute_suggestions(storage, retriever_for(library, embedder), library)
    finally:
        await storage.close()


async def test_each_kind_ranked_by_owners_affected(library, embedder):
    ids = await seed(library)
    report = await suggestions_of(library, embedder)
    ranked = [(s.kind, s.owners) for s in report.suggestions]
    assert ranked == [
        ("near-duplicate", 4),  # owners answered from either section: tg:1-3 and tg:7
        ("review due", 3),  # the three owners answered from the late-payments file
        ("not covered", 2),  # tg:4 and tg:5
        ("thumbs down", 2),  # tg:1 and tg:2 (tg:2's blank comment is none, their other one is); ties go by kind
        ("unreached", 0),
    ]
    what = [s.what for s in report.suggestions]
    assert what[0] in (f"{SUPPLIER_SECTION} + {LATE_SECTION}", f"{LATE_SECTION} + {SUPPLIER_SECTION}")
    assert what[1:] == [LATE, what[2], COLLATERAL_SECTION, "operations/ovens.md"] and what[2] in TRADEMARKS
    by_kind = {s.kind: s for s in report.suggestions}
    duplicate = by_kind["near-duplicate"]
    assert duplicate.owners == 4 and "merge these two sections" in duplicate.action
    assert "late" in duplicate.example and "alike" in duplicate.example
    due = by_kind["review due"]
    assert due.action.startswith("review: past review_by 2021-03-01")
    gap = by_kind["not covered"]
    assert gap.action.startswith("write an entry") and gap.count == 3
    assert gap.turn_ids == sorted(ids[f"tm{n}"] for n in range(3))
    disliked = by_kind["thumbs down"]
    assert disliked.count == 2 and disliked.turn_ids == sorted([ids["loantg:1"], ids["liked"]])
    assert disliked.example == "“It ignored my slow customers” on “Is invoice factoring worth it?”"
    assert "rewrite this section" in disliked.action
    unreached = [s for s in report.suggestions if s.kind == "unreached"]
    assert [s.what for s in unreached] == ["operations/ovens.md"]  # the others were cited; the old turn is too old
    assert unreached[0].action == "no owner reached this file in 90 days: retire or retitle"
    assert report.suggestions[-1].kind == "unreached"  # no owner affected, by definition: last
    owners = [s.owners for s in report.suggestions]
    assert owners == sorted(owners, reverse=True)
    # the ovens file's review_by is in the future: not due
    assert not any(s.kind == "review due" and "ovens" in s.what for s in report.suggestions)


async def test_the_top_suggestions_read_the_turns_before_the_week_only_when_unreached_files_could_show(
    library, embedder, monkeypatch
):
    """The digest shows the top five: unreached files rank last (no owner), so the quarter's turns
    before the week (~200,000 at a million turns) are read only when the others leave room."""
    await seed(library)
    storage = await Storage.open(library.database)
    looked = []
    reached_files = storage.reached_files
    monkeypatch.setattr(storage, "reached_files", lambda filters: looked.append(filters) or reached_files(filters))
    retriever = retriever_for(library, embedder)
    try:
        every = (await compute_suggestions(storage, retriever, library, 7)).suggestions
        assert len(looked) == 1 and [s.kind for s in every][-1] == "unreached" and len(every) == 5
        for top in (1, 4, 5, 9):
            looked.clear()
            report = await compute_suggestions(storage, retriever, library, 7, top=top)
            assert report.suggestions == every[:top], top
            assert len(looked) == (top > 4), top  # four suggestions besides the unreached file
    finally:
        await storage.close()


async def test_a_file_cited_before_the_week_but_within_90_days_was_reached(library, embedder):
    """The turns before the suggestions' window count for what was reached (read by question and
    sources only since issue 31), and for nothing else."""
    ids = await seed(library)
    sixty = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=60)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(sqlite_path(library.database)) as conn:
        conn.execute("update turns set created_at = ? where id = ?", (sixty, ids["old"]))
    conn.close()
    report = await suggestions_of(library, embedder)
    kinds = [(s.kind, s.owners) for s in report.suggestions]
    assert kinds == [("near-duplicate", 4), ("review due", 3), ("not covered", 2), ("thumbs down", 2)]


def test_competing_sections_are_found_across_files_only(library, embedder):
    sections = retriever_for(library, embedder).section_index()
    pairs = competing_sections(sections, embedder.space, embedder.calibrate)
    assert [({p.first, p.second}, p.measure) for p in pairs] == [({SUPPLIER_SECTION, LATE_SECTION}, "questions")]
    assert pairs[0].similarity >= 0.9
    assert {pairs[0].first_question, pairs[0].second_question} == {
        "can I charge interest or a fee on late invoices",
        "can I charge interest or a fee on a late invoice",
    }
    # the same two sections in one file are no competition: one file answers either way
    same_file = SectionIndex(
        [*sections.sections],
        sections.spaces,
    )
    for section in same_file.sections:
        section.path = "one.md"
    assert competing_sections(same_file, embedder.space, embedder.calibrate) == []


def test_competing_sections_are_compared_once_per_index_version(library, embedder, monkeypatch):
    """The weekly digest compares every two sections (a second or two): once per index version."""
    from bot.review import duplicates

    sections = retriever_for(library, embedder).section_index()
    compared = []
    real = duplicates._competing
    monkeypatch.setattr(duplicates, "_competing", lambda *asked: compared.append(asked[0]) or real(*asked))
    first = competing_sections(sections, embedder.space, embedder.calibrate)
    assert competing_sections(sections, embedder.space, embedder.calibrate) == first and len(compared) == 1
    assert competing_sections(sections, embedder.space, embedder.calibrate, same_question=0.99) == []
    assert len(compared) == 2  # asked another way: compared again
    version = SectionIndex(list(sections.sections), sections.spaces)  # a new version: its own pairs
    assert competing_sections(version, embedder.space, embedder.calibrate) == first
    assert compared == [sections, sections, version]


def test_suggest_command_as_a_process(library):
    import asyncio

    asyncio.run(seed(library))
    env = {"KNOWLEDGE_DIR": str(library.knowledge_dir), "DATA_DIR": str(library.data_dir)}
    result = run_cli("suggest", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["days"] == 30 and data["unreached_days"] == 90
    kinds = [s["kind"] for s in data["suggestions"]]
    assert set(kinds) == {"review due", "not covered", "thumbs down", "near-duplicate", "unreached"}
    assert kinds[-1] == "unreached" and data["suggestions"][0]["owners"] == 4

    table = run_cli("suggest", "--limit", "2", env=env)
    assert table.returncode == 0, table.stderr
    assert "Content suggestions" in table.stdout and "review due" in table.stdout
    assert "unreached" not in table.stdout  # cut by --limit: it ranks last
    assert "Traceback" not in table.stderr


def test_suggest_on_an_empty_data_folder_is_one_line(settings):
    env = {"KNOWLEDGE_DIR": str(settings.knowledge_dir), "DATA_DIR": str(settings.data_dir)}
    result = run_cli("suggest", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: the knowledge index is empty; run `python ingest.py` first"
    assert result.stdout == ""


def test_the_weekly_section_day():
    from bot.review.digest import suggestions_due

    monday, tuesday = dt.date(2026, 12, 7), dt.date(2026, 12, 8)
    assert suggestions_due("monday", monday) and not suggestions_due("monday", tuesday)
    assert suggestions_due("daily", tuesday) and not suggestions_due("off", monday)


async def test_without_owner_questions_no_file_is_called_unreached(library, embedder):
    """A bot nobody has asked yet: every file would be "unreached"; that says nothing, so the
    report says why they are not listed and keeps what the files themselves show."""
    report = await suggestions_of(library, embedder)
    assert [(s.kind, s.what, s.owners) for s in report.suggestions] == [
        ("near-duplicate", report.suggestions[0].what, 0),
        ("review due", LATE, 0),
    ]
    assert report.notes == ["no owner questions in the last 90 days: unreached files not listed"]
