"""The `sme-advisor` command (also `python -m bot`): everything a consultant or admin runs.

Each command is a thin layer over the package: it reads settings, builds the
parts with their factory functions, and turns failures into one clear line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot.config import Settings, SettingsError, load_settings

log = logging.getLogger("bot")

EXIT_SKIPPED = 1
EXIT_USAGE = 2


def setup_logging(level: str) -> None:
    """Logs go to stderr, so stdout stays clean for answers and JSON."""
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "chromadb", "sentence_transformers", "transformers", "urllib3", "alembic", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """SME Advisor: grounded, cited advice for small-business owners.

    Answers come from the curated files in the knowledge dir (KNOWLEDGE_DIR,
    default ./knowledge), embedded into a local Chroma index by `ingest`.
    Settings are read from the environment and from ./.env; see .env.example.

    \b
    Typical session:
      python ingest.py                    # embed new and changed knowledge files
      python -m bot ask "How can I get credit without collateral?"
      python -m bot chat                  # a conversation in the terminal
    """


# --------------------------------------------------------------------------- ingest

knowledge_dir_option = click.option(
    "--knowledge-dir", type=click.Path(path_type=Path), help="Folder of knowledge files [default: KNOWLEDGE_DIR]."
)
index_dir_option = click.option(
    "--index-dir", type=click.Path(path_type=Path), help="Folder of the Chroma index [default: INDEX_DIR]."
)


@cli.command("ingest")
@knowledge_dir_option
@index_dir_option
@click.option("--rebuild", is_flag=True, help="Drop the whole index and embed every file again.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing, load no model.")
@click.pass_context
def ingest_command(ctx, knowledge_dir, index_dir, rebuild, dry_run) -> None:
    """Bring the index up to date with the knowledge dir.

    Only new and changed files are embedded; deleted files leave the index. A
    file that cannot be read (binary, empty, not UTF-8, too large, broken front
    matter, outside the knowledge dir) is reported and skipped, the others are
    ingested, and the exit code is 1 so a knowledge repo's CI notices.
    """
    from bot.ingest_runner import run_ingest

    settings = settings_from(ctx, knowledge_dir=knowledge_dir, index_dir=index_dir)
    report = run_ingest(settings, rebuild=rebuild, dry_run=dry_run)
    ctx.exit(EXIT_SKIPPED if report.skipped else 0)


@cli.command("export-onnx")
@click.option("--int8", is_flag=True, help="Also write a dynamically quantised int8 copy (model.int8.onnx).")
@click.option("--force", is_flag=True, help="Export again even if an export exists.")
@click.pass_context
def export_onnx_command(ctx, int8, force) -> None:
    """Export the embedding model to ONNX, for EMBEDDING_BACKEND=onnx.

    Made locally from the shipped weights (nothing is downloaded), into
    ONNX_MODEL_DIR (default: inside .venv). setup runs this once.
    """
    from bot.index import make_embedder
    from bot.onnx_model import ONNX_FILE, export

    settings = settings_from(ctx)
    embedder = make_embedder(settings)
    wanted = [ONNX_FILE, "model.int8.onnx"] if int8 else [ONNX_FILE]
    if all((embedder.onnx_dir / name).exists() for name in wanted) and not force:
        click.echo(f"ONNX export already at {embedder.onnx_dir}")
        return
    export(embedder.model_path, embedder.onnx_dir, quantize=int8)
    click.echo(f"exported to {embedder.onnx_dir}")


# --------------------------------------------------------------------------- answers


profile_option = click.option(
    "--profile",
    "profile_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A fact about the business, repeatable: business_name, industry, staff, region, stage, goals.",
)


@cli.command("ask")
@click.argument("question")
@index_dir_option
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.pass_context
def ask_command(ctx, question, index_dir, profile_pairs, as_json) -> None:
    """Answer one QUESTION from the knowledge base, with its sources.

    Prints the answer, the cited sources, the mode (llm or offline) and the time
    taken. With --json, stdout holds exactly one object: {"question", "answer",
    "covered", "mode", "sources": [{"path", "title", "heading", "score",
    "excerpt"}]}, sources best first.
    """
    from bot.terminal import render_answer

    settings = settings_from(ctx, index_dir=index_dir)
    profile = parse_profile(profile_pairs)
    advisor = build_advisor(settings)
    if advisor.retriever.index.count() == 0:
        fail("the knowledge index is empty; run `python ingest.py` first")
    answer = asyncio.run(advisor.answer(question, profile=profile))
    show(as_json, answer_json(answer), lambda: click.echo(render_answer(answer)))


def parse_profile(pairs: tuple[str, ...]):
    from bot.conversation import Profile, ProfileError

    try:
        return Profile().updated(pairs)
    except ProfileError as exc:
        fail(str(exc))


def build_advisor(settings: Settings):
    """The advisor, or one clear line when its chat model or prompts cannot work."""
    from bot.advisor import make_advisor
    from bot.llm import LLMConfigError
    from bot.prompts import PromptError

    try:
        return make_advisor(settings)
    except (LLMConfigError, PromptError) as exc:
        fail(str(exc))


def show(as_json: bool, data, for_people: Callable[[], None]) -> None:
    """`--json`: the data as one line of JSON, for scripts; otherwise `for_people()` prints it."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for_people()


