"""What review reads back: `TurnFilter` (which turns), `TurnRecord` (a turn with its feedback), and
`TurnFacts`, `GapCandidate` and `TurnCitations` (the parts of a turn that the counts, the gap report
and the suggestions read)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TurnFilter:
    """Which turns an admin wants to see; every field is optional."""

    user: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    feedback: str | None = None  # up | down
    mode: str | None = None
    search: str | None = None
    conversation_id: int | None = None


@dataclass(frozen=True)
class TurnFacts:
    """What the counts of review read of a turn (`Storage.stream_turn_facts`): no texts, only the
    first cited source's path, and its feedback as `TurnRecord.feedback` has it."""

    id: int
    user_id: str
    created_at: dt.datetime
    mode: str
    covered: bool
    failed: bool  # the LLM failed (`TurnRecord.error` is set)
    cancelled: bool
    latency_ms: float | None
    first_source: str | None  # the first cited source's path (None: no sources)
    feedback: str | None  # up, down, or mixed when several owners rated it


@dataclass(frozen=True)
class TurnCitations:
    """A turn's owner, question and what its answer cited (`Storage.stream_citations`): who asked
    what and which sections answered, without the answer, the profile or the feedback."""

    id: int
    user_id: str
    created_at: dt.datetime
    mode: str
    cancelled: bool
    question: str
    standalone_question: str | None
    sources: list


@dataclass(frozen=True)
class GapCandidate:
    """What the gap report reads of a turn (`Storage.stream_gap_candidates`): its questions and the
    columns `bot.review.gaps.gap_reasons` looks at, with its feedback as `TurnRecord.feedback` has it."""

    id: int
    user_id: str
    question: str
    standalone_question: str | None
    mode: str
    covered: bool
    cancelled: bool
    best_score: float | None
    flagged_gap: bool
    feedback: str | None  # up, down, or mixed when several owners rated it


@dataclass
class TurnRecord:
    """A turn as an admin reviews it: the turn's columns plus its feedback."""

    id: int
    conversation_id: int
    user_id: str
    created_at: dt.datetime
    question: str
    standalone_question: str | None
    answer: str
    covered: bool
    mode: str
    model: str | None
    sources: list
    best_score: float | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    error: str | None
    delivered: bool | None = None  # did the answer reach the owner (None: not known)
    truncated: bool = False
    cancelled: bool = False
    profile: dict | None = None
    follow_ups: list[str] = field(default_factory=list)
    answered_by: str | None = None  # the consultant, for a `human` turn
    input_kind: str | None = None  # voice | photo | document; None: typed
    flagged_gap: bool = False  # a consultant added it to the knowledge gaps
    feedback: str | None = None  # up, down, or mixed when several owners rated it
    comments: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["created_at"] = self.created_at.isoformat(timespec="seconds")
        return data
