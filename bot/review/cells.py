"""Which review columns read better rendered, and how: Datasette asks for every cell of a table
or query (`datasette_plugins/readable_cells.py`), and gets None where its plain text is best.

Columns go by name, so the canned queries get the same treatment as the tables: a
conversation or turn number links to the conversation view, sources become a list, answers
Markdown, ratings 👍/👎, and any long text folds away behind its first lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from markupsafe import Markup

from bot.review.render import FOLD_AFTER, folded_markdown, folded_text, parse_sources, ratings_html, sources_html

CONVERSATION_COLUMNS = ("conversation_id", "conversation")
TURN_COLUMNS = ("turn", "turn_id")


def readable_cell(
    column: str, value, row, table: str | None, *, path: Callable[[str], str], transcripts: str
) -> Markup | None:
    """The cell's HTML, or None to leave it to Datasette. `path` makes an instance-relative URL;
    `transcripts` is the transcript database's name there."""
    if isinstance(value, dict):  # a foreign key Datasette expanded with its label
        value = value.get("value")
    if value is None or isinstance(value, bytes):
        return None
    if column in CONVERSATION_COLUMNS and isinstance(value, int):
        return conversation_link(value, turn_of(row, table), path)
    if column in TURN_COLUMNS and isinstance(value, int):
        return Markup('<a class="chat-link" href="{}" title="Open in its conversation">💬 {}</a>').format(
            path(f"/-/turn/{value}"), value
        )
    if column == "sources" and (sources := parse_sources(value)) is not None:
        return sources_html(sources)
    if column == "turn_ids" and (ids := _int_list(value)) is not None:
        return Markup('<a href="{}">{:,} questions</a>').format(turns_link(ids, path, transcripts), len(ids))
    if not isinstance(value, str):
        return None
    if column == "answer":
        return folded_markdown(value)
    if column in ("rating", "feedback"):
        return ratings_html(value)
    return folded_text(value) if len(value) > FOLD_AFTER else None


def conversation_link(conversation_id: int, turn_id: int | None, path: Callable[[str], str]) -> Markup:
    href = path(f"/-/conversation/{conversation_id}") + (f"#turn-{turn_id}" if turn_id else "")
    return Markup('<a class="chat-link" href="{}" title="Open the conversation">💬 {}</a>').format(
        href, conversation_id
    )


def turns_link(turn_ids: list[int], path: Callable[[str], str], database: str) -> str:
    """The turns table filtered to these turns (Datasette's `id__in` filter)."""
    return path(f"/{database}/turns?id__in={','.join(map(str, turn_ids))}")


def turn_of(row, table: str | None) -> int | None:
    """The turn a row is about, for the conversation link's anchor: a `turns` row's own id, or a
    row's `turn`/`turn_id` column (a query, the handovers table)."""
    keys = row.keys() if hasattr(row, "keys") else ()
    candidates = ("id",) if table == "turns" else TURN_COLUMNS
    for key in candidates:
        if key in keys and isinstance(row[key], int):
            return row[key]
    return None


def _int_list(value) -> list[int] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return value
    return None
