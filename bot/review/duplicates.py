"""Sections that compete for the same questions: pairs in different knowledge files that an
owner's question could reach either way, so which one answers is left to chance.

Two measures, both from the vectors the live index version already holds (`SectionIndex`), in
the index's primary embedding space and on the scale MIN_SCORE is set on (`calibrate`):

- `questions`: the closest pair of their questions (heading and `Asked:` ways, one from each
  section): owners asking one are as likely to be answered by the other;
- `prose`: the cosine of their texts (the mean of each section's chunk vectors): the same
  answer written twice.

The thresholds were picked on the repository's knowledge/ (781 sections, 2,065 chunks, 7,415
questions; the pass takes under a second): at a question similarity of 0.9 and a prose
similarity of 0.8 (MiniLM) about twenty pairs are found, each a real overlap (the same question
asked in two files, a country's grants beside the general grants page, Jack Ma's 50-year remark
in two strategy files); a step lower (0.85 / 0.75) doubles them with pairs that are merely on
the same topic (a franchisor's and a franchisee's guide).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.index.sections import SectionIndex

SAME_QUESTION = 0.9  # two sections' closest questions at least this alike
SAME_PROSE = 0.8  # two sections' texts at least this alike
BLOCK = 1024  # question rows compared at a time (a 1,024 x 7,415 block is 30 MB)

# The pairs found in each index version's sections, by how they were asked for: a version's sections
# never change (a new version, or a Chroma server's changed files, is a new `SectionIndex`), so the
# weekly suggestions compare them once per version (~1-2 s on 2 busy cores), not at every digest.
_found: weakref.WeakKeyDictionary[SectionIndex, dict[tuple, list[Competing]]] = weakref.WeakKeyDictionary()
_finding = threading.Lock()


@dataclass(frozen=True)
class Competing:
    """Two sections (`path#heading`) in different files, how alike (the larger measure), and
    their closest pair of questions."""

    first: str
    second: str
    similarity: float
    measure: str  # "questions" or "prose"
    first_question: str
    second_question: str

    @property
    def paths(self) -> tuple[str, str]:
        return self.first.split("#", 1)[0], self.second.split("#", 1)[0]


def competing_sections(
    index: SectionIndex,
    space: str,
    calibrate: Callable[[float], float] = lambda similarity: similarity,
    same_question: float = SAME_QUESTION,
    same_prose: float = SAME_PROSE,
) -> list[Competing]:
    """The pairs of sections in different files at or above either threshold, most alike first.
    Files' introductions and illustrations ("Worked example") answer nothing on their own: left out.
    Found once per `index` (one version's sections) and way of asking, then remembered with it."""
    asked = (space, calibrate, same_question, same_prose)
    with _finding:  # the digest's thread and a consultant's `suggest` compare a version once
        known = _found.setdefault(index, {})
        if asked not in known:
            known[asked] = _competing(index, space, calibrate, same_question, same_prose)
        return list(known[asked])


def _competing(index: SectionIndex, space: str, calibrate, same_question: float, same_prose: float) -> list[Competing]:
    vectors = index.spaces.get(space)
    sections = index.sections
    count = len(sections)
    if vectors is None or count < 2:
        return []
    files = np.unique([s.path for s in sections], return_inverse=True)[1]
    usable = np.array([not s.intro and not s.illustration for s in sections])
    apart = (files[:, None] != files[None, :]) & usable[:, None] & usable[None, :]
    prose = _calibrated(_prose(vectors.chunks, vectors.chunk_section, count), calibrate)
    questions = np.asarray(vectors.questions, dtype=np.float32)
    owner = np.asarray(vectors.question_section)
    asked = _calibrated(_closest_questions(questions, owner, count, _raw(same_question, calibrate)), calibrate)
    found = np.triu(apart & ((asked >= same_question) | (prose >= same_prose)), 1)
    pairs = []
    for first, second in zip(*np.nonzero(found), strict=True):
        by_questions = asked[first, second] >= prose[first, second]
        one, other = _closest_pair(questions, owner, vectors.question_texts, first, second)
        pairs.append(
            Competing(
                sections[first].key,
                sections[second].key,
                round(float(max(asked[first, second], prose[first, second])), 3),
                "questions" if by_questions else "prose",
                one,
                other,
            )
        )
    return sorted(pairs, key=lambda p: (-p.similarity, p.first, p.second))


def _prose(chunks: np.ndarray, chunk_section: np.ndarray, count: int) -> np.ndarray:
    """Cosine of every two sections' mean chunk vectors (-1 for a section without chunks)."""
    means = np.zeros((count, chunks.shape[1]), dtype=np.float32)
    np.add.at(means, np.asarray(chunk_section), np.asarray(chunks, dtype=np.float32))
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    similar = (means / np.maximum(norms, 1e-12)) @ (means / np.maximum(norms, 1e-12)).T
    similar[norms[:, 0] == 0, :] = -1.0
    similar[:, norms[:, 0] == 0] = -1.0
    return similar


def _closest_questions(questions: np.ndarray, owner: np.ndarray, count: int, floor: float) -> np.ndarray:
    """For every two sections, the similarity of their closest pair of questions, where it is at
    least `floor` (else -1): compared a block at a time, never the whole questions x questions matrix,
    and each pair once (a block with the questions from its own on: alike both ways)."""
    best = np.full((count, count), -1.0, dtype=np.float32)
    for start in range(0, len(questions), BLOCK):
        similar = questions[start : start + BLOCK] @ questions[start:].T
        rows, columns = np.nonzero(similar >= floor)
        np.maximum.at(best, (owner[start + rows], owner[start + columns]), similar[rows, columns])
    return np.maximum(best, best.T)


def _closest_pair(questions, owner, texts, first: int, second: int) -> tuple[str, str]:
    """The two questions, one of each section, that are most alike ("", "" without questions)."""
    ones, others = np.nonzero(owner == first)[0], np.nonzero(owner == second)[0]
    if not len(ones) or not len(others):
        return "", ""
    similar = questions[ones] @ questions[others].T
    row, column = np.unravel_index(int(np.argmax(similar)), similar.shape)
    return texts[int(ones[row])], texts[int(others[column])]


def _calibrated(similar: np.ndarray, calibrate: Callable[[float], float]) -> np.ndarray:
    """`calibrate` over a matrix: it is monotonic, so it is read off a fine grid of raw values."""
    grid = np.linspace(-1.0, 1.0, 4001)
    scale = np.array([calibrate(float(x)) for x in grid], dtype=np.float32)
    return np.interp(similar, grid, scale).astype(np.float32)


def _raw(threshold: float, calibrate: Callable[[float], float]) -> float:
    """The raw cosine from which `calibrate` gives at least `threshold` (a little below, to be safe)."""
    grid = np.linspace(-1.0, 1.0, 4001)
    above = [x for x in grid if calibrate(float(x)) >= threshold]
    return float(above[0]) - 0.001 if above else 1.0
