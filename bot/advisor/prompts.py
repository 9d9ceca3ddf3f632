"""Prompt templates from `prompts/`, checked when the program starts.

Consultants edit the files; a template that cannot work (missing, unbalanced
braces, a required placeholder removed, an unknown one added) stops the start
with the file name and the problem, instead of failing on an owner's question. The
texts are checked without langchain; its templates are built the first time a model is asked
(at start when an LLM is configured), so offline mode never imports langchain_core's prompts
(~0.35 s and their tracing machinery). Below them, the helpers that fill them in: the conversation, and the passages
numbered as they are cited (`[1]` knowledge, `[D1]` the owner's own documents).
"""

from __future__ import annotations

import re
import string
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bot.advisor import texts
from bot.advisor.conversation import Exchange
from bot.index.retriever import Passage
from bot.locales import Translate

if TYPE_CHECKING:
    from langchain_core.prompts import ChatPromptTemplate, PromptTemplate

# file -> (required placeholders, optional placeholders)
TEMPLATES = {
    "system.md": (set(), set()),
    "answer.md": ({"passages", "question"}, {"profile", "documents", "language", "next_questions"}),
    "rewrite.md": ({"history", "question"}, {"language"}),
}


# The tags that fence untrusted text in the templates (<passages>…</passages> and so on).
FENCE_TAGS = ("passages", "documents", "question", "history", "message", "profile")
_FENCE = re.compile(r"<\s*(/?)\s*(" + "|".join(FENCE_TAGS) + r")\b\s*>?", re.IGNORECASE)


def defused(text: str) -> str:
    """Untrusted text (a question, a knowledge file, the conversation) with the fence tags
    neutralised: '</question>' in a question becomes '‹/question›', so it cannot close the
    fence and pose as instructions outside it."""
    return _FENCE.sub(lambda m: f"‹{m.group(1)}{m.group(2)}›", text)


class PromptError(Exception):
    """A prompt template file is missing or malformed."""


class Prompts:
    """The checked template texts; their langchain templates built on first use."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts

    @cached_property
    def answer(self) -> ChatPromptTemplate:
        """System + earlier conversation + the owner's message."""
        from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

        return ChatPromptTemplate.from_messages(
            [
                ("system", self.texts["system.md"]),
                MessagesPlaceholder("history", optional=True),
                ("human", self.texts["answer.md"]),
            ]
        )

    @cached_property
    def rewrite(self) -> PromptTemplate:
        from langchain_core.prompts import PromptTemplate

        return PromptTemplate.from_template(self.texts["rewrite.md"])


def load_prompts(folder: Path) -> Prompts:
    return Prompts({name: _read(folder / name) for name in TEMPLATES})


def template_variables(text: str) -> set[str]:
    """The placeholders of an f-string template, refused as langchain's `PromptTemplate` refuses
    them (unbalanced braces, `{a.b}`, `{a[0]}`, `{0}`, a nested `{a:{b}}`): a ValueError."""
    names = set()
    for _, name, spec, _ in string.Formatter().parse(text):
        if name is None:
            continue
        if "." in name or "[" in name or "]" in name or name.isdigit() or (spec and ("{" in spec or "}" in spec)):
            raise ValueError(f"invalid placeholder {{{name}}}")
        names.add(name)
    return names


def _read(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"prompt template {path} is missing (setting PROMPTS_DIR)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"prompt template {path} cannot be read: {exc}") from None
    if not text.strip():
        raise PromptError(f"prompt template {path} is empty")
    try:
        variables = template_variables(text)
    except (ValueError, KeyError, IndexError) as exc:
        hint = "write a literal brace as {{ or }}"
        raise PromptError(f"prompt template {path} is malformed: {exc} ({hint})") from None
    required, optional = TEMPLATES[path.name]
    if missing := required - variables:
        raise PromptError(f"prompt template {path} lacks the placeholder(s) {_braced(missing)}")
    if unknown := variables - required - optional:
        allowed = _braced(required | optional) or "none"
        raise PromptError(f"prompt template {path} has unknown placeholder(s) {_braced(unknown)}; allowed: {allowed}")
    return text


def _braced(names: set[str]) -> str:
    return ", ".join("{" + n + "}" for n in sorted(names))


# --------------------------------------------------------------------------- filling them in


def history_messages(history: list[Exchange]) -> list:
    from langchain_core.messages import AIMessage, HumanMessage

    messages: list = []
    for exchange in history:
        messages += [HumanMessage(exchange.question), AIMessage(exchange.answer)]
    return messages


def history_text(history: list[Exchange]) -> str:
    return "\n".join(f"Owner: {e.question}\nAdvisor: {e.answer}" for e in history)


QUESTION_LANGUAGE = "the language of the question"  # `{language}` of a typed question
NEXT_OPEN, NEXT_CLOSE = "<next>", "</next>"


def next_questions_text(questions: list[str], language: str) -> str:
    """`{next_questions}`: the knowledge's next questions to translate into the owner's `language`
    (an English name), after the answer, in a block the advisor takes out (`NextQuestions`); ""
    when there are none to translate."""
    if not questions:
        return ""
    numbered = "\n".join(f"{number}. {question}" for number, question in enumerate(questions, start=1))
    return (
        f"After your answer, write {NEXT_OPEN} on a line of its own, then each of these questions "
        f"translated into {language}, one per line, numbered as here, then {NEXT_CLOSE}. They are "
        f"shown to the owner as buttons to ask next:\n{numbered}"
    )


def labelled(passages: list[Passage]) -> dict[int | str, Passage]:
    """The prompt's passages by citation label: knowledge 1, 2…; the owner's documents "D1", "D2"…"""
    knowledge = [p for p in passages if not p.is_document]
    documents = [p for p in passages if p.is_document]
    return {n: p for n, p in enumerate(knowledge, start=1)} | {f"D{n}": p for n, p in enumerate(documents, start=1)}


def label_number(label: int | str) -> int:
    return label if isinstance(label, int) else int(label[1:])


def passages_text(numbered: list[tuple[int | str, Passage]], _: Translate = str) -> str:
    """The passages as the prompt shows them: `[1] Title › Section (path)` and the text; an
    owner's document as `[D1] Your document: Title, page 3` (its id stays out of the prompt)."""
    blocks = []
    for number, passage in numbered:
        if passage.is_document:
            label = texts.your_document(_, passage.title, passage.page)
            label = f"{label} › {passage.section}" if passage.section else label
            blocks.append(f"[{number}] {label}\n{passage.text}")
            continue
        label = f"{passage.title} › {passage.section}" if passage.section else passage.title
        blocks.append(f"[{number}] {label} ({passage.path})\n{passage.text}")
    return "\n\n".join(blocks)
