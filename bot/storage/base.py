"""The database behind `Storage`: an engine, write transactions, and commits shared by many turns.

SQLite has one writer at a time, so writers queue in the event loop (`_writing`) rather
than in SQLite's busy handler; PostgreSQL takes advisory locks where processes must agree.
The parts of `Storage` (owners, conversations, turns, shared state) build on this.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.storage.database import open_engine
from bot.storage.models import Turn


class StoreBase:
    """The engine, its sessions and the write path every part of `Storage` uses."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time. Writers queue here, in the event loop, instead of
        # inside SQLite's busy handler, where under load they time out ("database is locked").
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._turn_writer = GroupCommit(self._writing)

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator:
        """A session in a write transaction, committed on exit."""
        if self._write_lock is None:
            async with self.sessions.begin() as session:
                yield session
            return
        async with self._write_lock, self.sessions.begin() as session:
            yield session

    @classmethod
    async def open(cls, url: str):
        return cls(await open_engine(url))

    @property
    def shared(self) -> bool:
        """True on a database server, which several bot processes may share; a SQLite file
        belongs to one process."""
        return self.engine.dialect.name != "sqlite"

    def _insert(self, model):
        """INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL spell them alike)."""
        return (postgresql_insert if self.shared else sqlite_insert)(model)

    async def close(self) -> None:
        await self._turn_writer.close()
        await self.engine.dispose()

    async def _advisory_lock(self, session: AsyncSession, namespace: int, key: str) -> None:
        """Serialise this transaction with others on the same key, across processes
        (PostgreSQL); SQLite's single writer already serialises every write."""
        if self.shared:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                {"namespace": namespace, "key": zlib.crc32(key.encode()) - 2**31},
            )

    async def count(self, model) -> int:
        async with self.sessions() as session:
            return await session.scalar(select(func.count()).select_from(model))


class GroupCommit:
    """Turns that finish at the same moment are committed in one transaction.

    Each caller still waits until its own turn is committed (so a turn is on disk before
    its answer is sent), but many owners share one commit instead of queueing for one
    each: under load, commits, not inserts, are what a single SQLite writer runs out of.
    The rows go in with one Core INSERT … RETURNING, not the ORM's unit of work, which cost
    ~3.5 ms of CPU per turn (bench: bot CPU per answer).
    """

    MAX_BATCH = 200

    def __init__(self, writing) -> None:
        self._writing = writing
        self._queue: list[tuple[dict, asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def write(self, values: dict) -> int:
        """Store one turn (its column values); its id once committed."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((values, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.MAX_BATCH], self._queue[self.MAX_BATCH :]
            try:
                statement = insert(Turn).returning(Turn.id, sort_by_parameter_order=True)
                async with self._writing() as session:
                    ids = (await session.execute(statement, [values for values, _ in batch])).scalars().all()
                for (_, future), turn_id in zip(batch, ids, strict=True):
                    if not future.done():
                        future.set_result(turn_id)
            except Exception as exc:  # every waiter learns that its turn was not stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
