"""The `sme-advisor` command (also `python -m bot`): everything a consultant or admin runs.

Each command is a thin layer over the package: it reads settings, builds the
parts with their factory functions, and turns failures into one clear line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
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
    for noisy in ("httpx", "chromadb", "sentence_transformers", "transformers", "urllib3"):
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
    if as_json:
        click.echo(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        click.echo(render_answer(answer))


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
    _terminal_chat(settings, parse_profile(profile_pairs))


@cli.command("run")
@click.pass_context
def run_command(ctx) -> None:
    """Start the product: the Telegram bot when TELEGRAM_BOT_TOKEN is set, else the terminal chat.

    The knowledge index is brought up to date before the first question.
    """
    settings = settings_from(ctx)
    if settings.telegram_bot_token is not None:
        fail("the Telegram bot is not built yet; unset TELEGRAM_BOT_TOKEN to use the terminal chat")
    log.info("starting the terminal chat (no TELEGRAM_BOT_TOKEN set)")
    _terminal_chat(settings, parse_profile(()))


def _terminal_chat(settings: Settings, profile) -> None:
    from bot.ingest_runner import run_ingest
    from bot.terminal import chat_loop

    advisor = build_advisor(settings)
    run_ingest(settings, quiet_when_unchanged=True)
    advisor.warm_up()
    asyncio.run(chat_loop(advisor, profile))


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
    from bot.review_output import print_eval_report

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
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print_eval_report(report)
    if min_recall is not None and report.recall_at(5) < min_recall:
        click.echo(f"recall@5 {report.recall_at(5):.3f} is below --min-recall {min_recall}", err=True)
        ctx.exit(EXIT_SKIPPED)


def main() -> None:
    cli(prog_name="sme-advisor")