def answer_json(answer) -> dict:
    return {
        "question": answer.question,
        "answer": answer.text,
        "covered": answer.covered,
        "mode": answer.mode,
        "sources": [
            {"path": s.path, "title": s.title, "heading": s.heading, "score": s.score, "excerpt": s.excerpt}
            for s in sorted(answer.sources, key=lambda s: -s.score)
        ],
    }


@cli.command("chat")
@index_dir_option
@profile_option
@click.pass_context
def chat_command(ctx, index_dir, profile_pairs) -> None:
    """Hold a conversation with the advisor in the terminal.

    The index is brought up to date first. When stdin is not a terminal, one
    question is read per line until end of input, so a chat can be scripted.
    """
    settings = settings_from(ctx, index_dir=index_dir)
    _terminal_chat(settings, profile_pairs)


@cli.command("run")
@click.pass_context
def run_command(ctx) -> None:
    """Start the product: the Telegram bot when TELEGRAM_BOT_TOKEN is set, else the terminal chat.

    The knowledge index is brought up to date first. The bot polls Telegram for
    updates, or receives them on a webhook when TELEGRAM_WEBHOOK_URL is set;
    SIGTERM or Ctrl-C stops it gracefully.
    """
    settings = settings_from(ctx)
    if settings.telegram_bot_token is None:
        log.info("starting the terminal chat (no TELEGRAM_BOT_TOKEN set)")
        _terminal_chat(settings, ())
        return
    from bot.ingest_runner import run_ingest
    from bot.telegram.app import TelegramStartError, run

    mode = "webhook" if settings.telegram_webhook_url else "polling"
    log.info("starting the Telegram bot (%s)", mode)
    build_advisor(settings)  # bad LLM settings or prompts fail here, in one line
    run_ingest(settings, quiet_when_unchanged=True)
    try:
        run(settings)
    except TelegramStartError as exc:
        fail(str(exc))


def _terminal_chat(settings: Settings, profile_pairs: tuple[str, ...]) -> None:
    from bot.ingest_runner import run_ingest

    parse_profile(profile_pairs)  # a bad --profile fails before anything starts
    advisor = build_advisor(settings)
    run_ingest(settings, quiet_when_unchanged=True)
    advisor.warm_up()
    asyncio.run(_chat(settings, advisor, profile_pairs))


async def _chat(settings: Settings, advisor, profile_pairs: tuple[str, ...]) -> None:
    from bot.dialogue import Dialogue
    from bot.terminal import chat_loop, local_user_id

    storage = await open_storage(settings)
    try:
        user_id = local_user_id()
        await storage.touch_user(user_id)
        if profile_pairs:
            await storage.set_profile(user_id, (await storage.profile(user_id)).updated(profile_pairs))
        await chat_loop(Dialogue(advisor, storage), user_id)
    finally:
        await storage.close()


