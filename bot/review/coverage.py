"""Knowledge coverage: which knowledge files earn their keep, and which gaps the index now covers.

For each file in the live index: how many turns of the last N days cited it, how many of
those turns owners rated 👍 and 👎, and how many questions retrieve it today — the owner
questions of those days (as understood; not small talk, a consultant's reply, a hand-over
or a cancelled question) and the eval questions (every `*.yaml` in the knowledge dir's
`eval/`; the deliberately off-topic ones left out). A file counts as retrieved for a
question when one of its passages is among the TOP_K best and scores at least MIN_SCORE,
i.e. the advisor would answer from it. Files no question retrieves are worth rewriting or
retiring.

For each knowledge-gap theme of those days (`bot.review.gaps`): the closest file, and how
many of its questions the current index now covers (best score at least MIN_SCORE), e.g.
after a consultant ingested a file written for it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.index.evaluation import EvalQuestion, EvalSetError, load_eval_set
from bot.index.retriever import Passage, Retriever
from bot.review.datasette import CANNED_QUERIES
from bot.review.gaps import find_gaps
from bot.storage import Storage, TurnFilter, TurnRecord

DEFAULT_DAYS = 30
NOT_OWNER_QUESTIONS = ("smalltalk", "human", "handover")  # modes whose question is no knowledge question

# The citation and feedback part as SQL over the SQLite transcript database (last 30 days):
# Datasette's "file_coverage" canned query.
FILE_COVERAGE_SQL: str = CANNED_QUERIES["file_coverage"]["sql"]


class CoverageError(Exception):
    """Coverage cannot be computed (an empty index, a malformed eval file); the message says why."""


@dataclass
class FileUsage:
    """One indexed knowledge file: what it was cited for, and which questions retrieve it today."""

    path: str
    citations: int = 0  # turns of the period that cited it
    thumbs_up: int = 0  # of those, turns an owner rated 👍
    thumbs_down: int = 0  # ... and 👎 (a turn two owners rated both ways counts in both)
    owner_questions: int = 0  # owner questions of the period that retrieve it now
    eval_questions: int = 0  # eval questions that retrieve it now

    @property
    def never_retrieved(self) -> bool:
        return not (self.owner_questions or self.eval_questions)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "citations": self.citations,
            "thumbs_up": self.thumbs_up,
            "thumbs_down": self.thumbs_down,
            "owner_questions": self.owner_questions,
            "eval_questions": self.eval_questions,
            "never_retrieved": self.never_retrieved,
        }


@dataclass
class GapCoverage:
    """A knowledge-gap theme and how much of it the current index covers."""

    theme: str
    asked: int
    reasons: dict[str, int]
    closest_file: str | None
    closest_score: float
    covered: int  # of the theme's questions (one per turn), those whose best score is now ≥ MIN_SCORE
    answered_by: str | None  # the file that now comes first for most of the covered questions
    turn_ids: list[int] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.covered == 0:
            return "open"
        return "covered" if self.covered >= self.asked else "partly covered"

    def to_dict(self) -> dict:
        return {
            "theme": self.theme,
            "asked": self.asked,
            "reasons": self.reasons,
            "closest_file": self.closest_file,
            "closest_score": round(self.closest_score, 3),
            "covered": self.covered,
            "status": self.status,
            "answered_by": self.answered_by,
            "turn_ids": self.turn_ids,
        }


@dataclass
class CoverageReport:
    days: int
    since: dt.datetime
    min_score: float
    top_k: int
    owner_questions: int  # re-run on today's index
    eval_questions: int
    files: list[FileUsage]  # most cited first
    gaps: list[GapCoverage]  # most asked first

    @property
    def never_retrieved(self) -> list[str]:
        return sorted(f.path for f in self.files if f.never_retrieved)

    def to_dict(self) -> dict:
        return {
            "days": self.days,
            "since": self.since.isoformat(timespec="seconds"),
            "min_score": self.min_score,
            "top_k": self.top_k,
            "owner_questions": self.owner_questions,
            "eval_questions": self.eval_questions,
            "files": [f.to_dict() for f in self.files],
            "never_retrieved": self.never_retrieved,
            "gaps": [g.to_dict() for g in self.gaps],
        }


class _Searches:
    """Retrieval on today's index, once per distinct question text."""

    def __init__(self, retriever: Retriever, top_k: int, min_score: float) -> None:
        self.retriever, self.top_k, self.min_score = retriever, top_k, min_score
        self._found: dict[str, list[Passage]] = {}

    def passages(self, question: str) -> list[Passage]:
        if question not in self._found:
            self._found[question] = self.retriever.retrieve(question, self.top_k)
        return self._found[question]

    def files(self, question: str) -> set[str]:
        """The files the advisor would answer `question` from."""
        return {p.path for p in self.passages(question) if p.score >= self.min_score}

    def best(self, question: str) -> Passage | None:
        found = self.passages(question)
        return found[0] if found else None


