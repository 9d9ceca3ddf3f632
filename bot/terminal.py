"""The terminal channel: `ask` prints one answer, `chat` holds a conversation.

When stdin is not a terminal, `chat` reads one question per line until EOF, so
a conversation can be scripted (`printf 'q1\\nq2\\n' | python -m bot chat`).
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.advisor import Advisor, Answer
from bot.conversation import Exchange, Profile

QUIT_WORDS = {"quit", "exit", "bye", ":q"}


def render_answer(answer: Answer) -> str:
    """An answer as plain text: the text, its numbered sources, mode and time."""
    lines = [*answer.notes, answer.text] if answer.notes else [answer.text]
    if answer.sources:
        lines += ["", "Sources:"]
        for s in answer.sources:
            section = s.heading.split(" > ")[-1] if s.heading and s.heading != s.title else ""
            label = f"{s.title} › {section}" if section else s.title
            lines.append(f"  [{s.number}] {label} ({s.path}, match {s.score:.2f})")
    total = answer.timings_ms.get("total", 0.0)
    mode = f"llm answer, {answer.model}" if answer.mode == "llm" else "offline answer"
    if answer.error:
        mode += f"; the LLM failed: {answer.error}"
    lines += ["", f"({mode}, {total / 1000:.1f} s)"]
    return "\n".join(lines)


async def chat_loop(
    advisor: Advisor,
    profile: Profile | None = None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> int:
    """Answer questions until EOF or a quit word, remembering the conversation; returns how many."""
    history: list[Exchange] = []
    interactive = stdin.isatty()
    if interactive:
        stdout.write("SME Advisor — ask about growth, credit, strategy or trade. Type 'quit' to leave.\n\n")
    answered = 0
    while True:
        if interactive:
            stdout.write("You: ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        question = line.strip()
        if not question:
            continue
        if question.lower() in QUIT_WORDS:
            break
        answer = await advisor.answer(question, history, profile)
        history.append(Exchange(question, answer.text, answer.standalone_question))
        prefix = "\nAdvisor:\n" if interactive else f"> {question}\n"
        stdout.write(prefix + render_answer(answer) + "\n\n")
        stdout.flush()
        answered += 1
    return answered
