"""Knowledge-gap themes for the review dashboard, computed before Datasette starts.

Grouping questions by meaning needs the embedding model and the knowledge index, which
the Datasette process has neither of (nor should it load a model per page view). So
`python -m bot review` computes the themes of the last days once, here, and writes them to
a small SQLite file beside Datasette's metadata (`DATA_DIR/review/knowledge_gaps.db`),
which Datasette serves read-only like the transcripts. No index, no gaps, or a failure:
the file says why in `report.note`, and the dashboard shows that instead of a chart.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
from pathlib import Path

from bot.config import Settings
from bot.index.retriever import Retriever, make_retriever
from bot.index.versions import live_folder
from bot.review.dashboard import DAYS
from bot.review.datasette import GAPS_FILE
from bot.review.gaps import Theme, find_gaps
from bot.storage import Storage, TurnFilter

log = logging.getLogger(__name__)

GAP_DAYS = DAYS  # the themes of the dashboard's default window
SCHEMA = """
create table report (computed_at text, since text, note text);
create table themes (
  rank integer primary key, theme text, asked integer, reasons text, examples text,
  closest_file text, closest_score real, turn_ids text
);
"""


def gaps_path(data_dir: Path) -> Path:
    return data_dir / "review" / GAPS_FILE


async def refresh_gaps(settings: Settings, storage: Storage, days: int, skip: bool = False) -> str:
    """Compute the themes of the last `days` days and store them; returns a line for the log."""
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days)
    themes: list[Theme] = []
    if skip:
        note = "Knowledge gaps were not computed (`python -m bot review --no-gaps`)."
    elif (retriever := open_retriever(settings)) is None:
        note = "No knowledge index yet, so no gap themes: run `python -m bot ingest`, then restart the review."
    else:
        try:
            themes = await find_gaps(storage, retriever, settings.min_score, TurnFilter(since=since))
            note = None if themes else f"No knowledge gaps in the last {days} days."
        except Exception:
            log.exception("could not compute the knowledge gaps for the dashboard")
            note = "Computing the knowledge gaps failed; the review's log says why."
    write_gaps(gaps_path(settings.data_dir), themes, since, note)
    return note or f"{len(themes)} knowledge-gap themes in the last {days} days"


def open_retriever(settings: Settings) -> Retriever | None:
    """The retriever on the live index, or None when there is no index to open."""
    if not settings.chroma_url and not (live_folder(settings.index_path) / "chroma.sqlite3").exists():
        return None
    try:  # a fixed index_dir: no reloader thread for a one-off computation
        return make_retriever(settings, None if settings.chroma_url else settings.index_path)
    except Exception:
        log.exception("could not open the knowledge index for the gap themes")
        return None


def write_gaps(path: Path, themes: list[Theme], since: dt.datetime, note: str | None) -> None:
    """Replace the gaps file at once (a running review keeps reading the old one until it
    reopens), owner-only like the transcripts its questions come from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with sqlite3.connect(partial) as conn:
        conn.executescript(SCHEMA)
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        conn.execute("insert into report values (?, ?, ?)", (now, since.strftime("%Y-%m-%d"), note))
        conn.executemany("insert into themes values (?, ?, ?, ?, ?, ?, ?, ?)", _rows(themes))
    conn.close()
    os.replace(partial, path)


def _rows(themes: list[Theme]) -> list[tuple]:
    return [
        (
            rank,
            theme.label,
            theme.count,
            ", ".join(f"{reason}: {count}" for reason, count in sorted(theme.reasons.items())),
            "\n".join(theme.examples),
            theme.closest_file,
            round(theme.closest_score, 3),
            json.dumps(theme.turn_ids),
        )
        for rank, theme in enumerate(themes, start=1)
    ]
