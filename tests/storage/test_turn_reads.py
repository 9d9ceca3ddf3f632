"""The lighter reads of review (issue 31: a million-turn database): `stream_turn_facts` (what /stats
and the digest count) and `stream_gap_candidates` (what the gap report groups) say exactly what
reading every turn whole with `stream_turns` says, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import sys

import numpy as np
import pytest
from sqlalchemy import text

from bot.advisor import Source
from bot.review import gaps
from bot.review.gaps import gap_reasons
from bot.storage import Storage, TurnFilter
from tests.helpers import answer

OTHER = Source(1, "trade/export.md", "Export", "Export > Papers", 0.7, "…")


@pytest.fixture
async def storage(database_url):
    store = await Storage.open(database_url)
    yield store
    await store.close()


async def seed(storage: Storage) -> list[int]:
    """Every kind of turn the counts tell apart, rated in every way, and a few odd rows."""
    kinds = [
        ("tg:1", answer("q1"), 120.0, ["up"]),
        ("tg:1", answer("q2", mode="llm", error="timeout", sources=[OTHER, *answer("x").sources]), 900.0, ["down"]),
        ("tg:2", answer("q3", covered=False, sources=[], best_score=0.1), 80.0, ["down", "up"]),
        ("tg:2", answer("q4", best_score=0.35), 95.0, []),
        ("tg:2", answer("q5", best_score=0.45, cancelled=True), 50.0, ["down"]),
        ("tg:3", answer("hi", mode="smalltalk", covered=False, sources=[]), 0.0, []),
        ("tg:3", answer("person", mode="handover", sources=[]), 0.0, ["down"]),
        ("tg:3", answer("reply", mode="human", answered_by="Anna", sources=[]), 0.0, []),
        ("tg:4", answer("q6", mode="llm", best_score=0.9), 700.0, ["up", "up"]),
    ]
    ids = []
    for user, given, ms, ratings in kinds:
        await storage.touch_user(user)
        conversation = await storage.current_conversation(user, user)
        ids.append(await storage.record_turn(conversation, user, given, ms))
        for n, rating in enumerate(ratings):
            await storage.record_feedback(ids[-1], f"tg:{90 + n}", rating)
    async with storage.engine.begin() as connection:  # rows the API does not write but a database may hold
        await connection.execute(text("update turns set flagged_gap = true where id = :id"), {"id": ids[0]})
        await connection.execute(text("update turns set latency_ms = null where id = :id"), {"id": ids[8]})
        last_week = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=8)
        await connection.execute(
            text("update turns set created_at = :t where id = :id"), {"t": last_week, "id": ids[1]}
        )
    return ids


FILTERS = [
    TurnFilter(),
    TurnFilter(since=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)),
    TurnFilter(user="tg:2"),
    TurnFilter(feedback="down"),
    TurnFilter(mode="llm"),
]


def fact_of(f) -> tuple:
    return (
        f.id,
        f.user_id,
        f.created_at,
        f.mode,
        f.covered,
        f.failed,
        f.cancelled,
        f.latency_ms,
        f.first_source,
        f.feedback,
    )


def fact_of_whole(t) -> tuple:
    source = t.sources[0]["path"] if t.sources else None
    return (
        t.id,
        t.user_id,
        t.created_at,
        t.mode,
        t.covered,
        t.error is not None,
        t.cancelled,
        t.latency_ms,
        source,
        t.feedback,
    )


async def test_turn_facts_are_what_the_whole_turns_say(storage):
    await seed(storage)
    for filters in FILTERS:
        whole = [t async for t in storage.stream_turns(filters)]
        facts = [t async for t in storage.stream_turn_facts(filters)]
        assert [fact_of(f) for f in facts] == [fact_of_whole(t) for t in whole], filters
    every = [t async for t in storage.stream_turn_facts(TurnFilter())]
    assert {f.feedback for f in every} == {"up", "down", "mixed", None} and any(f.failed for f in every)
    assert {f.first_source for f in every} == {"credit/invoice-finance.md", "trade/export.md", None}


async def test_gap_candidates_are_the_turns_with_a_gap_reason(storage):
    ids = await seed(storage)
    for filters in FILTERS:
        for min_score in (0.0, 0.32, 0.5):
            weak_below = min_score + gaps.WEAK_MARGIN
            every = {t.id: gap_reasons(t, min_score) async for t in storage.stream_turns(filters)}
            read = {t.id: gap_reasons(t, min_score) async for t in storage.stream_gap_candidates(filters, weak_below)}
            assert read == {turn: reasons for turn, reasons in every.items() if reasons}, (filters, min_score)
    everything = [t.id async for t in storage.stream_gap_candidates(TurnFilter(), 0.32 + gaps.WEAK_MARGIN)]
    assert everything == sorted(everything) and ids[0] in everything and ids[5] not in everything


def _groups_whole_matrix(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """The gap grouping as it was, comparing every question with every other at once."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similar = unit @ unit.T
    candidates = []
    for own, row in enumerate(similar):
        order = np.argsort(-row, kind="stable")
        candidates.append([own, *[int(i) for i in order if row[i] >= threshold and i != own]])
    groups, taken = [], set()
    for candidate in sorted(candidates, key=len, reverse=True):
        if group := [i for i in candidate if i not in taken]:
            groups.append(group)
            taken.update(group)
    return sorted(groups, key=len, reverse=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database: numpy only, once
def test_gap_groups_by_blocks_are_the_whole_matrix_groups(monkeypatch, database_url):
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(8, 16))
    vectors = np.concatenate([c + rng.normal(scale=0.6, size=(9, 16)) for c in centres]).astype(np.float32)
    vectors[5] = vectors[40] = vectors[41]  # ties: the same question asked three times
    vectors[7] = 0.0  # a zero vector is still a group of its own
    monkeypatch.setattr(gaps, "GROUP_BLOCK", 5)  # several blocks, the last one short
    for threshold in (0.3, 0.5, 0.8):
        assert gaps._groups(vectors, threshold) == _groups_whole_matrix(vectors, threshold), threshold


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database: numpy only, once
def test_gap_groups_of_distinct_questions_weighted_are_every_candidates_groups(monkeypatch, database_url):
    """Grouping each distinct question once, weighted by how often it was asked, gives the groups
    of grouping every candidate (a month at a million turns: 6,000 rows rather than 13,000)."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(6, 16))
    distinct = np.concatenate([c + rng.normal(scale=0.6, size=(7, 16)) for c in centres]).astype(np.float32)
    distinct[4] = 0.0  # a question without a vector: each asking of it is a group of its own
    asked = [int(i) for i in rng.choice(len(distinct), size=150, p=rng.dirichlet(np.ones(len(distinct)) * 0.3))]
    asked += [4, 4, 9, 9, 9]  # asked again, late: an often-asked question outweighs its neighbours
    monkeypatch.setattr(gaps, "GROUP_BLOCK", 7)
    rows, members = gaps._asked_rows(distinct, asked)
    assert len(rows) < len(asked) and sum(len(m) for m in members) == len(asked)
    assert sorted(len(m) for m, row in zip(members, rows, strict=True) if row == 4) == [1] * asked.count(4)
    counts = np.array([len(m) for m in members])
    for threshold in (0.3, 0.5, 0.8):
        weighted = gaps._groups(distinct[rows], threshold, counts=counts)
        expanded = [[i for row in group for i in members[row]] for group in weighted]
        every = _groups_whole_matrix(distinct[asked], threshold)
        assert [sorted(g) for g in expanded] == [sorted(g) for g in every], threshold
        assert [g[0] for g in expanded] == [g[0] for g in every], threshold  # the same question leads each


async def test_reached_files_are_what_the_whole_turns_cited(storage):
    """The files a quarter's owner questions reached (the weekly suggestions' `unreached`), counted by
    the database, are what reading every turn whole and asking `owner_question` says."""
    from bot.review.suggestions import _knowledge_cited, owner_question

    await seed(storage)
    mine = Source(1, "doc:7", "My plan", "My plan", 0.8, "…", kind="document", chunk=2)
    odd = [
        answer("   ", standalone_question=None),  # nothing asked: white space only
        answer("q7", standalone_question="\u3000\t "),  # the rewritten question is blank: none either
        answer("q8", sources=[mine, OTHER]),  # an owner's own document is no knowledge file
        answer("q9", mode="llm", sources=[Source(1, "money/tax.md", "Tax", "Tax > VAT", 0.5, "…")], cancelled=True),
        answer("q10", sources=[Source(1, "money/pay.md", "Pay", "Pay > How", 0.5, "…")], standalone_question=""),
    ]
    await storage.touch_user("tg:5")
    for given in odd:
        conversation = await storage.current_conversation("tg:5", "tg:5")
        await storage.record_turn(conversation, "tg:5", given, 10.0)
    async with storage.engine.begin() as connection:  # a source whose kind is null: not knowledge
        await connection.execute(
            text("update turns set sources = :s where question = 'q6'"),
            {"s": '[{"path": "odd/kind.md", "kind": null}, {"path": "plain/kind.md"}]'},
        )
    week = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=7)
    filters = [*FILTERS[:2], TurnFilter(until=week), TurnFilter(since=dt.datetime.now(dt.UTC).replace(tzinfo=None))]
    for when in filters:
        whole = [t async for t in storage.stream_turns(when)]
        questions = [t for t in whole if owner_question(t) is not None and t.mode in ("offline", "llm")]
        paths = {s["path"] for t in questions for s in _knowledge_cited(t)}
        assert await storage.reached_files(when) == (bool(questions), paths), when
        cited = [t async for t in storage.stream_citations(when)]
        assert [
            (c.id, c.user_id, c.created_at, c.mode, c.cancelled, c.question, c.standalone_question, c.sources)
            for c in cited
        ] == [
            (t.id, t.user_id, t.created_at, t.mode, t.cancelled, t.question, t.standalone_question, t.sources)
            for t in whole
        ]
    from bot.storage.citations import WHITESPACE

    assert "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()) == WHITESPACE
    reached, paths = await storage.reached_files(TurnFilter())
    assert reached and {"plain/kind.md", "trade/export.md", "money/pay.md"} <= paths
    assert not paths & {"odd/kind.md", "doc:7", "money/tax.md"}
