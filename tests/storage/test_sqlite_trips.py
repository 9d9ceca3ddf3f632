"""SQLite statements in one trip to aiosqlite's thread (`bot.storage.sqlite_trips`): the same
rows, row counts and errors as SQLAlchemy's own adapter, in fewer trips."""

from __future__ import annotations

import collections

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.advisor.answer import Answer
from bot.storage import Storage
from bot.storage.database import open_engine


@pytest.fixture
def trips(monkeypatch):
    """What each call to aiosqlite's thread ran, counted."""
    counted: collections.Counter = collections.Counter()
    original = aiosqlite.core.Connection._execute

    async def execute(self, fn, *args, **kwargs):
        counted[getattr(fn, "__name__", "?")] += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", execute)
    return counted


async def test_statements_give_what_sqlalchemys_adapter_gives(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    one_trip, plain = await open_engine(url), create_async_engine(url)
    try:
        async with one_trip.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
            inserted = await connection.execute(text("INSERT INTO t (name) VALUES ('a'), ('b') RETURNING id"))
            assert inserted.scalars().all() == [1, 2]
            many = await connection.execute(text("INSERT INTO t (name) VALUES (:name)"), [{"name": "c"}, {"name": "d"}])
            assert many.rowcount == 2
            changed = await connection.execute(text("UPDATE t SET name = name || '!' WHERE id > 2"))
            assert changed.rowcount == 2
        for engine in (one_trip, plain):
            async with engine.connect() as connection:
                rows = (await connection.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
                assert [tuple(row) for row in rows] == [(1, "a"), (2, "b"), (3, "c!"), (4, "d!")]
                assert (await connection.execute(text("SELECT name FROM t WHERE id = 9"))).first() is None
        with pytest.raises(IntegrityError):  # the driver's error, translated as before
            async with one_trip.begin() as connection:
                await connection.execute(text("INSERT INTO t (name) VALUES ('a')"))
        async with one_trip.connect() as connection:  # the failed transaction was rolled back
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar() == 4
    finally:
        await one_trip.dispose()
        await plain.dispose()


async def test_a_question_makes_few_trips(tmp_path, trips):
    """A read is one trip (no cursor to open or close, no rollback of nothing); a write
    transaction its statements and one commit."""
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        conversation, _, _ = await storage.context("tg:1", "1")
        trips.clear()
        await storage.owner_state("tg:1")
        assert sum(trips.values()) == 1
        trips.clear()
        await storage.context("tg:1", "1")
        assert sum(trips.values()) == 2  # the conversation and its turns
        trips.clear()
        await storage.record_turn(conversation, "tg:1", Answer("q?", "a", True, "offline"), 1.0)
        assert sum(trips.values()) == 3  # the turn, the owner seen, the commit
        assert trips["commit"] == 1 and not trips["rollback"]
    finally:
        await storage.close()
