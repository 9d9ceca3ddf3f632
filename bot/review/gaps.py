"""The knowledge-gap report: what owners asked that the knowledge base answered badly.

A turn is a gap candidate when retrieval found nothing relevant (the
not-covered answer), found only weak matches, or the owner gave it 👎.
Candidates are grouped by meaning (sentence-transformers' community detection
over their embeddings) into themes; each theme shows how often it came up,
example questions, and the closest existing knowledge file — what a
consultant should write or improve next.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from bot.index.retriever import Retriever
from bot.review.render import printable
from bot.storage import GapCandidate, Storage, TurnFilter, TurnRecord

WEAK_MARGIN = 0.08  # above MIN_SCORE by less than this counts as a weak match
THEME_SIMILARITY = 0.5  # questions at least this similar to a theme's centre join it
GROUP_BLOCK = 1024  # questions compared with all the others at once


@dataclass
class Theme:
    label: str
    count: int
    reasons: dict[str, int]
    examples: list[str]
    closest_file: str | None
    closest_score: float
    turn_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "theme": self.label,
            "count": self.count,
            "reasons": self.reasons,
            "examples": self.examples,
            "closest_file": self.closest_file,
            "closest_score": round(self.closest_score, 3),
            "turn_ids": self.turn_ids,
        }


def gap_reasons(turn: TurnRecord | GapCandidate, min_score: float) -> list[str]:
    if turn.flagged_gap:  # a consultant said so, from a hand-over card
        return ["flagged by a consultant"]
    if turn.mode not in ("offline", "llm") or turn.cancelled:  # "hi", "thanks", a consultant's words
        return []
    reasons = []
    if not turn.covered:
        reasons.append("not covered")
    elif turn.best_score is not None and turn.best_score < min_score + WEAK_MARGIN:
        reasons.append("weak match")
    if turn.feedback in ("down", "mixed"):
        reasons.append("thumbs down")
    return reasons


async def find_gaps(storage: Storage, retriever: Retriever, min_score: float, filters: TurnFilter) -> list[Theme]:
    """Group the gap candidates among the matching turns into themes, most frequent first."""
    candidates: list[tuple[GapCandidate, list[str]]] = []
    async for turn in storage.stream_gap_candidates(filters, weak_below=min_score + WEAK_MARGIN):
        if reasons := gap_reasons(turn, min_score):
            candidates.append((turn, reasons))
    if not candidates:
        return []
    # embedding and grouping are CPU work:
    # off the event loop, since the bot's /gaps and daily digest call this while serving
    return await asyncio.to_thread(_themes, retriever, candidates)


def _themes(retriever: Retriever, candidates: list[tuple[GapCandidate, list[str]]]) -> list[Theme]:
    questions = [t.standalone_question or t.question for t, _ in candidates]
    distinct = list(dict.fromkeys(questions))  # a question asked again is embedded once
    where = {question: n for n, question in enumerate(distinct)}
    embedded = retriever.embedder.embed(distinct)
    asked = [where[question] for question in questions]
    vectors = embedded[asked]
    rows, members = _asked_rows(embedded, asked)
    counts = np.array([len(turns) for turns in members])
    groups = [[i for row in group for i in members[row]] for group in _groups(embedded[rows], counts=counts)]
    centroids = [_centroid(vectors[group]) for group in groups]
    closest = retriever.index.query_many(centroids, 1)  # every theme's closest passage in one search
    themes = [
        _theme([candidates[i] for i in group], vectors[group], centroid, hits)
        for group, centroid, hits in zip(groups, centroids, closest, strict=True)
    ]
    return sorted(themes, key=lambda t: (-t.count, t.label))


def _asked_rows(embedded: np.ndarray, asked: list[int]) -> tuple[list[int], list[list[int]]]:
    """The rows to group: one per distinct question (its vector in `embedded`, the candidates that
    asked it), in the order first asked. Copies of a question are alike (similarity 1), so they
    always fall in the same group: grouping each distinct question, weighted by how often it was
    asked, gives the groups of grouping every candidate (6,000 rows rather than 13,000 for a
    month at a million turns). A question whose vector is not alike itself (zero) stays one row
    per candidate: each is a group of its own."""
    alike = np.einsum("ij,ij->i", embedded, embedded) > 0
    rows: list[int] = []
    members: list[list[int]] = []
    row_of: dict[int, int] = {}
    for i, question in enumerate(asked):
        row = row_of.get(question) if alike[question] else None
        if row is None:
            row = len(rows)
            rows.append(question)
            members.append([])
            if alike[question]:
                row_of[question] = row
        members[row].append(i)
    return rows, members


def _groups(
    vectors: np.ndarray, threshold: float = THEME_SIMILARITY, counts: np.ndarray | None = None
) -> list[list[int]]:
    """Community detection as sentence-transformers does it, in numpy (importing it would load
    torch into the serving process: ~1 GB and 10 s, issue 19): each question's neighbours at
    `threshold` or closer form a candidate, largest first; a question joins the first it is in.
    `counts`: how many identical questions each row stands for (they weigh that much in a
    candidate's size; 1 each by default)."""
    count = len(vectors)
    counts = np.ones(count, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    near_rows, near_columns, near_similar = [], [], []
    for start in range(0, count, GROUP_BLOCK):  # a block of rows at a time, with the rows from its own on:
        similar = unit[start : start + GROUP_BLOCK] @ unit[start:].T  # the pairs before it are in the blocks
        rows, columns = np.nonzero(similar >= threshold)  # before (alike both ways); only the pairs alike
        later = columns > rows  # enough are kept (~300,000 of 36 M for a month at a million turns)
        rows, columns = rows[later], columns[later]
        near_rows.append(rows + start)
        near_columns.append(columns + start)
        near_similar.append(similar[rows, columns])
    first, second, alike = (np.concatenate(parts) for parts in (near_rows, near_columns, near_similar))
    rows, columns, similar = np.concatenate((first, second)), np.concatenate((second, first)), np.tile(alike, 2)
    order = np.lexsort((columns, rows))  # by row, then column: each row's neighbours in order
    rows, columns, similar = rows[order], columns[order], similar[order]
    bounds = np.searchsorted(rows, np.arange(count + 1))
    sizes = counts + np.bincount(rows, weights=counts[columns], minlength=count).astype(np.int64)
    groups, taken = [], np.zeros(count, dtype=bool)
    for own in np.lexsort((np.arange(count), -sizes)):  # largest candidate first, then by row (stable)
        near, alike = columns[bounds[own] : bounds[own + 1]], similar[bounds[own] : bounds[own + 1]]
        free = ~taken[near]
        near = near[free][np.argsort(-alike[free], kind="stable")]  # most alike first, by row on ties
        group = ([] if taken[own] else [int(own)]) + near.tolist()  # itself first, even as a zero vector
        if group:
            groups.append(group)
            taken[group] = True
    return sorted(groups, key=lambda group: int(counts[group].sum()), reverse=True)


def _centroid(vectors: np.ndarray) -> np.ndarray:
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    return centroid


def _theme(
    members: list[tuple[GapCandidate, list[str]]], vectors: np.ndarray, centroid: np.ndarray, hits: list
) -> Theme:
    """A group of questions as a theme; `hits`: the passage closest to its `centroid`."""
    order = np.argsort(-(vectors @ centroid))  # most typical question first
    questions = [members[i][0].question for i in order]
    reasons = Counter(reason for _, rs in members for reason in rs)
    closest, score = (hits[0][1]["path"], hits[0][2]) if hits else (None, 0.0)
    return Theme(
        label=questions[0],
        count=len(members),
        reasons=dict(reasons),
        examples=list(dict.fromkeys(questions))[:3],
        closest_file=closest,
        closest_score=score,
        turn_ids=sorted(members[i][0].id for i in order),
    )


def gaps_markdown(themes: list[Theme], min_score: float) -> str:
    """The report as Markdown, for sharing with consultants. Owners' questions and file names are
    printed on one line each, without control characters: `gaps --format markdown` shows it on an
    admin's terminal."""
    lines = [
        "# Knowledge gaps",
        "",
        f"Questions that got the not-covered answer, a weak match (best score below {min_score + WEAK_MARGIN:.2f})"
        " or a 👎, grouped by meaning. Write or improve the knowledge file for the biggest themes first.",
        "",
    ]
    if not themes:
        return "\n".join([*lines, "No gaps found."]) + "\n"
    for number, theme in enumerate(themes, start=1):
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(theme.reasons.items()))
        lines += [f"## {number}. {_line(theme.label)}", "", f"- **Asked:** {theme.count} times ({reasons})"]
        closest = f"`{_line(theme.closest_file)}` (match {theme.closest_score:.2f})" if theme.closest_file else "none"
        lines += [f"- **Closest existing file:** {closest}", "- **Examples:**"]
        lines += [f"  - {_line(example)}" for example in theme.examples]
        lines.append("")
    return "\n".join(lines)


def _line(text: str) -> str:
    """Someone else's text as one line of the report (a newline in a question would end its heading)."""
    return " ".join(printable(text).split())
