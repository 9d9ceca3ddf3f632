"""Content suggestions: what a consultant should write, rewrite, merge, review or retire next,
ranked by how many owners it touches (`python -m bot suggest`, the digest's weekly section).

Five kinds, over the turns of the last `days` days and today's index:

- `not covered`: a knowledge-gap theme (`bot.review.gaps`) of questions that got the not-covered
  answer, a weak match or a consultant's flag (a theme of 👎 alone is the next kind's):
  write an entry. Owners affected: who asked them.
- `thumbs down`: answers rated 👎 with a comment, by the section they led with (or the question,
  when no section answered): read the comments, rewrite the section. Owners: who rated them.
- `near-duplicate`: two sections in different files that compete for the same questions
  (`bot.review.duplicates`): merge them. Owners: whose answers cited either.
- `review due`: a file whose front matter `review_by` date has passed (`bot.knowledge.lint`):
  check its rates, schemes and rules. Owners: whose answers cited it.
- `unreached`: a file in the index no owner's answer cited in `unreached_days` (90) days:
  retire or retitle it. Owners: none, by definition, so these come last.

Ranked by owners affected (distinct owners), then in the order above, then by how often.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.config import Settings
from bot.index.retriever import Retriever
from bot.knowledge.lint import review_due
from bot.review.coverage import CoverageError, indexed_files, owner_question
from bot.review.duplicates import competing_sections
from bot.review.gaps import find_gaps
from bot.review.render import printable
from bot.storage import Storage, TurnFilter, TurnRecord

log = logging.getLogger(__name__)

DEFAULT_DAYS = 30
UNREACHED_DAYS = 90
KINDS = ("not covered", "thumbs down", "near-duplicate", "review due", "unreached")
QUOTE = 160  # characters of an owner's question or comment an example quotes


@dataclass
class Suggestion:
    kind: str  # one of KINDS
    what: str  # the question theme, `file#section`, two sections, or a file
    owners: int  # distinct owners affected
    example: str
    action: str  # what to do
    count: int = 0  # turns behind it (questions, 👎, citations)
    turn_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "what": self.what,
            "owners": self.owners,
            "example": self.example,
            "action": self.action,
            "count": self.count,
            "turn_ids": self.turn_ids,
        }


@dataclass
class SuggestionReport:
    days: int
    unreached_days: int
    suggestions: list[Suggestion]  # ranked
    notes: list[str] = field(default_factory=list)  # what was not looked at, and why

    def to_dict(self) -> dict:
        return {
            "days": self.days,
            "unreached_days": self.unreached_days,
            "suggestions": [s.to_dict() for s in self.suggestions],
            "notes": self.notes,
        }


@dataclass
class _Turns:
    """What the suggestions need of the streamed turns."""

    owner_of: dict[int, str] = field(default_factory=dict)  # turn id -> owner (the `days` window)
    cited_file: dict[str, set[str]] = field(default_factory=dict)  # path -> owners, `days` window
    cited_section: dict[str, set[str]] = field(default_factory=dict)  # path#heading -> owners
    reached: set[str] = field(default_factory=set)  # files cited in the unreached window
    asked: bool = False  # any owner question in the unreached window
    disliked: dict[str, list[TurnRecord]] = field(default_factory=dict)  # lead section (or question) -> 👎 turns


async def compute_suggestions(
    storage: Storage,
    retriever: Retriever,
    settings: Settings,
    days: int = DEFAULT_DAYS,
    unreached_days: int = UNREACHED_DAYS,
    today: dt.date | None = None,
    top: int | None = None,
) -> SuggestionReport:
    """Every suggestion, ranked; with `top`, the first `top` (the digest's). Raises `CoverageError`
    when the index is empty."""
    paths = knowledge_files(retriever)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # naive UTC, as stored
    since = now - dt.timedelta(days=days)
    reach_since = now - dt.timedelta(days=unreached_days)
    turns = await _read_turns(storage, since, reach_since)
    report = SuggestionReport(days, unreached_days, [])
    found = await _not_covered(storage, retriever, settings, since, turns)
    found += _thumbs_down(turns)
    try:  # CPU work and file reads: off the event loop, since the bot's digest calls this while serving
        found += await asyncio.to_thread(_near_duplicates, retriever, turns)
    except Exception:  # an optional pass: the other suggestions still go out
        log.warning("near-duplicate sections could not be compared", exc_info=True)
        report.notes.append("near-duplicate sections were not compared (see the log)")
    found += await asyncio.to_thread(_review_due, settings, today or now.date(), turns, set(paths))
    # unreached files rank last (no owner is affected): when the others fill the `top`, none would show,
    # and the turns before the window, read only for them (a quarter of a busy bot's), are not read
    if top is None or len(found) < top:
        if reach_since < since:
            await _read_reached(storage, turns, TurnFilter(since=reach_since, until=since))
        if turns.asked:
            found += _unreached(paths, turns, unreached_days)
        else:
            report.notes.append(f"no owner questions in the last {unreached_days} days: unreached files not listed")
    report.suggestions = sorted(found, key=lambda s: (-s.owners, KINDS.index(s.kind), -s.count, s.what))[:top]
    return report


def knowledge_files(retriever: Retriever) -> list[str]:
    """The files of the live index; `CoverageError` when there are none (nothing to suggest on)."""
    paths = indexed_files(retriever)
    if not paths:
        raise CoverageError("the knowledge index is empty; run `python ingest.py` first")
    return paths


async def _read_turns(storage: Storage, since: dt.datetime, reach_since: dt.datetime) -> _Turns:
    turns = _Turns()
    async for turn in storage.stream_citations(TurnFilter(since=since)):  # the window's, without answers
        cited = _reach(turns, turn) if turn.created_at >= reach_since else _knowledge_cited(turn)
        turns.owner_of[turn.id] = turn.user_id
        for source in cited:
            turns.cited_file.setdefault(source["path"], set()).add(turn.user_id)
            turns.cited_section.setdefault(_section_key(source), set()).add(turn.user_id)
    async for turn in storage.stream_turns(TurnFilter(since=since, feedback="down")):  # the window's 👎, whole
        if any(c and c.strip() for c in turn.comments):
            cited = _knowledge_cited(turn)
            lead = _section_key(cited[0]) if cited else _one_line(turn.question)
            turns.disliked.setdefault(lead, []).append(turn)
    return turns


async def _read_reached(storage: Storage, turns: _Turns, before: TurnFilter) -> None:
    """The turns before the window count only for what was reached: the database says which files
    (a quarter of a million-turn database is ~200,000 answers: 7 s streamed to Python)."""
    asked, reached = await storage.reached_files(before)
    turns.asked |= asked
    turns.reached |= reached


def _knowledge_cited(turn) -> list[dict]:
    """The knowledge sources an owner's question was answered from ([] for any other turn)."""
    if owner_question(turn) is None or turn.mode not in ("offline", "llm"):
        return []
    return [s for s in turn.sources if s.get("kind", "knowledge") == "knowledge"]


def _reach(turns: _Turns, turn) -> list[dict]:
    """Count an owner's question of the unreached window and the files it reached; returns them."""
    cited = _knowledge_cited(turn)
    if owner_question(turn) is not None and turn.mode in ("offline", "llm"):
        turns.asked = True
        turns.reached.update(s["path"] for s in cited)
    return cited


async def _not_covered(storage, retriever, settings, since, turns: _Turns) -> list[Suggestion]:
    themes = await find_gaps(storage, retriever, settings.min_score, TurnFilter(since=since))
    found = []
    for theme in themes:
        if set(theme.reasons) <= {"thumbs down"} or not _one_line(theme.label):
            continue  # rated 👎 but answered: the next kind's, where its comments are; or no words to go on
        closest = f" (closest now: {theme.closest_file})" if theme.closest_file else ""
        found.append(
            Suggestion(
                "not covered",
                _one_line(theme.label),
                len({turns.owner_of[i] for i in theme.turn_ids if i in turns.owner_of}),
                _one_line(theme.examples[1] if len(theme.examples) > 1 else theme.examples[0]),
                f"write an entry{closest}",
                theme.count,
                theme.turn_ids,
            )
        )
    return found


def _thumbs_down(turns: _Turns) -> list[Suggestion]:
    found = []
    for lead, disliked in turns.disliked.items():
        latest = disliked[-1]
        comment = next(c for c in reversed(latest.comments) if c and c.strip())
        answered = "#" in lead and lead in turns.cited_section
        found.append(
            Suggestion(
                "thumbs down",
                lead,
                len({t.user_id for t in disliked}),
                f"“{_one_line(comment)}” on “{_one_line(latest.question)}”",
                "read the 👎 comments and rewrite this section" if answered else "write an entry: no section answered",
                len(disliked),
                sorted(t.id for t in disliked),
            )
        )
    return found


def _near_duplicates(retriever: Retriever, turns: _Turns) -> list[Suggestion]:
    embedder = retriever.embedder
    pairs = competing_sections(retriever.section_index(), embedder.space, embedder.calibrate)
    found = []
    for pair in pairs:
        owners = turns.cited_section.get(pair.first, set()) | turns.cited_section.get(pair.second, set())
        example = f"“{_one_line(pair.first_question)}” / “{_one_line(pair.second_question)}”"
        found.append(
            Suggestion(
                "near-duplicate",
                f"{pair.first} + {pair.second}",
                len(owners),
                f"{example} ({pair.measure} {pair.similarity:.2f} alike)",
                "merge these two sections, or make each answer its own question",
                len(owners),
            )
        )
    return found


def _review_due(settings: Settings, today: dt.date, turns: _Turns, indexed: set[str]) -> list[Suggestion]:
    found = []
    for path, due in sorted(review_due(settings.knowledge_dir, today, settings.max_file_bytes).items()):
        owners = turns.cited_file.get(path, set())
        found.append(
            Suggestion(
                "review due",
                path,
                len(owners),
                "" if path in indexed else "not in the index",
                f"review: past review_by {due.isoformat()} (check its rates, schemes and rules)",
                len(owners),
            )
        )
    return found


def _unreached(paths: Iterable[str], turns: _Turns, unreached_days: int) -> list[Suggestion]:
    return [
        Suggestion(
            "unreached",
            path,
            0,
            "",
            f"no owner reached this file in {unreached_days} days: retire or retitle",
        )
        for path in sorted(set(paths) - turns.reached)
    ]


def _section_key(source: dict) -> str:
    """`path#heading` as `Section.key` names a section (a source's heading is "Title > Section")."""
    return f"{source['path']}#{str(source.get('heading') or '').split(' > ')[-1]}"


def _one_line(text: str, limit: int = QUOTE) -> str:
    """Someone else's text on one line, without control characters, cut at `limit` characters."""
    line = " ".join(printable(text or "").split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
