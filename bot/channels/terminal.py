"""The terminal channel: `ask` prints one answer, `chat` holds a conversation.

When stdin is not a terminal, `chat` reads one question per line until EOF, so
a conversation can be scripted (`printf '/new\\nq1\\nq2\\n' | python -m bot chat`; /new
starts it fresh, else it continues the conversation of earlier runs).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from bot.advisor import Answer
from bot.advisor.blocks import plain
from bot.advisor.smalltalk import EXAMPLE_QUESTIONS
from bot.channels.dialogue import Dialogue, Reply
from bot.locales import texts

QUIT_WORDS = {"quit", "exit", "bye", ":q"}
HELP = (
    "Ask a question about your business, one per line. Commands: /new starts a new conversation "
    "(earlier questions are no longer used to understand the next ones); quit leaves. The "
    "conversation is remembered between runs until /new."
)


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_QUOTE = re.compile(r"^\s{0,3}>\s?")
_ITEM = re.compile(r"^(\s*)[-*+]\s+")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def plain_markdown(text: str) -> str:
    """Markdown as plain text, for a pipe or a file: no **, _, `, # or > marks, list items as
    "•" lines, a link as its text with the address after it."""
    lines = []
    for line in text.splitlines():
        line = _ITEM.sub(r"\1• ", _QUOTE.sub("", _HEADING.sub("", line)))
        lines.append(plain(_LINK.sub(r"\1 (\2)", line)))
    return "\n".join(lines)


def rich_markdown(text: str, width: int | None = None) -> str:
    """Markdown as a terminal shows it (bold as bold, lists with bullets), via Rich, as text
    with the terminal's escape sequences."""
    import io
    import shutil

    from rich.console import Console
    from rich.markdown import Markdown

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=width or shutil.get_terminal_size().columns)
    console.print(Markdown(text))
    return out.getvalue().rstrip("\n")


def render_answer(answer: Answer, terminal: bool = False) -> str:
    """An answer as text: the text (rendered Markdown on a `terminal`, plain text without
    Markdown marks otherwise), its numbered sources, mode and time."""
    show = rich_markdown if terminal else plain_markdown
    lines = [show(part) for part in [*answer.notes, answer.text]]
    if answer.sources:
        lines += ["", "Sources:"]
        for s in answer.cited_sources():
            section = s.heading.split(" > ")[-1] if s.heading and s.heading != s.title else ""
            label = f"{s.title} › {section}" if section else s.title
            lines.append(f"  [{s.label}] {label} ({s.path}, match {s.score:.2f})")
    if answer.follow_ups:
        lines += ["", "You could ask:" if answer.covered else "The closest I can answer:"]
        lines += [f"  - {question}" for question in answer.follow_ups]
    if answer.mode == "smalltalk":
        return "\n".join([*lines, "", "(small talk)"])
    total = answer.timings_ms.get("total", 0.0)
    mode = f"llm answer, {answer.model}" if answer.mode == "llm" else "offline answer"
    if answer.error:
        mode += f"; the LLM failed: {answer.error}"
    took = f"{total:.0f} ms" if total < 1000 else f"{total / 1000:.1f} s"  # a warm offline answer: tens of ms
    lines += ["", f"({mode}, {took})"]
    return "\n".join(lines)


def read_line(stdin: TextIO) -> str:
    """The next line the owner types, or "" at the end of input. Ctrl-C stops the wait: asyncio's
    own Ctrl-C handler only cancels the chat's task, which a read blocked on the terminal never
    notices (the read is retried), so a first Ctrl-C did nothing until Enter."""
    if threading.current_thread() is not threading.main_thread():
        return stdin.readline()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return stdin.readline()
    finally:
        signal.signal(signal.SIGINT, previous)


async def chat_loop(
    dialogue: Dialogue,
    user_id: str,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    render: Callable[[Reply], str] | None = None,
) -> int:
    """Answer questions until EOF or a quit word; returns how many were answered. `render`
    writes each turn instead of the text for people (e.g. one line of JSON), and no prompts.

    The conversation is stored like a Telegram chat's (chat id `terminal:<user>`), so its
    memory survives a restart and admins can review it; `/new` starts another (a scripted chat
    that should not lean on earlier runs begins with it), `/help` says so. A command is never
    sent to the advisor as a question; with `render`, its reply is a JSON line too.
    """
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout  # looked up now: callers may redirect them
    chat_id = "terminal:" + user_id.split(":", 1)[-1]
    interactive = stdin.isatty() and render is None
    terminal = stdout.isatty() and render is None  # Markdown rendered by Rich; plain text in a pipe or file
    if interactive:
        stdout.write(
            "SME Advisor — ask about growth, credit, strategy or trade. "
            "Type /new for a new conversation, 'quit' to leave.\n\n"
        )
    answered = 0
    while True:
        if interactive:
            stdout.write("You: ")
            stdout.flush()
        line = read_line(stdin)
        if not line:
            break
        question = line.strip()
        if not question:
            continue
        if question.lower() in QUIT_WORDS:
            break
        if question.startswith("/"):  # a command, never a question for the advisor
            said = await _command(dialogue, user_id, chat_id, question)
            shown = json.dumps({"command": question, "text": said}, ensure_ascii=False) if render else said + "\n"
            stdout.write(shown + "\n")
            stdout.flush()
            continue
        reply = await dialogue.small_talk(user_id, chat_id, question) or await dialogue.ask(user_id, chat_id, question)
        if render is not None:
            stdout.write(render(reply) + "\n")
            stdout.flush()
            await dialogue.delivered(reply.turn_id, True)
            answered += 1
            continue
        prefix = "\nAdvisor:\n" if interactive else f"> {question}\n"
        _ = texts(reply.language)  # a greeting's examples in the greeting's language ("hola": Spanish)
        examples = [f"  - {_(q)}" for q in EXAMPLE_QUESTIONS] if reply.examples else []
        shown = "\n".join(
            [render_answer(reply.answer, terminal), *(["", _("Try one of these:"), *examples] if examples else [])]
        )
        stdout.write(prefix + shown + "\n\n")
        stdout.flush()
        await dialogue.delivered(reply.turn_id, True)
        answered += 1
    return answered


async def _command(dialogue: Dialogue, user_id: str, chat_id: str, command: str) -> str:
    """What a terminal command does, said in one line: /new, /help; anything else is explained."""
    name = command.split()[0].lower()
    if name == "/new":
        await dialogue.storage.new_conversation(chat_id, user_id)
        return "Started a new conversation: earlier questions are no longer used."
    if name in {"/help", "/start"}:
        return HELP
    return f"{command.split()[0]} is not a command here. {HELP}"


def local_user_id() -> str:
    """The terminal chat's owner: the operating-system user name."""
    import getpass

    try:
        return "local:" + getpass.getuser()
    except (KeyError, OSError):
        return "local:owner"
