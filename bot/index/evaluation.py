"""The knowledge eval: does retrieval find the right file for owners' questions?

Consultants keep lists of questions in owners' words, each with the sections (file and
heading) that answer it, or marked as not covered (`knowledge/eval/questions.yaml`, the tuning
set, and `knowledge/eval/held-out.yaml`, which no tuning looks at). Files are ranked by their
best chunk, so recall@k asks "is a right file among the first k distinct files found"; what an
owner sees, the section an answer leads with, is measured by `bot.advisor.evaluation`.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import yaml

from bot.index.retriever import Retriever

SEARCH_DEPTH = 30  # chunks fetched per question, enough to rank ~10 distinct files


class EvalSetError(Exception):
    """The eval file is missing or malformed; the message says where."""


@dataclass(frozen=True)
class EvalQuestion:
    """One eval question: the sections that answer it (`path#heading`; or only the files, in an
    older set), or `not_covered` (`near_miss`: it shares words with the knowledge, not an answer).
    `after`: the questions asked before it in the same conversation (a follow-up)."""

    question: str
    files: tuple[str, ...] = ()
    not_covered: bool = False
    sections: tuple[str, ...] = ()
    near_miss: bool = False
    after: tuple[str, ...] = ()


@dataclass
class Outcome:
    question: EvalQuestion
    ranked_files: list[str]
    best_score: float
    seconds: float

    @property
    def rank(self) -> int | None:
        """1-based rank of the first right file, or None when none was found."""
        for position, path in enumerate(self.ranked_files, start=1):
            if path in self.question.files:
                return position
        return None


@dataclass
class EvalReport:
    outcomes: list[Outcome] = field(default_factory=list)
    min_score: float = 0.0

    @property
    def covered(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.question.not_covered]

    @property
    def uncovered(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.question.not_covered]

    def recall_at(self, k: int) -> float:
        found = [o for o in self.covered if o.rank is not None and o.rank <= k]
        return len(found) / len(self.covered) if self.covered else 0.0

    @property
    def mrr(self) -> float:
        ranks = [1 / o.rank if o.rank else 0.0 for o in self.covered]
        return statistics.fmean(ranks) if ranks else 0.0

    @property
    def not_covered_accuracy(self) -> float:
        """Share of deliberately off-topic questions the advisor would decline."""
        right = [o for o in self.uncovered if o.best_score < self.min_score]
        return len(right) / len(self.uncovered) if self.uncovered else 1.0

    @property
    def false_not_covered(self) -> float:
        """Share of on-topic questions the advisor would wrongly decline."""
        wrong = [o for o in self.covered if o.best_score < self.min_score]
        return len(wrong) / len(self.covered) if self.covered else 0.0

    def latency_ms(self, quantile: float) -> float:
        return percentile([o.seconds * 1000 for o in self.outcomes], quantile)

    def misses(self, k: int = 5) -> list[Outcome]:
        return [o for o in self.covered if o.rank is None or o.rank > k]

    def suggested_min_score(self) -> float:
        """The threshold that best separates covered from not-covered questions on this set."""
        scores = sorted({o.best_score for o in self.outcomes})
        if not self.uncovered or not self.covered:
            return self.min_score
        candidates = [round((a + b) / 2, 3) for a, b in pairwise(scores)]

        def balanced(threshold: float) -> float:
            declined = sum(o.best_score < threshold for o in self.uncovered) / len(self.uncovered)
            answered = sum(o.best_score >= threshold for o in self.covered) / len(self.covered)
            return declined + answered

        return max(candidates, key=lambda t: (balanced(t), -abs(t - self.min_score)))

    def to_dict(self) -> dict:
        return {
            "questions": len(self.outcomes),
            "covered_questions": len(self.covered),
            "not_covered_questions": len(self.uncovered),
            "recall_at_1": round(self.recall_at(1), 4),
            "recall_at_5": round(self.recall_at(5), 4),
            "mrr": round(self.mrr, 4),
            "not_covered_accuracy": round(self.not_covered_accuracy, 4),
            "false_not_covered": round(self.false_not_covered, 4),
            "min_score": self.min_score,
            "suggested_min_score": self.suggested_min_score(),
            "latency_ms_p50": round(self.latency_ms(0.5), 1),
            "latency_ms_p95": round(self.latency_ms(0.95), 1),
            "misses": [
                {
                    "question": o.question.question,
                    "expected": list(o.question.files),
                    "got": o.ranked_files[:3],
                    "rank": o.rank,
                }
                for o in self.misses()
            ],
        }


def percentile(values: list[float], q: float) -> float:
    """The value below which a share `q` of `values` falls (nearest rank), rounded to 0.1."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)


