"""Commands that answer owners: `ask` (one question), `chat` (the terminal) and `run` (the product)."""

from __future__ import annotations

import asyncio
import sys

import click

from bot.channels.cli.common import (
    fail,
    index_dir_option,
    json_line,
    log,
    open_storage,
    profile_option,
    settings_from,
    show,
)
from bot.channels.cli.start_up import ingest_at_start
from bot.config import Settings


@click.command("ask")
@click.argument("question")
@index_dir_option
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.pass_context
def ask_command(ctx, question, index_dir, profile_pairs, as_json) -> None:
    """Answer one QUESTION from the knowledge base, with its sources.

    Prints the answer, the cited sources, the mode (llm or offline) and the time
    taken. With --json, stdout holds exactly one object: {"question", "answer",
    "covered", "mode", "confidence", "lead": {"path", "heading", "title"} (the
    section the answer opens with; null when it quotes none), "sources":
    [{"label", "path", "title", "heading", "score", "excerpt"}] in the order the
    answer cites them, "follow_ups"}.
    """
    from bot.channels.terminal import render_answer

    settings = settings_from(ctx, index_dir=index_dir)
    profile = parse_profile(profile_pairs)
    advisor = build_advisor(settings)
    if advisor.retriever.index.count() == 0:
        fail("the knowledge index is empty; run `python ingest.py` first")
    answer = asyncio.run(advisor.answer(question, profile=profile))
    show(as_json, answer_json(answer), lambda: click.echo(render_answer(answer, sys.stdout.isatty())))


def parse_profile(pairs: tuple[str, ...]):
    from bot.advisor.conversation import Profile, ProfileError

    try:
        return Profile().updated(pairs)
    except ProfileError as exc:
        fail(str(exc))


def build_advisor(settings: Settings):
    """The advisor, or one clear line when its chat model or prompts cannot work."""
    from bot.advisor import make_advisor
    from bot.advisor.chat_model import LLMConfigError
    from bot.advisor.prompts import PromptError

    try:
        return make_advisor(settings)
    except (LLMConfigError, PromptError) as exc:
        fail(str(exc))


def answer_json(answer) -> dict:
    """An answer for scripts: what it says, whether it is covered, the section it leads with,
    and its sources in the order it cites them."""
    lead = answer.lead
    return {
        "question": answer.question,
        "answer": answer.text,
        "covered": answer.covered,
        "mode": answer.mode,
        "confidence": answer.confidence,
        "lead": None
        if lead is None
        else {"path": lead.path, "heading": lead.heading.split(" > ")[-1], "title": lead.title},
        "sources": [
            {
                "label": s.label,
                "path": s.path,
                "title": s.title,
                "heading": s.heading,
                "score": s.score,
                "excerpt": s.excerpt,
            }
            for s in answer.cited_sources()
        ],
        "follow_ups": answer.follow_ups,
    }


@click.command("chat")
@index_dir_option
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per turn (as `ask --json`).")
@click.pass_context
def chat_command(ctx, index_dir, profile_pairs, as_json) -> None:
    """Hold a conversation with the advisor in the terminal.

    The index is brought up to date first. When stdin is not a terminal, one
    question is read per line until end of input, so a chat can be scripted;
    with --json, each turn is printed as one line of JSON, so a script can
    follow the conversation (which section each answer leads with, and what it
    cites).
    """
    settings = settings_from(ctx, index_dir=index_dir)
    _terminal_chat(settings, profile_pairs, as_json)


@click.command("run")
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
    without_httpx_command_line()
    from bot.channels.telegram.app import TelegramStartError, run

    log.info("starting the Telegram bot (%s)", "webhook" if settings.telegram_webhook_url else "polling")
    advisor = build_advisor(settings)  # bad LLM settings or prompts fail here, in one line
    behind = ingest_at_start(settings, early=True)
    try:
        run(settings, advisor)  # the advisor just built, not a second one
    except TelegramStartError as exc:
        fail(str(exc))
    finally:
        if behind is not None:
            behind.stop()


def _terminal_chat(settings: Settings, profile_pairs: tuple[str, ...], as_json: bool = False) -> None:
    parse_profile(profile_pairs)  # a bad --profile fails before anything starts
    advisor = build_advisor(settings)
    behind = ingest_at_start(settings, early=True)
    try:
        advisor.retriever.check_index()  # embedded with other models, and not re-embedded: one line, no chat
        advisor.warm_up()
        asyncio.run(_chat(settings, advisor, profile_pairs, as_json))
    except KeyboardInterrupt:  # Ctrl-C while a line is awaited: the conversation so far is stored
        click.echo("", err=True)
        sys.exit(130)
    finally:
        if behind is not None:
            behind.stop()


async def _chat(settings: Settings, advisor, profile_pairs: tuple[str, ...], as_json: bool = False) -> None:
    from bot.channels.dialogue import Dialogue
    from bot.channels.terminal import chat_loop, local_user_id

    storage = await open_storage(settings)
    try:
        user_id = local_user_id()
        await storage.touch_user(user_id)
        if profile_pairs:
            await storage.set_profile(user_id, (await storage.profile(user_id)).updated(profile_pairs))
        render = (lambda reply: json_line(answer_json(reply.answer))) if as_json else None
        await chat_loop(Dialogue(advisor, storage), user_id, render=render)
    finally:
        await storage.close()


def without_httpx_command_line() -> None:
    """Keep httpx's own command line (`httpx._main`: click, Rich's tables and progress bars,
    pygments; ~40 ms and ~6 MB) out of the bot: httpx imports it only to offer `httpx` as a
    command, and falls back to a stub when it cannot. Call before python-telegram-bot is imported."""
    sys.modules.setdefault("httpx._main", None)
