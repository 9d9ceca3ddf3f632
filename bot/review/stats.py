"""Usage statistics for admins: volume, people, satisfaction, modes, latency, topics.

How turns were answered is a breakdown that adds up (`Stats.breakdown`): each turn is one kind
(offline or LLM answer, not covered, a consultant's reply, a hand-over request, small talk), and
the shown percentages are rounded so they sum to 100. Latency is the advisor's answers' only:
small talk, consultants' replies and hand-over requests take no time worth measuring."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from bot.index.evaluation import percentile
from bot.storage import Storage, TurnFilter

ANSWER_MODES = ("offline", "llm")  # the advisor's answers; not "hi", not a consultant's words
KINDS = {  # how a turn was answered, in the order admins read them
    "offline": "offline answer",
    "llm": "LLM answer",
    "not_covered": "not covered",
    "human": "consultant",
    "handover": "hand-over request",
    "smalltalk": "small talk",
    "other": "other",
}


def kind_of(mode: str, covered: bool) -> str:
    """The `KINDS` key of a turn: an advisor's answer that found nothing is "not covered"."""
    if mode in ANSWER_MODES:
        return mode if covered else "not_covered"
    return mode if mode in KINDS else "other"


def whole_percentages(counts: list[int]) -> list[int]:
    """Percentages of `counts` rounded so they add up to exactly 100 (largest remainder)."""
    total = sum(counts)
    if not total:
        return [0] * len(counts)
    exact = [100 * count / total for count in counts]
    shown = [int(value) for value in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: (exact[i] - shown[i], counts[i]), reverse=True)
    for i in by_remainder[: 100 - sum(shown)]:
        shown[i] += 1
    return shown


@dataclass
class Stats:
    turns: int = 0
    users: int = 0
    askers: int = 0  # users the advisor answered (not only small talk or a hand-over request)
    active_users_per_day: dict[str, int] = field(default_factory=dict)
    thumbs_up: int = 0
    thumbs_down: int = 0
    modes: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)  # KINDS key -> turns
    not_covered: int = 0
    llm_failures: int = 0
    answers: int = 0  # the advisor's answers (offline or LLM, covered or not), what latency is over
    latency_ms_p50: float | None = None  # None: no answers to measure
    latency_ms_p95: float | None = None
    top_topics: list[tuple[str, int]] = field(default_factory=list)

    @property
    def feedback_ratio(self) -> float | None:
        """Share of thumbs-up among rated turns (None when nothing was rated)."""
        rated = self.thumbs_up + self.thumbs_down
        return round(self.thumbs_up / rated, 3) if rated else None

    def share(self, mode: str) -> float:
        """The share of turns in `mode` (offline and llm include their not-covered answers)."""
        return round(self.modes.get(mode, 0) / self.turns, 3) if self.turns else 0.0

    def breakdown(self) -> list[tuple[str, int, int]]:
        """(label, turns, percent) of each kind of turn there was, percentages adding up to 100."""
        present = [(key, self.kinds[key]) for key in KINDS if self.kinds.get(key)]
        percents = whole_percentages([count for _key, count in present])
        return [(KINDS[key], count, pct) for (key, count), pct in zip(present, percents, strict=True)]

    def to_dict(self) -> dict:
        return {
            "turns": self.turns,
            "users": self.users,
            "askers": self.askers,
            "active_users_per_day": self.active_users_per_day,
            "thumbs_up": self.thumbs_up,
            "thumbs_down": self.thumbs_down,
            "feedback_ratio": self.feedback_ratio,
            "modes": self.modes,
            "breakdown": [{"kind": label, "turns": n, "percent": pct} for label, n, pct in self.breakdown()],
            "offline_share": self.share("offline"),
            "llm_share": self.share("llm"),
            "not_covered": self.not_covered,
            "llm_failures": self.llm_failures,
            "answers": self.answers,
            "latency_ms_p50": self.latency_ms_p50,
            "latency_ms_p95": self.latency_ms_p95,
            "top_topics": [{"topic": t, "turns": n} for t, n in self.top_topics],
        }


async def compute_stats(storage: Storage, filters: TurnFilter) -> Stats:
    """One pass over the matching turns (streamed, without their texts), so it works on a large database."""
    stats = Stats()
    users: set[str] = set()
    askers: set[str] = set()
    per_day: dict[str, set[str]] = {}
    latencies: list[float] = []
    modes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    async for turn in storage.stream_turn_facts(filters):
        stats.turns += 1
        users.add(turn.user_id)
        if turn.mode in ANSWER_MODES:
            askers.add(turn.user_id)
        per_day.setdefault(turn.created_at.date().isoformat(), set()).add(turn.user_id)
        modes[turn.mode] += 1
        kinds[kind_of(turn.mode, turn.covered)] += 1
        stats.not_covered += not turn.covered
        stats.llm_failures += turn.failed
        stats.thumbs_up += turn.feedback == "up"
        stats.thumbs_down += turn.feedback == "down"
        if turn.mode in ANSWER_MODES and not turn.cancelled and turn.latency_ms is not None:
            latencies.append(turn.latency_ms)
        if turn.first_source is not None:
            topics[topic_of(turn.first_source)] += 1
    stats.users, stats.askers = len(users), len(askers)
    stats.active_users_per_day = {day: len(ids) for day, ids in sorted(per_day.items())}
    stats.modes, stats.kinds = dict(modes), dict(kinds)
    stats.answers = len(latencies)
    if latencies:
        stats.latency_ms_p50 = percentile(latencies, 0.5)
        stats.latency_ms_p95 = percentile(latencies, 0.95)
    stats.top_topics = topics.most_common(10)
    return stats


def topic_of(path: str) -> str:
    """A knowledge file's topic is its top folder (credit/invoice-finance.md → credit)."""
    return path.split("/", 1)[0] if "/" in path else "general"


def parse_when(text: str | None, end: bool = False) -> dt.datetime | None:
    """'2026-11-01' or '2026-11-01T14:00'; a bare --until date includes that whole day."""
    if not text:
        return None
    value = dt.datetime.fromisoformat(text)
    if end and len(text) == 10:
        value += dt.timedelta(days=1)
    if value.tzinfo is not None:  # the database holds naive UTC
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None)
