"""The answer eval: what an owner sees, judged at section level.

An owner judges the advisor by the section its answer leads with. For each eval question this
composes the offline answer (what every owner sees without an LLM; a follow-up after the
answers to the questions before it, in one conversation) and sorts it into one of four:

- `lead_right`: covered, and it leads with a section that answers (one of the question's
  `sections`; for a question labelled only with files, a section of one of them),
- `honest_not_covered`: a question the knowledge base does not answer, declined,
- `wrongly_declined`: a question it answers, declined (honest, but a miss),
- `confidently_wrong`: covered, leading with something that does not answer.

`right_or_honest` is the first two together; the four add up to 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.advisor.answer import Answer
from bot.advisor.conversation import Exchange
from bot.advisor.pipeline import Advisor
from bot.index.evaluation import EvalQuestion

OUTCOMES = ("lead_right", "honest_not_covered", "wrongly_declined", "confidently_wrong")


@dataclass
class AnswerOutcome:
    question: EvalQuestion
    covered: bool
    lead: str | None  # the section the answer leads with (`path#heading`), None when it quotes none
    cited_files: list[str]  # in order of first citation
    words: int
    confidence: float = 0.0
    offered: tuple[str, ...] = ()  # the questions offered to tap next (the closest ones, when declined)

    @property
    def offers_an_answer(self) -> bool:
        """Declined, but one of the questions it offers is an answering section's."""
        headings = {section.split("#", 1)[1] for section in self.question.sections}
        return not self.covered and any(question in headings for question in self.offered)

    @property
    def kind(self) -> str:
        if self.question.not_covered:
            return "confidently_wrong" if self.covered else "honest_not_covered"
        if not self.covered:
            return "wrongly_declined"
        return "lead_right" if self.lead_answers else "confidently_wrong"

    @property
    def lead_answers(self) -> bool:
        if self.lead is None:
            return False
        if self.question.sections:
            return self.lead in self.question.sections
        return self.lead.split("#", 1)[0] in self.question.files

    @property
    def first_right(self) -> bool:
        return bool(self.cited_files) and self.cited_files[0] in self.question.files

    @property
    def cites_right(self) -> bool:
        return any(path in self.question.files for path in self.cited_files)


@dataclass
class AnswerEval:
    outcomes: list[AnswerOutcome] = field(default_factory=list)

    def share(self, predicate, outcomes: list[AnswerOutcome] | None = None) -> float:
        chosen = self.outcomes if outcomes is None else outcomes
        return sum(1 for o in chosen if predicate(o)) / len(chosen) if chosen else 0.0

    def rate(self, kind: str, outcomes: list[AnswerOutcome] | None = None) -> float:
        return self.share(lambda o: o.kind == kind, outcomes)

    @property
    def answered(self) -> list[AnswerOutcome]:
        return [o for o in self.outcomes if not o.question.not_covered]

    @property
    def first_cited_right(self) -> float:
        return self.share(lambda o: o.first_right, self.answered)

    @property
    def cited_right(self) -> float:
        return self.share(lambda o: o.cites_right, self.answered)

    @property
    def words_max(self) -> int:
        return max((o.words for o in self.outcomes if o.covered), default=0)

    def misses(self) -> list[AnswerOutcome]:
        return [o for o in self.outcomes if o.kind in ("confidently_wrong", "wrongly_declined")]

    def to_dict(self) -> dict:
        near = [o for o in self.outcomes if o.question.near_miss]
        follow = [o for o in self.outcomes if o.question.after]
        rates = {kind: round(self.rate(kind), 4) for kind in OUTCOMES}
        return {
            "answered_questions": len(self.outcomes),
            **rates,
            "right_or_honest": round(rates["lead_right"] + rates["honest_not_covered"], 4),
            "declined_offering_an_answer": round(
                self.share(lambda o: o.offers_an_answer, [o for o in self.outcomes if o.kind == "wrongly_declined"]), 4
            ),
            "near_miss_questions": len(near),
            "near_miss_declined": round(self.rate("honest_not_covered", near), 4),
            "follow_up_questions": len(follow),
            "follow_up_right_or_honest": round(
                self.share(lambda o: o.kind in ("lead_right", "honest_not_covered"), follow), 4
            ),
            "answer_first_cited_right": round(self.first_cited_right, 4),
            "answer_cites_right": round(self.cited_right, 4),
            "answer_words_max": self.words_max,
            "answer_misses": [
                {
                    "question": o.question.question,
                    **({"after": list(o.question.after)} if o.question.after else {}),
                    "outcome": o.kind,
                    "expected": list(o.question.sections or o.question.files) or "not covered",
                    "lead": o.lead,
                    "confidence": o.confidence,
                }
                for o in self.misses()
            ],
        }


async def run_answer_eval(advisor: Advisor, questions: list[EvalQuestion]) -> AnswerEval:
    """The offline answer to each question (a follow-up in the conversation of the questions
    before it), sorted into the four outcomes."""
    result = AnswerEval()
    earlier: dict[tuple[str, ...], list[Exchange]] = {}
    for question in questions:
        history = await _conversation(advisor, question.after, earlier)
        answer = await advisor.offline_answer(question.question, conversation=history)
        result.outcomes.append(outcome_of(question, answer))
    return result


def outcome_of(question: EvalQuestion, answer: Answer) -> AnswerOutcome:
    cited: list[str] = []
    for source in answer.cited_sources():
        if source.path not in cited:
            cited.append(source.path)
    lead = answer.lead
    key = f"{lead.path}#{lead.heading.split(' > ')[-1]}" if lead is not None else None
    offered = tuple(answer.follow_ups)
    return AnswerOutcome(question, answer.covered, key, cited, len(answer.text.split()), answer.confidence, offered)


async def _conversation(
    advisor: Advisor, asked: tuple[str, ...], earlier: dict[tuple[str, ...], list[Exchange]]
) -> list[Exchange]:
    """The exchanges of the questions asked before (each answered in turn, once per eval run)."""
    history: list[Exchange] = []
    for number in range(len(asked)):
        key = asked[: number + 1]
        if key not in earlier:
            answer = await advisor.offline_answer(asked[number], conversation=history)
            earlier[key] = [*history, exchange_of(answer)]
        history = earlier[key]
    return history


def exchange_of(answer: Answer) -> Exchange:
    """An answer as the conversation remembers it, with the sections it cited."""
    sections = tuple(f"{s.path}#{s.heading.split(' > ')[-1]}" for s in answer.sources if s.kind == "knowledge")
    return Exchange(answer.question, answer.text, answer.standalone_question, sections)
