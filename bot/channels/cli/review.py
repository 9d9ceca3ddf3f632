"""Commands for admins: `transcripts`, `stats`, `gaps`, `coverage`, `suggest`, `forget`, `prune` and `review`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from bot.channels.cli.common import (
    fail,
    json_line,
    log,
    make_filter,
    settings_from,
    show,
    turn_filters,
    with_storage,
)


@click.group("transcripts")
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
    from bot.channels.cli.tables import print_turns

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
    from bot.channels.cli.tables import print_turn

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
        # owner-only, like the database it comes from
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.chmod(output, 0o600)  # also when the file existed with looser permissions
        with open(descriptor, "w", newline="", encoding="utf-8") as handle:
            return await write_turns(storage.stream_turns(filters), handle, fmt)

    count = with_storage(settings, export)
    log.info("exported %d turns", count)


@click.command("stats")
@turn_filters
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def stats_command(ctx, user, since, until, feedback, mode, search, as_json) -> None:
    """Usage: turns, owners, active owners per day, feedback ratio, offline/LLM share, latency, topics."""
    from bot.channels.cli.tables import print_stats
    from bot.review.stats import compute_stats

    settings = settings_from(ctx)
    filters = make_filter(user, since, until, feedback, mode, search)
    stats = with_storage(settings, lambda storage: compute_stats(storage, filters))
    show(as_json, stats.to_dict(), lambda: print_stats(stats))


@click.command("gaps")
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
    from bot.channels.cli.tables import print_gaps
    from bot.index.retriever import make_retriever
    from bot.review.gaps import find_gaps, gaps_markdown

    settings = settings_from(ctx)
    filters = make_filter(user, since, until, feedback, mode, search)
    retriever = make_retriever(settings)
    themes = with_storage(settings, lambda storage: find_gaps(storage, retriever, settings.min_score, filters))
    fmt = "json" if as_json else fmt
    if fmt == "json":
        click.echo(json_line([t.to_dict() for t in themes]))
    elif fmt == "markdown":
        click.echo(gaps_markdown(themes, settings.min_score))
    else:
        print_gaps(themes)


@click.command("coverage")
@click.option(
    "--days", type=click.IntRange(min=1), default=30, show_default=True, help="Look at the turns of the last N days."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def coverage_command(ctx, days, as_json) -> None:
    """Which knowledge files earn their keep, and which gaps the index now covers.

    For every file in the knowledge index: how many answers of the last N days
    cited it, how many of those owners rated 👍 and 👎, and how many questions
    retrieve it today: the owner questions of those days (not small talk,
    consultants' replies, hand-overs or cancelled ones) and the eval questions
    (every *.yaml in the knowledge dir's eval/ folder, off-topic ones left out).
    A file is retrieved for a question when one of its passages is among the
    TOP_K best and scores at least MIN_SCORE. Files no question retrieves are
    marked "never retrieved": rewrite them in owners' words, or retire them.

    Then each knowledge-gap theme of those days (as `gaps` groups them), with
    its closest file and how many of its questions the current index now
    covers (best score at least MIN_SCORE): after a consultant ingests a file
    written for a gap, the gap shows as covered.

    \b
    Examples:
      python -m bot coverage
      python -m bot coverage --days 90 --json > coverage.json
    """
    from bot.channels.cli.tables import print_coverage
    from bot.index.retriever import make_retriever
    from bot.review.coverage import CoverageError, compute_coverage

    settings = settings_from(ctx)
    retriever = make_retriever(settings)

    async def measure(storage):
        try:
            return await compute_coverage(storage, retriever, settings, days)
        except CoverageError as exc:
            fail(str(exc))

    report = with_storage(settings, measure)
    show(as_json, report.to_dict(), lambda: print_coverage(report))


@click.command("suggest")
@click.option(
    "--days", type=click.IntRange(min=1), default=30, show_default=True, help="Look at the turns of the last N days."
)
@click.option("--limit", type=click.IntRange(min=1), help="Show only the first N suggestions.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def suggest_command(ctx, days, limit, as_json) -> None:
    """What to write, rewrite, merge, review or retire next, ranked by owners affected.

    \b
    Five kinds of suggestion:
      not covered     questions of the last N days the knowledge did not answer
                      (grouped by meaning, as `gaps` does): write an entry
      thumbs down     answers rated 👎 with a comment, by the section they led
                      with: read the comments, rewrite the section
      near-duplicate  sections in different files that compete for the same
                      questions: merge them
      review due      files whose front matter review_by date has passed
      unreached       files no owner's answer cited in 90 days: retire or
                      retitle them (no owner is affected, so they come last)

    Owners affected are distinct owners: who asked, who rated, or whose answers
    cited the section or file in the last N days.

    \b
    Examples:
      python -m bot suggest
      python -m bot suggest --days 7 --limit 5
      python -m bot suggest --json > suggestions.json
    """
    from bot.channels.cli.tables import print_suggestions
    from bot.index.retriever import make_retriever
    from bot.review.coverage import CoverageError
    from bot.review.suggestions import compute_suggestions, knowledge_files

    settings = settings_from(ctx)
    retriever = make_retriever(settings)
    try:
        knowledge_files(retriever)  # before a transcript database is made in an empty data folder
    except CoverageError as exc:
        fail(str(exc))

    async def suggest(storage):
        try:
            return await compute_suggestions(storage, retriever, settings, days)
        except CoverageError as exc:
            fail(str(exc))

    report = with_storage(settings, suggest)
    if limit is not None:
        report.suggestions = report.suggestions[:limit]
    show(as_json, report.to_dict(), lambda: print_suggestions(report))


@click.command("forget")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def forget_command(ctx, user, yes) -> None:
    """Delete everything stored about USER (tg:<id> or local:<name>): turns, feedback, profile,
    documents.

    An admin's allow/block decision for the user is kept.
    """
    settings = settings_from(ctx)
    if not yes:
        click.confirm(f"Delete all turns, feedback and the profile of {user}?", abort=True, err=True)

    async def erase(storage):
        documents = len(await storage.document_ids(user))
        return await storage.forget(user), documents

    counts, documents = with_storage(settings, erase)
    click.echo(f"Deleted {counts['turns']} turns and {counts['feedback']} feedback entries of {user}.")
    if documents:
        click.echo(f"Deleted {documents} documents of {user}; {_passages_gone(settings, user)}")


@click.command("prune")
@click.option("--days", type=click.IntRange(min=1), help="Keep this many days [default: RETENTION_DAYS].")
@click.pass_context
def prune_command(ctx, days) -> None:
    """Delete turns older than the retention period, with their feedback, and owners' documents."""
    settings = settings_from(ctx)
    days = days or settings.retention_days
    if days is None:
        fail("no retention period: pass --days N or set RETENTION_DAYS")

    async def prune(storage):
        old = await storage.documents_older_than(days)
        for document in old:
            await storage.delete_document(document.user_id, document.id)
        return await storage.prune(days), old

    deleted, documents = with_storage(settings, prune)
    click.echo(f"Deleted {deleted} turns older than {days} days.")
    if documents:
        gone = [_passages_gone(settings, d.user_id, d.id) for d in documents][-1]
        click.echo(f"Deleted {len(documents)} owners' documents older than {days} days; {gone}")


def _passages_gone(settings, owner: str, document: int | None = None) -> str:
    """Owners' document passages: deleted here on a Chroma server; a local store (one writer at a
    time) is left to the bot, which sweeps passages without a document row at start and daily.
    They are never searched meanwhile: searches name the documents the database lists."""
    if not settings.chroma_url:
        return "their passages leave DATA_DIR/owner_documents at the bot's next start or daily sweep."
    from bot.index.owner_documents import OwnerDocuments
    from bot.index.spaces import make_embeddings

    OwnerDocuments(settings, make_embeddings(settings)).delete(owner, document)
    return "their passages are deleted too."


@click.command("review")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
@click.option(
    "--gaps/--no-gaps",
    default=True,
    show_default=True,
    help="Group the last 30 days' knowledge gaps for the dashboard first (loads the embedding model).",
)
@click.pass_context
def review_command(ctx, host, port, gaps) -> None:
    """Browse transcripts in a web browser (Datasette, read-only).

    Full-text search on questions and answers, plus canned queries: latest
    conversations, thumbs-down answers with their sources, knowledge gaps, and
    one owner's history. Nobody reads it anonymously: with REVIEW_PASSWORD
    every request needs it (user `admin`, HTTP basic auth); without one it
    listens on loopback only and prints a one-time login link to open.
    Requests naming another host than the one listened on are refused.

    More canned queries list this week's 👎 comments and not-covered questions,
    the open hand-overs and the slowest answers. Each turn links to its
    conversation, shown as a chat (/-/conversation/ID), and /-/dashboard charts
    questions, 👍/👎, not-covered answers, latency and the knowledge-gap themes,
    which are grouped here before Datasette starts. /-/consultant-entries lists
    the answers consultants published and the questions each answered since.
    Owners appear by name; times to the minute in REVIEW_TIME_ZONE (else the
    first admin's own time zone, else UTC).
    """

    from bot.review.datasette import ReviewError, check_request, prepare
    from bot.review.gap_store import GAP_DAYS, refresh_gaps
    from bot.review.gaps import WEAK_MARGIN
    from bot.review.people import review_zone
    from bot.storage import sqlite_path

    settings = settings_from(ctx)
    database = sqlite_path(settings.database)
    if database is None:
        fail("review works on the SQLite transcript database; DATABASE_URL points elsewhere")
    password = settings.review_password.get_secret_value() if settings.review_password else None
    with_storage(settings, lambda storage: asyncio.sleep(0))  # create and migrate the database first
    try:
        check_request(database, host, password)
    except ReviewError as exc:
        fail(str(exc))
    note = with_storage(settings, lambda storage: refresh_gaps(settings, storage, GAP_DAYS, skip=not gaps))
    log.info("review dashboard: %s", note)
    zone = with_storage(
        settings, lambda storage: review_zone(settings.review_time_zone, settings.admin_user_ids, storage.timezone)
    )
    try:
        command, env = prepare(
            database,
            settings.data_dir,
            host,
            port,
            password,
            settings.min_score + WEAK_MARGIN,
            time_zone=zone,
            knowledge_dir=settings.knowledge_dir.resolve(),
        )
    except ReviewError as exc:
        fail(str(exc))
    if password:
        log.info("review: http://%s:%d/ (user admin, the REVIEW_PASSWORD; Ctrl-C to stop)", host, port)
    else:
        log.info("review on %s:%d: open the one-time login link printed below (Ctrl-C to stop)", host, port)
    os.execve(command[0], command, {**os.environ, **env})
