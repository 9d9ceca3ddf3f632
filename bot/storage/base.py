"""The database behind `Storage`: an engine, write transactions, and commits shared by many turns.

SQLite has one writer at a time, so writers queue in the event loop (`_writing`) rather
than in SQLite's busy handler; PostgreSQL takes advisory locks where processes must agree.
The parts of `Storage` (owners, conversations, turns, shared state) build on this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.storage.database import open_engine
from bot.storage.models import Turn, User, utcnow

log = logging.getLogger(__name__)


class StoreBase:
    """The engine, its sessions and the write path every part of `Storage` uses."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time. Writers queue here, in the event loop, instead of
        # inside SQLite's busy handler, where under load they time out ("database is locked").
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._turn_writer = GroupCommit(self._transaction)

    def _writing(self):
        """A session in a write transaction, committed on exit."""
        return self._one_writer(self.sessions.begin())

    def _transaction(self):
        """A connection in a write transaction, committed on exit: for Core statements on the
        path of every question, where a session's unit of work costs more than the statements."""
        return self._one_writer(self.engine.begin())

    @contextlib.asynccontextmanager
    async def _one_writer(self, transaction) -> AsyncIterator:
        """`transaction` entered behind the SQLite write lock (none on PostgreSQL)."""
        async with self._write_lock or contextlib.nullcontext(), transaction as handle:
            yield handle

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

    async def flush(self) -> None:
        """Write what is waiting (delivery marks) now, instead of within a second."""
        await self._turn_writer.close()

    async def close(self) -> None:
        await self._turn_writer.close()
        await self.engine.dispose()

    async def _advisory_lock(self, session: AsyncSession | AsyncConnection, namespace: int, key: str) -> None:
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


Names = tuple[str | None, str | None]  # an owner's @username and display name, when known


class GroupCommit:
    """Turns that finish at the same moment are committed in one transaction.

    Each caller still waits until its own turn is committed (so a turn is on disk before
    its answer is sent), but many owners share one commit instead of queueing for one
    each: under load, commits, not inserts, are what a single SQLite writer runs out of.
    The rows go in with one Core INSERT … RETURNING, not the ORM's unit of work, which cost
    ~3.5 ms of CPU per turn (bench: bot CPU per answer); the same transaction records each
    owner as seen (with their names) and the deliveries marked since the last commit.

    Whether an answer reached the owner is not waited for: the marks of the last
    `MARK_DELAY` seconds go in together (with the next turns, or on their own), so a
    busy bot writes one transaction for many of them instead of one each. A mark still
    waiting when the process is killed is lost, and the turn's delivery reads as not known.
    """

    MAX_BATCH = 200
    MARK_DELAY = 1.0

    def __init__(self, transaction) -> None:
        self._transaction = transaction
        self._queue: list[tuple[dict, Names, asyncio.Future]] = []
        self._marks: dict[int, bool] = {}
        self._task: asyncio.Task | None = None
        self._marker: asyncio.TimerHandle | None = None

    async def write(self, values: dict, names: Names = (None, None)) -> int:
        """Store one turn (its column values) and note its owner as seen; its id once committed."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((values, names, future))
        self._start()
        return await future

    def mark(self, turn_id: int, delivered: bool) -> None:
        """Record, within `MARK_DELAY` seconds, whether a turn's answer was delivered."""
        self._marks[turn_id] = delivered
        if self._marker is None:
            self._marker = asyncio.get_running_loop().call_later(self.MARK_DELAY, self._start)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._queue or self._marks:
            batch, self._queue = self._queue[: self.MAX_BATCH], self._queue[self.MAX_BATCH :]
            marks, self._marks = self._marks, {}
            if self._marker is not None:
                self._marker.cancel()
                self._marker = None
            try:
                async with self._transaction() as connection:
                    ids = await _insert_turns(connection, batch)
                    await _mark_delivered(connection, marks)
            except Exception as exc:  # every waiter learns that its turn was not stored
                if marks:
                    log.warning("%d delivery marks could not be stored: %s", len(marks), exc)
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), turn_id in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(turn_id)

    async def close(self) -> None:
        """Write what is waiting (delivery marks too) before the database closes."""
        if self._marks:
            self._start()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


async def _insert_turns(connection, batch: list[tuple[dict, Names, asyncio.Future]]) -> list[int]:
    if not batch:
        return []
    statement = insert(Turn).returning(Turn.id, sort_by_parameter_order=True)
    ids = (await connection.execute(statement, [values for values, _, _ in batch])).scalars().all()
    seen = update(User).where(User.id == bindparam("owner"))
    seen = seen.values(
        last_seen=bindparam("now"),
        username=func.coalesce(bindparam("new_username"), User.username),
        display_name=func.coalesce(bindparam("new_display_name"), User.display_name),
    )
    now = utcnow()
    owners = {values["user_id"]: names for values, names, _ in batch}
    rows = [{"owner": o, "now": now, "new_username": u, "new_display_name": d} for o, (u, d) in owners.items()]
    await connection.execute(seen, rows)
    return list(ids)


async def _mark_delivered(connection, marks: dict[int, bool]) -> None:
    if marks:
        statement = update(Turn).where(Turn.id == bindparam("turn")).values(delivered=bindparam("reached"))
        await connection.execute(statement, [{"turn": t, "reached": d} for t, d in marks.items()])