async def open_storage(settings: Settings):
    from bot.storage import Storage, StorageError

    try:
        return await Storage.open(settings.database)
    except StorageError as exc:
        fail(str(exc))


@cli.command("eval")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@index_dir_option
@click.option("--min-recall", type=click.FloatRange(0, 1), help="Exit with code 1 if recall@5 is below this.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.pass_context
def eval_command(ctx, file, index_dir, min_recall, as_json) -> None:
    """Measure how well retrieval finds the right knowledge file.

    FILE defaults to eval/questions.yaml inside the knowledge dir. Prints
    recall@1, recall@5 and MRR over distinct files, how many off-topic
    questions would get the not-covered answer (at MIN_SCORE), retrieval
    latency, and the questions whose file was not in the top 5.
    """
    from bot.evaluation import EvalSetError, load_eval_set, run_eval, unknown_files
    from bot.retrieval import make_retriever
    from bot.review.tables import print_eval_report

    settings = settings_from(ctx, index_dir=index_dir)
    path = file or settings.knowledge_dir / "eval" / "questions.yaml"
    try:
        questions = load_eval_set(path)
    except EvalSetError as exc:
        fail(str(exc))
    retriever = make_retriever(settings)
    indexed = set(retriever.index.file_states())
    if not indexed:
        fail("the knowledge index is empty; run `python ingest.py` first")
    missing = unknown_files(questions, indexed)
    if missing:
        fail(f"the eval set expects files that are not in the index: {', '.join(missing)}")
    report = run_eval(retriever, questions, settings.min_score)
    show(as_json, report.to_dict(), lambda: print_eval_report(report))
    if min_recall is not None and report.recall_at(5) < min_recall:
        click.echo(f"recall@5 {report.recall_at(5):.3f} is below --min-recall {min_recall}", err=True)
        ctx.exit(EXIT_SKIPPED)


# --------------------------------------------------------------------------- admin review


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


def with_storage(settings: Settings, work):
    """Run `work(storage)` on an open transcript database, closing it afterwards."""

    async def run():
        storage = await open_storage(settings)
        try:
            return await work(storage)
        finally:
            await storage.close()

    return asyncio.run(run())


@cli.group("transcripts")
def transcripts_group() -> None:
    """Read what owners asked and what they were answered (the transcript database).

    The database is DATABASE_URL (default: a SQLite file in DATA_DIR). For a
    browser view with search, see `review`.
    """


@transcripts_group.command("list")
@turn_filters
@click.option("--limit", default=50, show_default=True, help="How many turns, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def transcripts_list(ctx, user, since, until, feedback, mode, search, limit, as_json) -> None:
    """List turns, newest first, with their mode, best retrieval score and feedback."""
    from bot.review.tables import print_turns

    settings = settings_from(ctx)
    filters = make_filter(user, since, until, feedback, mode, search)
    turns = with_storage(settings, lambda storage: storage.list_turns(filters, limit))
    show(as_json, [t.to_dict() for t in turns], lambda: print_turns(turns))


@transcripts_group.command("show")
@click.argument("turn_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def transcripts_show(ctx, turn_id, as_json) -> None:
    """Show one turn in full: question, answer, sources with scores, feedback, timing."""
    from bot.review.tables import print_turn

    settings = settings_from(ctx)
    turn = with_storage(settings, lambda storage: storage.get_turn(turn_id))
    if turn is None:
        fail(f"no turn with id {turn_id}")
    show(as_json, turn.to_dict(), lambda: print_turn(turn))


@transcripts_group.command("export")
@turn_filters
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write [default: stdout]."
)
@click.pass_context
def transcripts_export(ctx, user, since, until, feedback, mode, search, fmt, output) -> None:
    """Export turns, oldest first, as CSV or JSON lines.

    Rows are streamed from the database in batches, so a large export does not
    need memory for all of them.
    """
    from bot.review.export import write_turns

    settings = settings_from(ctx)
    filters = make_filter(user, since, until, feedback, mode, search)

    async def export(storage):
        if output is None:
            return await write_turns(storage.stream_turns(filters), sys.stdout, fmt)
        with open(output, "w", newline="", encoding="utf-8") as handle:
            return await write_turns(storage.stream_turns(filters), handle, fmt)

    count = with_storage(settings, export)
    log.info("exported %d turns", count)


@cli.command("stats")
@turn_filters
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def stats_command(ctx, user, since, until, feedback, mode, search, as_json) -> None:
    """Usage: turns, owners, active owners per day, feedback ratio, offline/LLM share, latency, topics."""
    from bot.review.stats import compute_stats
    from bot.review.tables import print_stats

    settings = settings_from(ctx)
    filters = make_filter(user, since, until, feedback, mode, search)
    stats = with_storage(settings, lambda storage: compute_stats(storage, filters))
    show(as_json, stats.to_dict(), lambda: print_stats(stats))


@cli.command("gaps")
@turn_filters
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_context
def gaps_command(ctx, user, since, until, feedback, mode, search, fmt, as_json) -> None:
    """What the knowledge base should cover next.

    Questions that got the not-covered answer, only a weak match, or a 👎 are
    grouped by meaning into themes, with how often each came up, examples and
    the closest existing knowledge file.
    """
    from bot.retrieval import make_retriever
    from bot.review.gaps import find_gaps, gaps_markdown
    from bot.review.tables import print_gaps

    settings = settings_from(ctx)
    filters = make_filter(user, since, until, feedback, mode, search)
    retriever = make_retriever(settings)
    themes = with_storage(settings, lambda storage: find_gaps(storage, retriever, settings.min_score, filters))
    fmt = "json" if as_json else fmt
    if fmt == "json":
        click.echo(json.dumps([t.to_dict() for t in themes], ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(gaps_markdown(themes, settings.min_score))
    else:
        print_gaps(themes)


@cli.command("forget")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def forget_command(ctx, user, yes) -> None:
    """Delete everything stored about USER (tg:<id> or local:<name>): turns, feedback, profile.

    An admin's allow/block decision for the user is kept.
    """
    settings = settings_from(ctx)
    if not yes:
        click.confirm(f"Delete all turns, feedback and the profile of {user}?", abort=True, err=True)
    counts = with_storage(settings, lambda storage: storage.forget(user))
    click.echo(f"Deleted {counts['turns']} turns and {counts['feedback']} feedback entries of {user}.")


@cli.command("prune")
@click.option("--days", type=click.IntRange(min=1), help="Keep this many days [default: RETENTION_DAYS].")
@click.pass_context
def prune_command(ctx, days) -> None:
    """Delete turns older than the retention period, with their feedback."""
    settings = settings_from(ctx)
    days = days or settings.retention_days
    if days is None:
        fail("no retention period: pass --days N or set RETENTION_DAYS")
    deleted = with_storage(settings, lambda storage: storage.prune(days))
    click.echo(f"Deleted {deleted} turns older than {days} days.")


@cli.command("review")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
@click.pass_context
def review_command(ctx, host, port) -> None:
    """Browse transcripts in a web browser (Datasette, read-only).

    Full-text search on questions and answers, plus canned queries: latest
    conversations, thumbs-down answers with their sources, knowledge gaps, and
    one owner's history. Listening on anything but loopback requires
    REVIEW_PASSWORD (user `admin`, HTTP basic auth).
    """
    import os

    from bot.review.datasette import ReviewError, prepare
    from bot.review.gaps import WEAK_MARGIN
    from bot.storage import sqlite_path

    settings = settings_from(ctx)
    database = sqlite_path(settings.database)
    if database is None:
        fail("review works on the SQLite transcript database; DATABASE_URL points elsewhere")
    password = settings.review_password.get_secret_value() if settings.review_password else None
    with_storage(settings, lambda storage: asyncio.sleep(0))  # create and migrate the database first
    try:
        command, env = prepare(database, settings.data_dir, host, port, password, settings.min_score + WEAK_MARGIN)
    except ReviewError as exc:
        fail(str(exc))
    log.info("review: http://%s:%d/ (Ctrl-C to stop)", host, port)
    os.execve(command[0], command, {**os.environ, **env})


def main() -> None:
    cli(prog_name="sme-advisor")
