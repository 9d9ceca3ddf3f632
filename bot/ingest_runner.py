"""Ingest as a consultant runs it: a lock, a progress bar, and a summary table."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot import index_versions
from bot.config import Settings
from bot.index import make_embedder, make_index
from bot.ingestion import Plan, Report, ingest_configured
from bot.review.tables import make_console

log = logging.getLogger(__name__)


@contextlib.contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """One ingest at a time per index: Chroma's local mode is not safe across processes."""
    folder = settings.data_dir if settings.chroma_url else settings.index_path
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".ingest.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another ingest is running on %s; waiting for it to finish", folder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def run_ingest(
    settings: Settings,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    quiet_when_unchanged: bool = False,
    console: Console | None = None,
) -> Report:
    """Ingest with progress on stderr and a summary table; Ctrl-C leaves a consistent index."""
    console = console or make_console(stderr=True)
    index = make_index(settings)
    embedder = make_embedder(settings)
    progress = Progress(
        TextColumn("Embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = None

    def on_plan(plan: Plan, chunks: int) -> None:
        nonlocal task
        if chunks and not dry_run:
            log.info("embedding %d chunks from %d files", chunks, len(plan.contents))
            task = progress.add_task("embed", total=chunks)

    def on_progress(done: int) -> None:
        if task is not None:
            progress.advance(task, done)

    try:
        with ingest_lock(settings), progress:
            if settings.chroma_url or dry_run or not _needs_writing(settings, index, embedder, rebuild):
                options = {"rebuild": rebuild, "dry_run": dry_run, "on_plan": on_plan, "on_progress": on_progress}
                report = ingest_configured(settings, index, embedder, **options)
            else:
                report = _ingest_next_version(settings, embedder, rebuild, on_plan, on_progress)
    except KeyboardInterrupt:
        console.print("Interrupted. The index is consistent; run ingest again to finish.")
        sys.exit(130)
    except FileNotFoundError as exc:
        console.print(f"error: {exc}")
        sys.exit(2)
    changed = report.added or report.updated or report.removed or report.skipped
    if changed or not quiet_when_unchanged:
        console.print(summary_table(report, settings.knowledge_dir))
    return report


def _needs_writing(settings: Settings, index, embedder, rebuild: bool) -> bool:
    """Whether this ingest changes the index (planning reads and hashes files, embeds nothing)."""
    from bot.ingestion import Recipe, plan

    if rebuild:
        return True
    recipe = Recipe.from_settings(settings, embedder).key
    return plan(settings.knowledge_dir, index, settings.max_file_bytes, recipe).changes  # incomplete files count


def _ingest_next_version(settings: Settings, embedder, rebuild: bool, on_plan, on_progress) -> Report:
    """Build the next index version beside the live one, then publish it (bot/index_versions.py):
    a running bot keeps answering from the live version and switches when this is done."""
    root = settings.index_path
    number, folder = index_versions.prepare_next(root, empty=rebuild)
    index = make_index(settings, folder)
    try:
        report = ingest_configured(settings, index, embedder, rebuild=rebuild, on_plan=on_plan, on_progress=on_progress)
        files, chunks = len(index.file_states()), index.count()
    finally:
        index.close()
    manifest = index_versions.publish(root, number, files, chunks)
    log.info("index version %d is live: %d files, %d chunks", manifest.version, files, chunks)
    return report


def summary_table(report: Report, knowledge_dir: Path) -> Table:
    title = "Ingest (dry run: nothing written)" if report.dry_run else "Ingest"
    table = Table(title=f"{title} — {knowledge_dir}", show_header=True)
    for column in ("added", "updated", "removed", "unchanged", "skipped", "chunks", "seconds", "chunks/s"):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.added),
        str(report.updated),
        str(report.removed),
        str(report.unchanged),
        str(len(report.skipped)),
        str(report.chunks_written),
        f"{report.seconds:.1f}",
        f"{report.chunks_per_second:.1f}",
    )
    if report.skipped:
        table.caption = "Skipped files:\n" + "\n".join(f"  {s.path}: {s.reason}" for s in report.skipped)
        table.caption_justify = "left"
    return table
