"""Opening the transcript database: engine, SQLite pragmas, file permissions, migrations.

The database URL is a setting (`DATABASE_URL`), SQLite by default
(`sqlite+aiosqlite:///data/transcripts.db`), so PostgreSQL (`postgresql+asyncpg://…`)
needs no code change. The schema is brought up to date by Alembic at every
start; a database written by a newer version of the program is refused. Alembic is imported
only when the database is not at the migrations' head (`bot.storage.revisions` tells that
cheaply), so a start on an up-to-date schema does not pay for it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.storage.revisions import up_to_date
from bot.storage.sqlite_trips import one_trip_module

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class StorageError(Exception):
    """The database cannot be used (newer schema, unreachable, bad URL); the message says why."""


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


async def open_engine(url: str) -> AsyncEngine:
    """An engine on an up-to-date schema. SQLite files are created owner-only, in WAL mode."""
    path = sqlite_path(url)
    if path is not None:
        _create_private_file(path)
    one_trip = path is not None and make_url(url).get_driver_name() == "aiosqlite"
    options = {"module": one_trip_module()} if one_trip else {}  # `bot.storage.sqlite_trips`
    try:
        engine = create_async_engine(url, pool_pre_ping=path is None, **options)
    except Exception as exc:  # bad URL or missing driver: one clear line, not a traceback
        raise StorageError(f"cannot use DATABASE_URL {make_url(url)!r}: {exc}") from None
    if path is not None:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        if path is None:
            async with engine.begin() as connection:
                await connection.run_sync(_migrate)
        else:
            async with engine.connect() as connection:
                await connection.run_sync(_migrate_sqlite)
    except StorageError:
        await engine.dispose()
        raise
    if path is not None:
        _restrict_sidecar_files(path)
    return engine


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _restrict_sidecar_files(path: Path) -> None:
    """SQLite creates -wal and -shm files with the process umask; keep them owner-only too."""
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            os.chmod(sidecar, 0o600)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (admins, Datasette) never block the bot
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _migrate_sqlite(connection) -> None:
    """`_migrate` in one real SQLite transaction. Python's sqlite3 begins a transaction only
    before INSERT/UPDATE/DELETE, so each CREATE TABLE committed on its own: a bot killed part way
    through a migration left tables without Alembic's version, and every later start failed
    ("table users already exists"). Here the migration is wrapped in BEGIN IMMEDIATE … COMMIT,
    then the connection goes back to sqlite3's usual handling for the rest of its life."""
    adapted = connection.connection.dbapi_connection
    usual = adapted.isolation_level
    adapted.isolation_level = None  # sqlite3 leaves BEGIN and COMMIT to us
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            _migrate(connection)
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")
    finally:
        adapted.isolation_level = usual


def _migrate(connection) -> None:
    if connection.dialect.name == "postgresql":  # several processes may start at once: one migrates
        connection.execute(text("SELECT pg_advisory_xact_lock(3, 0)"))
    if up_to_date(connection):
        return
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    script = ScriptDirectory.from_config(config)
    current = MigrationContext.configure(connection).get_current_revision()
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise StorageError(
            f"the database schema (version {current}) is newer than this version of SME Advisor "
            f"(which knows up to {script.get_current_head()}); upgrade the program, or point "
            "DATABASE_URL at another database"
        )
    if current != script.get_current_head():
        log.info("migrating the database schema from %s to %s", current or "empty", script.get_current_head())
        command.upgrade(config, "head")
