"""One trip to aiosqlite's thread per SQL statement, instead of four.

aiosqlite runs every call on the sqlite3 connection in a thread of its own, and SQLAlchemy's
adapter made four calls of each statement: open a cursor, execute, fetch the rows, close the
cursor. Each trip is a queue, a wake-up of that thread and one of the event loop (the self-pipe),
and a greenlet switch: a question's ~40 trips were the biggest single part of the bot's CPU
per answer after the embedding models (bench/bot_bench.py, py-spy). Here a statement is run,
fetched and its cursor closed in one trip; what SQLAlchemy then reads (the rows, `description`,
`rowcount`, `lastrowid`) is kept, so the statements, their results and their errors are the same.
"""

from __future__ import annotations

import collections
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import immutabledict
from sqlalchemy.util.concurrency import await_


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement runs, is fetched and closed in one call on aiosqlite's thread."""

    __slots__ = ()

    def _make_new_cursor(self, connection) -> None:
        return None  # opened by the statement's own trip (`_run`)

    def _aenter_cursor(self, cursor) -> None:
        return None

    async def _async_soft_close(self) -> None:
        """Its cursor was closed on the statement's trip, its description kept there."""

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            return await self._trip(operation, () if parameters is None else parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            return await self._trip(operation, seq_of_parameters, True)

    async def _trip(self, operation: Any, parameters: Any, many: bool) -> Any:
        cursor, rows = await self._connection._execute(_run, self._connection._conn, operation, parameters, many)
        self._cursor = cursor  # closed; its description, rowcount and lastrowid stay readable
        self._soft_closed_memoized = immutabledict({"description": cursor.description})  # nothing left to close
        if rows is not None:
            self._rows = collections.deque(rows)
        return cursor


def _run(connection, operation: Any, parameters: Any, many: bool):
    """On aiosqlite's thread: the statement executed, its rows fetched (None: it has no result
    rows), its cursor closed."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters)
        return cursor, cursor.fetchall() if cursor.description else None
    finally:
        cursor.close()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Its cursors are `OneTripCursor`s, and a commit or rollback with no transaction open makes
    no trip: sqlite3 itself does nothing then (it checks `sqlite3_get_autocommit`, as
    `in_transaction` does), and that was after every read and, from the pool, after every commit."""

    __slots__ = ()

    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        try:
            if self._connection.in_transaction:  # on a closed connection this raises, as the rollback did
                await_(self._connection.rollback())
        except Exception as error:
            self._handle_exception(error)

    def commit(self) -> None:
        try:
            if self._connection.in_transaction:
                await_(self._connection.commit())
        except Exception as error:
            self._handle_exception(error)


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy's adapter wraps it, its connections making `OneTripCursor`s (pass
    as `module` to the engine)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_module() -> OneTripDBAPI:
    import sqlite3

    import aiosqlite

    return OneTripDBAPI(aiosqlite, sqlite3)