def load_eval_set(path: Path) -> list[EvalQuestion]:
    """Read and check an eval YAML file: a list of entries, each a `question` with `sections`
    (a list of `path#heading`) or `files` (a list of paths), or `expect: not_covered` (and
    optionally `near_miss: true`); `after` (a list of earlier questions) makes it a follow-up."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalSetError(f"eval file not found: {path}") from None
    except yaml.YAMLError as exc:  # PyYAML says it in several lines: the problem and where, in one
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise EvalSetError(f"{path} is not valid YAML: {problem}{where}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"{path} cannot be read: {exc}") from None
    if not isinstance(data, list) or not data:
        raise EvalSetError(f"{path} must be a non-empty list of questions")
    return [_entry(item, f"{path}, entry {number}") for number, item in enumerate(data, start=1)]


def _entry(item, where: str) -> EvalQuestion:
    if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not item["question"].strip():
        raise EvalSetError(f"{where}: needs a 'question' text")
    after = _texts(item.get("after", []), f"{where}: 'after' must be a list of earlier questions")
    question = item["question"].strip()
    if item.get("expect") == "not_covered":
        if item.get("sections") or item.get("files"):
            raise EvalSetError(f"{where}: a not-covered question names no sections (it has 'sections' or 'files')")
        return EvalQuestion(question, not_covered=True, near_miss=bool(item.get("near_miss")), after=after)
    if "expect" in item:
        raise EvalSetError(f"{where}: 'expect' can only be 'not_covered'")
    sections = _texts(item.get("sections", []), f"{where}: 'sections' must be a list of 'path#heading'")
    if any("#" not in section for section in sections):
        raise EvalSetError(f"{where}: a section is named 'path#heading' (file, '#', its heading)")
    files = _texts(item.get("files", []), f"{where}: 'files' must be a list of paths")
    files = tuple(dict.fromkeys([*files, *(section.split("#", 1)[0] for section in sections)]))
    if not files:
        raise EvalSetError(f"{where}: needs 'sections' (a list of 'path#heading') or 'expect: not_covered'")
    return EvalQuestion(question, files, sections=sections, after=after)


def _texts(value, problem: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise EvalSetError(problem)
    return tuple(v.strip() for v in value)


def run_eval(retriever: Retriever, questions: list[EvalQuestion], min_score: float) -> EvalReport:
    """File-level retrieval of each question asked on its own (follow-ups are left to the
    answer eval: alone they mean nothing)."""
    report = EvalReport(min_score=min_score)
    for question in questions:
        if question.after:
            continue
        started = time.perf_counter()
        passages = retriever.retrieve(question.question, SEARCH_DEPTH)
        elapsed = time.perf_counter() - started
        ranked: list[str] = []
        for passage in passages:
            if passage.path not in ranked:
                ranked.append(passage.path)
        best = passages[0].score if passages else 0.0
        report.outcomes.append(Outcome(question, ranked, best, elapsed))
    return report


def unknown_files(questions: list[EvalQuestion], indexed: set[str]) -> list[str]:
    """Expected files that are not in the index: a typo in the eval set, or a file not ingested."""
    return sorted({f for q in questions for f in q.files if f not in indexed})


def unknown_sections(questions: list[EvalQuestion], known: set[str]) -> list[str]:
    """Expected sections (`path#heading`) the index does not have: a heading renamed, or a typo."""
    return sorted({s for q in questions for s in q.sections if s not in known})
