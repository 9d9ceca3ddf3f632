"""The questions suggested under an answer: the next questions the knowledge base answers (under
a covered answer), or the closest ones (under a declined one), in the owner's language where
it can be had.

The knowledge's questions are its headings, in the knowledge's language. For an owner who speaks
another, a chat model translates them with its answer, in the same call (`to_translate`, then
`translated`); without one, a way of asking a section's question that a consultant wrote in the
owner's language (its `Asked:` block) is shown; otherwise the heading as written. Whichever is
shown, a tap is answered in the language of the answer it was under (`Advisor.stream`'s
`answer_in`).
"""

from __future__ import annotations

from bot.advisor.answer import Answer, follow_ups
from bot.advisor.lookup import Found
from bot.index.language import detect_language
from bot.index.retriever import Retriever
from bot.index.sections import Section
from bot.locales import IN_ENGLISH, supported

# A declined question whose lead is at least this likely right is offered the closest questions;
# below it, the closest sections are noise. On the tuning set (2026-12-07, 112 files) 70% of
# off-topic questions fall below 0.25, and 5–9% of the covered questions that are declined.
SUGGEST_MIN_CONFIDENCE = 0.25
TRANSLATED_CANDIDATES = 4  # next questions a model translates with its answer (two are shown)
QUESTION_MARKS = ("?", "？", "؟")


def closest_questions(found: Found, language: str) -> list[str]:
    """The questions of the sections that came closest to a declined question, when the lead
    came close enough to be worth a tap (SUGGEST_MIN_CONFIDENCE: an off-topic question's
    closest sections are noise)."""
    if found.judgement.confidence < SUGGEST_MIN_CONFIDENCE:
        return []
    return in_language([match.section for match, _ in found.judgement.ranked], language, {})


def next_questions(
    found: Found, answer: Answer, retriever: Retriever, language: str, translated: dict[str, str]
) -> list[str]:
    """Up to two next questions the knowledge base answers: the question-headings of the files
    the lead points to, then of the sections that came next (not those it cited)."""
    cited = {(source.path, source.heading) for source in answer.sources}
    candidates = [retriever.first_question(path) for path in answer.references]
    ranked = [match.section for match, _ in found.judgement.ranked[1:]]
    candidates += [section for section in ranked if (section.path, section.heading) not in cited]
    return in_language([s for s in candidates if s is not None], language, translated)


def to_translate(found: Found, language: str, knowledge_language: str) -> tuple[list[str], str]:
    """The next questions a model's answer may be followed by (TRANSLATED_CANDIDATES of them:
    which it cites is known only after), for it to translate with the answer, and the language
    to (an English name); none for an owner in the knowledge's language."""
    if language == knowledge_language:
        return [], ""
    headings = [match.section.own_heading for match, _ in found.judgement.ranked[1:]]
    return follow_ups(headings, TRANSLATED_CANDIDATES), IN_ENGLISH[language]


def in_language(sections: list[Section], language: str, translated: dict[str, str]) -> list[str]:
    """Up to two of the `sections`' questions (`answer.follow_ups`), each in `language`: as the
    model `translated` it, or as a consultant wrote it in that language (`asked_in`), else as
    its heading is written."""
    questions = follow_ups([section.own_heading for section in sections])
    first: dict[str, Section] = {}
    for section in sections:
        first.setdefault(section.own_heading, section)
    return [translated.get(q) or asked_in(first[q], language) or q for q in questions]


def asked_in(section: Section, language: str) -> str | None:
    """A way of asking the section's question (its `Asked:` block) in `language`: a consultant's
    translation of the heading ("Как получить кредит без залога?")."""
    if language == section.language:
        return None
    for way in section.asked:
        if way.rstrip().endswith(QUESTION_MARKS) and supported(detect_language(way)) == language:
            return way
    return None
