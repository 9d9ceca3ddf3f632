"""The ingest `run` and `chat` do before they answer: in a child process when there is
something to embed, and on a big first start in two stages (`ingest_at_start`)."""

from __future__ import annotations

import sys

import click

from bot.channels.cli.common import log
from bot.channels.cli.knowledge import ingest_with_progress
from bot.config import Settings


def ingest_at_start(settings: Settings, early: bool = False) -> IngestBehind | None:
    """The ingest `run` and `chat` do before answering. If it fails, for whatever reason, the
    advisor answers from the last good index, and one log line says so.

    When there is something to embed (a first start, changed files), the ingest runs in a child
    process: embedding in batches leaves the process ~0.6 GB bigger than serving needs (the
    models' buffers, the allocator's arenas), which a serving bot would keep for its lifetime.
    Nothing to embed: it runs here, loading no model and no progress bar (Rich stays out of the
    serving process).

    `early`: answer as soon as the first embedding space is built, when a first start has a lot
    to embed (`bot.knowledge.runner.first_stage`): the other spaces are then built by a child
    behind the bot, returned so the caller stops it when the bot stops (the next start builds
    them again, from the cached vectors)."""
    from bot.knowledge.runner import first_stage, will_write

    try:
        if settings.chroma_url:
            ingest_with_progress(settings, quiet_when_unchanged=True)
        elif not will_write(settings):
            _ingest_unchanged(settings)
        elif early and (first := first_stage(settings)) is not None:
            if will_write(first):
                _ingest_in_child(first)
            return IngestBehind(settings)
        else:
            _ingest_in_child(settings)
    except SystemExit as exc:
        if exc.code == 130:  # Ctrl-C: the owner wants out
            raise
        log.error("the knowledge index was not brought up to date (see above); answering from the last good index")
    except Exception as exc:
        log.error(
            "the knowledge index was not brought up to date (%s: %s); answering from the last good index",
            type(exc).__name__,
            exc,
        )
    return None


class IngestBehind:
    """A start-up ingest's second stage: the whole EMBEDDING_BACKEND (e5's space, for questions in
    other languages) built by a child process at low priority while the bot answers from the
    first stage's version; the bot's reloader switches to the new version once it is published."""

    def __init__(self, settings: Settings) -> None:
        import multiprocessing

        log.info("answering English questions now; the index for questions in other languages is built behind the bot")
        self.child = multiprocessing.get_context("spawn").Process(
            target=_ingest_behind, args=(settings,), name="ingest-behind", daemon=True
        )
        self.child.start()

    def stop(self) -> None:
        """Stop the child, if still at work: a few seconds to finish a batch, then killed, which an
        ingest survives (only a complete version is published)."""
        _stop_child(self.child)


def _ingest_behind(settings: Settings) -> None:
    import os

    from bot.channels.cli.common import setup_logging
    from bot.channels.cli.progress import how_long, plan_seconds
    from bot.knowledge.runner import run_ingest

    def on_plan(plan, chunks: int) -> None:
        seconds = plan_seconds(settings, chunks, cached=settings.embedding_backend.split("+")[:1])
        log.info("building the index for questions in other languages: %d passages, %s", chunks, how_long(seconds))

    setup_logging(settings.log_level)
    os.nice(10)  # the bot's answers first: embedding waits for a free core
    try:
        report = run_ingest(settings, on_plan=on_plan)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        what = f"{type(exc).__name__}: {exc}"
        log.error("the other languages' index was not built (%s); the next start tries again", what)
        sys.exit(1)
    if report.changed:
        log.info(
            "the index now answers questions in every language (%d passages in %.0f s)",
            report.chunks_written,
            report.seconds,
        )


def _ingest_unchanged(settings: Settings) -> None:
    """The start-up ingest with nothing to embed, as `ingest_with_progress` does it quietly but
    without its progress bar: a summary table (and Rich) only when a file was skipped."""
    from bot.knowledge.ingest import IndexShrinkError
    from bot.knowledge.runner import run_ingest

    try:
        report = run_ingest(settings)
    except KeyboardInterrupt:
        click.echo("Interrupted. The index is consistent; run ingest again to finish.", err=True)
        sys.exit(130)
    except (FileNotFoundError, IndexShrinkError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if report.added or report.updated or report.removed or report.skipped:
        from bot.channels.cli.tables import make_console, summary_table

        make_console(stderr=True).print(summary_table(report, settings.knowledge_dir))


STOP_GRACE = 3.0  # seconds the start-up ingest's child has to stop on Ctrl-C before it is killed


def _ingest_in_child(settings: Settings) -> None:
    """`ingest_with_progress` in a fresh process (its progress bar and table on the same stderr);
    its exit code comes back as SystemExit."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=_child_ingest, args=(settings,), name="ingest")
    try:
        child.start()  # inside: Ctrl-C while it starts must stop the child too, or exit waits for it
        child.join()
    except KeyboardInterrupt:  # Ctrl-C in a terminal reaches both; a signal to this process alone is passed on
        if child.pid is None:  # it never started
            raise SystemExit(130) from None
        child.join(1)
        _stop_child(child)
        raise SystemExit(130) from None
    if child.exitcode:
        raise SystemExit(130 if child.exitcode == -2 else child.exitcode)


def _stop_child(child) -> None:
    """Ctrl-C to an ingest's child, then STOP_GRACE seconds to stop before it is killed."""
    import os
    import signal

    if child.is_alive():
        os.kill(child.pid, signal.SIGINT)
        child.join(STOP_GRACE)
    if child.is_alive():
        # inside an embedding call, which looks at no signal until its batch is done (a minute
        # with e5): stopped at once instead, which an ingest survives (the live index switches
        # only to a complete version, and the lock is the kernel's)
        child.kill()
    child.join()


def _child_ingest(settings: Settings) -> None:
    from bot.channels.cli.common import setup_logging

    setup_logging(settings.log_level)
    try:
        ingest_with_progress(settings, quiet_when_unchanged=True)
    except Exception as exc:
        log.error("ingest failed: %s: %s", type(exc).__name__, exc)
        sys.exit(1)
