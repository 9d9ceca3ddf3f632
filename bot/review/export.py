"""Streaming exports of turns as CSV or JSON lines.

Owners write the questions and comments: a cell starting with `=`, `+`, `-`, `@` (or a tab
or carriage return) would run as a formula when an admin opens the CSV in a spreadsheet, so
such cells get the usual `'` prefix (OWASP's advice for CSV injection).
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from typing import TextIO

from bot.storage import TurnRecord

COLUMNS = [
    "id",
    "created_at",
    "user_id",
    "conversation_id",
    "question",
    "standalone_question",
    "answer",
    "covered",
    "mode",
    "model",
    "best_score",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "error",
    "delivered",
    "truncated",
    "cancelled",
    "profile",
    "follow_ups",
    "answered_by",
    "input_kind",
    "flagged_gap",
    "feedback",
    "comments",
    "sources",
]


async def write_turns(turns: AsyncIterator[TurnRecord], out: TextIO, fmt: str) -> int:
    """Write each turn as it arrives; returns how many were written."""
    count = 0
    writer = csv.DictWriter(out, fieldnames=COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    async for turn in turns:
        row = turn.to_dict()
        if writer is not None:
            for key in ("comments", "sources", "profile", "follow_ups"):
                row[key] = json.dumps(row[key], ensure_ascii=False) if row[key] is not None else ""
            writer.writerow({key: inert(value) for key, value in row.items()})
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
