"""The answer-level eval: do the advisor's answers cite the right file, and first?

Retrieval can find the right section and an answer still lose it (quoting a neighbour, or
leading with a weaker passage). For each covered question of the eval set this composes the
offline answer (what every owner sees without an LLM) and checks its cited files: how often
the first cited one is expected, and how often an expected one is cited at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.advisor.pipeline import Advisor
from bot.index.evaluation import EvalQuestion


@dataclass
class AnswerOutcome:
    question: EvalQuestion
    cited_files: list[str]  # in order of first citation
    words: int

    @property
    def first_right(self) -> bool:
        return bool(self.cited_files) and self.cited_files[0] in self.question.files

    @property
    def cites_right(self) -> bool:
        return any(path in self.question.files for path in self.cited_files)


@dataclass
class AnswerEval:
    outcomes: list[AnswerOutcome] = field(default_factory=list)

    def share(self, predicate) -> float:
        return sum(1 for o in self.outcomes if predicate(o)) / len(self.outcomes) if self.outcomes else 0.0

    @property
    def first_cited_right(self) -> float:
        return self.share(lambda o: o.first_right)

    @property
    def cited_right(self) -> float:
        return self.share(lambda o: o.cites_right)

    @property
    def words_max(self) -> int:
        return max((o.words for o in self.outcomes), default=0)

    def misses(self) -> list[AnswerOutcome]:
        return [o for o in self.outcomes if not o.first_right]

    def to_dict(self) -> dict:
        return {
            "answer_first_cited_right": round(self.first_cited_right, 4),
            "answer_cites_right": round(self.cited_right, 4),
            "answer_words_max": self.words_max,
            "answer_misses": [
                {"question": o.question.question, "expected": list(o.question.files), "cited": o.cited_files}
                for o in self.misses()
            ],
        }


async def run_answer_eval(advisor: Advisor, questions: list[EvalQuestion]) -> AnswerEval:
    """The offline answer to each covered question, and the files it cites."""
    result = AnswerEval()
    for question in questions:
        if question.not_covered:
            continue
        answer = await advisor.offline_answer(question.question)
        cited: list[str] = []
        for source in sorted(answer.sources, key=lambda s: s.number):
            if source.path not in cited:
                cited.append(source.path)
        result.outcomes.append(AnswerOutcome(question, cited, len(answer.text.split())))
    return result
