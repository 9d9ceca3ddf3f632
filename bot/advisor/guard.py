"""The eval guards a publish: would a new entry take the lead from sections that answer today?

A full eval run takes minutes; a consultant publishing one entry should wait seconds. A new
entry can only change the lead of questions near it, so only those are checked: the eval
questions (`knowledge/eval/questions.yaml` and `held-out.yaml`, covered, asked alone) whose
vectors come close to one of the entry's questions (cached per model and text). For each, the
offline answer (what `bot.advisor.evaluation` judges) is composed on the live version and on
the candidate version built beside it; an entry *displaces* a question when, before, the answer
led with a section the eval labels right, and after, it leads with the new file. Any
displacement holds the publish (`GuardReport.held`), with the line and list a consultant reads.
`publish_entry` is the whole publish: the file written, the ingest run with the guard, the file
taken away again when held.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.advisor.evaluation import outcome_of
from bot.advisor.pipeline import Advisor
from bot.index.evaluation import EvalQuestion, EvalSetError, load_eval_set
from bot.index.opening import make_index
from bot.index.retriever import Retriever
from bot.index.versions import current_version
from bot.knowledge.answers import render_entry, write_entry
from bot.knowledge.runner import PublishHeld, run_ingest

EVAL_FILES = ("questions.yaml", "held-out.yaml")
NEAR = 0.5  # cosine (primary model) from an entry's question for an eval question to be checked
MOST_CHECKED = 12  # the nearest eval questions, at most: a publish stays within seconds

_vectors: dict[tuple[str, str], np.ndarray] = {}  # (model fingerprint, question) → unit vector
_vectors_lock = threading.Lock()


@dataclass(frozen=True)
class Displacement:
    """An eval question the library answered (`before`, `path#heading`) that the entry would lead."""

    question: str
    before: str
    after: str


@dataclass
class GuardReport:
    checked: list[str] = field(default_factory=list)  # the eval questions compared before and after
    displaced: list[Displacement] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return bool(self.displaced)

    def line(self) -> str:
        """One line: why the publish is held."""
        count = len(self.displaced)
        noun = "question" if count == 1 else "questions"
        return f"Held: this entry would take the lead from {count} {noun} the library answered before."

    def details(self) -> list[str]:
        """The displaced entries, one line each: question → file#section."""
        return [f"“{d.question}” → {d.before}" for d in self.displaced]


def guard_questions(knowledge_dir: Path) -> list[EvalQuestion]:
    """The eval questions a publish is checked on: covered, asked alone, labelled (files missing or
    unreadable are skipped: a library without an eval set publishes unguarded)."""
    questions: list[EvalQuestion] = []
    for name in EVAL_FILES:
        try:
            questions += load_eval_set(knowledge_dir / "eval" / name)
        except EvalSetError:
            continue
    return [q for q in questions if not q.not_covered and not q.after and q.files]


def warm_up(live: Advisor) -> int:
    """Blocking: embed the eval questions now (a draft is being written), so the publish that
    follows does not wait for them (~10 s for the starter library's on one core); how many."""
    questions = guard_questions(live.settings.knowledge_dir)
    if questions:
        _cached(live.retriever.embedder, [q.question for q in questions])
    return len(questions)


def near_questions(
    retriever: Retriever, entry: list[str], questions: list[EvalQuestion], near: float = NEAR, most: int = MOST_CHECKED
) -> list[EvalQuestion]:
    """The eval questions within `near` of one of the entry's questions, nearest first."""
    if not questions or not entry:
        return []
    embedder = retriever.embedder
    mine = _unit(embedder.embed(list(entry), questions=True))
    theirs = _cached(embedder, [q.question for q in questions])
    closeness = (theirs @ mine.T).max(axis=1)
    order = np.argsort(-closeness)
    return [questions[n] for n in order[:most] if closeness[n] >= near]


def candidate_advisor(live: Advisor, folder: Path) -> Advisor:
    """An advisor reading the version built in `folder` (not yet live), with the live one's models."""
    index = make_index(live.settings, folder, create=False)
    return Advisor(
        Retriever(index, live.retriever.embeddings), live.settings, None, live.prompts, coverage=live.lookup.model
    )


async def check_entry(live: Advisor, candidate: Advisor, new_path: str, questions: list[EvalQuestion]) -> GuardReport:
    """Which of `questions` the live library leads right and the candidate leads with `new_path`."""
    report = GuardReport()
    for question in questions:
        before = outcome_of(question, await live.offline_answer(question.question))
        if not before.lead_answers:
            continue
        report.checked.append(question.question)
        after = outcome_of(question, await candidate.offline_answer(question.question))
        if after.lead is not None and after.lead.split("#", 1)[0] == new_path:
            report.displaced.append(Displacement(question.question, before.lead, after.lead))
    return report


def guard_publish(live: Advisor, folder: Path, new_path: str, entry: list[str]) -> GuardReport:
    """Blocking (the ingest's thread calls it before a version goes live): the guard's verdict on
    the version in `folder`, which adds `new_path` with the questions `entry`."""
    questions = near_questions(live.retriever, entry, guard_questions(live.settings.knowledge_dir))
    if not questions:
        return GuardReport()
    candidate = candidate_advisor(live, folder)
    try:
        return asyncio.run(check_entry(live, candidate, new_path, questions))
    finally:
        candidate.retriever.index.close()


class EntryRefused(Exception):
    """The ingest skipped the entry's file (the message says why); it was removed again."""


@dataclass
class Published:
    """What a publish did: the file written (relative to KNOWLEDGE_DIR; None when held), the
    version live now, and the guard's report (held when it holds the entry back)."""

    path: str | None
    version: int | None
    report: GuardReport


def publish_entry(
    live: Advisor, *, questions: list[str], answer: str, author: str, date: dt.date, force: bool = False
) -> Published:
    """Blocking: write the entry under KNOWLEDGE_DIR/answers/, run the ordinary versioned ingest
    with the serving models, guarded (unless `force`). Held, or failed: the file is removed again
    (so no later ingest publishes it unseen) and nothing goes live."""
    settings = live.settings
    text = render_entry(questions=questions, answer=answer, author=author, date=date)
    path = write_entry(settings.knowledge_dir, text, questions[0])
    reports: list[GuardReport] = []

    def check(folder: Path) -> GuardReport | None:
        reports.append(guard_publish(live, folder, str(path), questions))
        return reports[-1] if reports[-1].held else None

    try:
        report = run_ingest(settings, embeddings=live.retriever.embeddings, before_publish=None if force else check)
        refused = [s.reason for s in report.skipped if s.path == str(path)]
        if refused:  # the ingest read the library without it: nothing of it is live
            raise EntryRefused(f"the ingest refused the entry: {refused[0]}")
    except PublishHeld as held:
        (settings.knowledge_dir / path).unlink(missing_ok=True)
        return Published(None, current_version(settings.index_path), held.reason)
    except BaseException:
        (settings.knowledge_dir / path).unlink(missing_ok=True)
        raise
    return Published(str(path), current_version(settings.index_path), reports[-1] if reports else GuardReport())


def _cached(embedder, texts: list[str]) -> np.ndarray:
    key = embedder.fingerprint
    with _vectors_lock:
        missing = [t for t in dict.fromkeys(texts) if (key, t) not in _vectors]
    if missing:
        vectors = _unit(embedder.embed(missing, questions=True))
        with _vectors_lock:
            _vectors.update({(key, t): v for t, v in zip(missing, vectors, strict=True)})
    return np.stack([_vectors[(key, t)] for t in texts])


def _unit(vectors) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
