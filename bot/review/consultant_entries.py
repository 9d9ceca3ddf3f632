"""The consultant entries page (`/-/consultant-entries`): the knowledge files consultants
published from Telegram (front matter `source: consultant`, with `author` and `date`), and the
owners' questions each has answered since: the advisor's answers that cited it on or after its
date, each linked to its place in the conversation.

The files are read from KNOWLEDGE_DIR as the ingest finds them (`bot.knowledge.discover`); the
answers come from the read-only transcript database (any object with an async `execute`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.knowledge import KnowledgeFileError, discover, read_bytes, relative_path

SOURCE = "consultant"
MAX_BYTES = 2_000_000  # a published entry is a page of Markdown; anything bigger is not one
TEXT_SUFFIXES = (".md", ".markdown", ".txt")
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"^#\s+(.+)$", re.MULTILINE)
ANSWERED = """
select t.id as turn, t.conversation_id as conversation, t.created_at, t.user_id as owner, t.question
from turns t
where t.created_at >= :since and t.mode in ('offline', 'llm')
  and exists (select 1 from json_each(case when json_valid(t.sources) then t.sources else '[]' end) s
              where json_extract(s.value, '$.path') = :path)
order by t.created_at desc
"""


@dataclass
class Entry:
    """One published consultant entry and the questions it answered since its date."""

    path: str
    title: str
    author: str
    date: str  # as written in the front matter ('2026-12-07'), '' when missing
    answered: list[dict] = field(default_factory=list)


def read_entries(knowledge_dir: Path) -> list[Entry]:
    """The consultant entries in `knowledge_dir`, newest first; files that cannot be read are skipped
    (the ingest and `python -m bot lint` report those)."""
    if not knowledge_dir.is_dir():
        return []
    files, _skipped = discover(knowledge_dir)
    entries = []
    for path in files:
        if path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        try:
            text = read_bytes(path, knowledge_dir, MAX_BYTES).decode("utf-8-sig")
        except (KnowledgeFileError, OSError, UnicodeDecodeError):
            continue
        entry = parse_entry(relative_path(path, knowledge_dir), text)
        if entry is not None:
            entries.append(entry)
    return sorted(entries, key=lambda e: (e.date, e.path), reverse=True)


def parse_entry(rel_path: str, text: str) -> Entry | None:
    """The entry a file's front matter describes, or None when it is not a consultant's."""
    match = _FRONT.match(text)
    if match is None:
        return None
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None
    if not isinstance(meta, dict) or str(meta.get("source") or "").strip().lower() != SOURCE:
        return None
    heading = _HEADING.search(text[match.end() :])
    title = str(meta.get("title") or (heading.group(1).strip() if heading else "") or Path(rel_path).stem)
    return Entry(rel_path, title, str(meta.get("author") or "").strip(), _date(meta.get("date")))


async def with_answers(db, entries: list[Entry]) -> list[Entry]:
    """The entries with the owners' questions each answered since its date (since ever, undated)."""
    for entry in entries:
        since = entry.date or "0000-00-00"
        rows = await db.execute(ANSWERED, {"since": since, "path": entry.path})
        entry.answered = [dict(row) for row in rows.rows]
    return entries


def _date(value) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value or "").strip()[:10]
