"""What every command shares: settings from the command line, one-line errors, --json output,
the transcript database, and the options several commands take."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot.config import Settings, SettingsError, load_settings

log = logging.getLogger("bot")

EXIT_SKIPPED = 1
EXIT_USAGE = 2


# Libraries whose INFO lines drown ours; apscheduler logs every run of the index check (every
# few seconds), when only a switch to a new index version is worth a line.
NOISY_LOGGERS = (
    "httpx",
    "chromadb",
    "sentence_transformers",
    "transformers",
    "urllib3",
    "alembic",
    "aiosqlite",
    "apscheduler",
    "bm25s",  # a DEBUG line per index build, at any level
)


def setup_logging(level: str) -> None:
    """Logs go to stderr, so stdout stays clean for answers and JSON."""
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in NOISY_LOGGERS:
        logger = logging.getLogger(noisy)
        logger.setLevel(max(logging.WARNING, logging.getLogger().level))
        if _quiet not in logger.filters:
            logger.addFilter(_quiet)


def _quiet(record: logging.LogRecord) -> bool:
    """Below WARNING, a noisy library says nothing, whatever level it gives itself: bm25s sets
    its logger to DEBUG when it is imported, which happens after this (the start-up ingest's
    "DEBUG bm25s: Building index from tokens")."""
    return record.levelno >= logging.WARNING


def settings_from(ctx: click.Context, **overrides: object) -> Settings:
    """Settings with command-line overrides applied; a bad value is one line and exit code 2."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = load_settings(**clean)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(EXIT_USAGE)
    setup_logging(settings.log_level)
    return settings


def fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class Commands(click.Group):
    """The command group; a command that meets an index it cannot search (embedded with other
    models than EMBEDDING_BACKEND gives: `bot.index.provenance`) or an exported model it cannot
    load ends with that one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from bot.index.onnx_model import ModelFileError
            from bot.index.provenance import IndexMismatchError

            if isinstance(exc, IndexMismatchError | ModelFileError):
                fail(str(exc))
            raise


# What JSON leaves raw outside ASCII but a terminal obeys: C1 controls (CSI starts an escape
# sequence) and bidi overrides. Only strings can hold them, so escaping them keeps valid JSON.
_UNSAFE_IN_JSON = re.compile(r"[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_line(data) -> str:
    """`data` as one line of JSON, readable in any script (non-ASCII as is) and safe on a terminal."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(data, ensure_ascii=False))


def show(as_json: bool, data, for_people: Callable[[], None]) -> None:
    """`--json`: the data as one line of JSON, for scripts; otherwise `for_people()` prints it."""
    if as_json:
        click.echo(json_line(data))
    else:
        for_people()


async def open_storage(settings: Settings):
    from bot.storage import Storage, StorageError

    try:
        return await Storage.open(settings.database)
    except StorageError as exc:
        fail(str(exc))


def with_storage(settings: Settings, work):
    """Run `work(storage)` on an open transcript database, closing it afterwards."""

    async def run():
        storage = await open_storage(settings)
        try:
            return await work(storage)
        finally:
            await storage.close()

    return asyncio.run(run())



knowledge_dir_option = click.option(
    "--knowledge-dir", type=click.Path(path_type=Path), help="Folder of knowledge files [default: KNOWLEDGE_DIR]."
)
index_dir_option = click.option(
    "--index-dir", type=click.Path(path_type=Path), help="Folder of the Chroma index [default: INDEX_DIR]."
)

profile_option = click.option(
    "--profile",
    "profile_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A fact about the business, repeatable: business_name, industry, staff, region, stage, goals.",
)


def turn_filters(command):
    """The filters shared by `transcripts list`, `transcripts export`, `stats` and `gaps`."""
    options = [
        click.option("--user", help="Only this owner (tg:<telegram id> or local:<name>)."),
        click.option("--since", metavar="DATE", help="From this date or time (UTC), e.g. 2026-11-01."),
        click.option("--until", metavar="DATE", help="Up to and including this date (UTC)."),
        click.option("--feedback", type=click.Choice(["up", "down"]), help="Only turns rated 👍 or 👎."),
        click.option("--mode", type=click.Choice(["offline", "llm"]), help="Only offline or only LLM answers."),
        click.option("--search", metavar="TEXT", help="Only turns whose question or answer contains TEXT."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_filter(user, since, until, feedback, mode, search):
    from bot.review.stats import parse_when
    from bot.storage import TurnFilter

    try:
        return TurnFilter(user, parse_when(since), parse_when(until, end=True), feedback, mode, search)
    except ValueError as exc:
        fail(f"--since/--until need a date like 2026-11-01 or 2026-11-01T14:00 ({exc})")