def indexed_files(retriever: Retriever) -> list[str]:
    """The knowledge files in the live index (following a newly published version first)."""
    if retriever.reloader is not None:
        retriever.reloader.check_before_search()
    return sorted(retriever.index.file_states())


def eval_questions(knowledge_dir: Path) -> list[EvalQuestion]:
    """The questions of every eval file (`eval/*.yaml` in the knowledge dir), file by file."""
    folder = knowledge_dir / "eval"
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    try:
        return [question for path in paths for question in load_eval_set(path)]
    except EvalSetError as exc:
        raise CoverageError(str(exc)) from None


def owner_question(turn: TurnRecord) -> str | None:
    """The question as the advisor searched it, or None when the turn holds no knowledge question."""
    if turn.mode in NOT_OWNER_QUESTIONS or turn.cancelled:
        return None
    return (turn.standalone_question or turn.question).strip() or None


async def compute_coverage(
    storage: Storage, retriever: Retriever, settings: Settings, days: int = DEFAULT_DAYS
) -> CoverageReport:
    """The coverage report over the turns of the last `days` days (streamed) and today's index."""
    paths = indexed_files(retriever)
    if not paths:
        raise CoverageError("the knowledge index is empty; run `python ingest.py` first")
    evals = [q.question for q in eval_questions(settings.knowledge_dir) if not q.not_covered]
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days)  # naive UTC, as stored
    filters = TurnFilter(since=since)
    files = {path: FileUsage(path) for path in paths}
    searches = _Searches(retriever, settings.top_k, settings.min_score)
    owners = 0
    asked: dict[int, str] = {}  # turn id -> its question as searched, for the gap themes
    async for turn in storage.stream_turns(filters):
        if text := (turn.standalone_question or turn.question).strip():
            asked[turn.id] = text
        for path in {source["path"] for source in turn.sources}:
            if usage := files.get(path):
                usage.citations += 1
                usage.thumbs_up += turn.feedback in ("up", "mixed")
                usage.thumbs_down += turn.feedback in ("down", "mixed")
        if question := owner_question(turn):
            owners += 1
            for path in searches.files(question) & files.keys():
                files[path].owner_questions += 1
    for question in evals:
        for path in searches.files(question) & files.keys():
            files[path].eval_questions += 1
    themes = await find_gaps(storage, retriever, settings.min_score, filters)
    gaps = []
    for theme in themes:
        best = [searches.best(asked[i]) for i in theme.turn_ids if i in asked]
        covered = [p for p in best if p is not None and p.score >= settings.min_score]
        answered_by = Counter(p.path for p in covered).most_common(1)
        gaps.append(
            GapCoverage(
                theme=theme.label,
                asked=theme.count,
                reasons=theme.reasons,
                closest_file=theme.closest_file,
                closest_score=theme.closest_score,
                covered=len(covered),
                answered_by=answered_by[0][0] if answered_by else None,
                turn_ids=theme.turn_ids,
            )
        )
    ranked = sorted(files.values(), key=lambda f: (-f.citations, -f.owner_questions, -f.eval_questions, f.path))
    return CoverageReport(
        days=days,
        since=since,
        min_score=settings.min_score,
        top_k=settings.top_k,
        owner_questions=owners,
        eval_questions=len(evals),
        files=ranked,
        gaps=gaps,
    )
