"""Is the schema up to date? Answered without importing Alembic (~0.3 s of every start).

The migrations' one head is read from the files in `migrations/versions/` (their `revision`
and `down_revision` lines) and compared with the database's `alembic_version`. Only when they
differ, or anything is unusual (a file that does not parse, several heads, no version table),
does `bot.storage.database` hand over to Alembic, which migrates or refuses a newer schema.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import inspect, text

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^revision(?:\s*:\s*[\w\[\]| ]+)?\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?:\s*:\s*[\w\[\]|, ]+)?\s*=\s*(None|['\"]([^'\"]+)['\"])\s*$", re.MULTILINE)


def head_revision(folder: Path = VERSIONS) -> str | None:
    """The migrations' single head, or None when that cannot be told cheaply (a file without
    one plain `revision = "…"` and `down_revision = "…" | None`, a merge, or several heads)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in folder.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0][1]:
            downs.add(down[0][1])
    heads = revisions - downs
    return next(iter(heads)) if len(heads) == 1 else None


def up_to_date(connection) -> bool:
    """Does the database already carry the migrations' head (nothing to migrate)?"""
    head = head_revision()
    if head is None or not inspect(connection).has_table("alembic_version"):
        return False
    return [row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))] == [head]
