"""The daily digest for the admin chat: what happened since the last one, in numbers, with what
needs a person's eyes (new 👎 comments, open hand-overs, the biggest gaps), and once a week
(DIGEST_SUGGESTIONS_WEEKDAY) the top content suggestions of the last 7 days (`bot.review.suggestions`).

Computed here, in the review room, from storage and the index; the Telegram channel formats
and sends it (`bot.channels.telegram.handlers.digest`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from bot.config import WEEKDAYS, Settings
from bot.index.retriever import Retriever
from bot.review.gaps import Theme, find_gaps
from bot.review.stats import ANSWER_MODES, compute_stats
from bot.review.suggestions import Suggestion, compute_suggestions
from bot.storage import Storage, TurnFilter

log = logging.getLogger(__name__)

SUGGESTIONS_SHOWN = 5
SUGGESTION_DAYS = 7


@dataclass
class Digest:
    since: dt.datetime
    questions: int = 0
    owners: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    not_covered: int = 0
    llm_failures: int = 0
    comments: list[tuple[int, str, str]] = field(default_factory=list)  # (turn, question, comment)
    handovers: dict[str, int] = field(default_factory=dict)  # asked, resolved, open
    ratings: dict[str, int] = field(default_factory=dict)  # owners' 👍/👎 on the help: up, down
    gaps: list[Theme] = field(default_factory=list)
    suggestions: list[Suggestion] | None = None  # None: not the week's suggestion day


def suggestions_due(weekday: str, day: dt.date) -> bool:
    """Whether the digest of `day` carries the week's suggestions (DIGEST_SUGGESTIONS_WEEKDAY)."""
    return weekday == "daily" or (weekday in WEEKDAYS and WEEKDAYS.index(weekday) == day.weekday())


async def compute_digest(
    storage: Storage,
    retriever: Retriever | None,
    min_score: float,
    since: dt.datetime,
    suggest: Settings | None = None,
) -> Digest:
    """The digest of everything since `since` (naive UTC); with `suggest` (the settings: the
    knowledge dir), the top suggestions of the last week too. The gap clusters and suggestions
    need the embedding model; if they fail, the digest goes out without them (logged)."""
    stats = await compute_stats(storage, TurnFilter(since=since))
    questions = sum(stats.modes.get(mode, 0) for mode in ANSWER_MODES)
    digest = Digest(
        since=since,
        questions=questions,
        owners=stats.askers,  # who asked the questions counted, not who only said hi or asked for a person
        thumbs_up=stats.thumbs_up,
        thumbs_down=stats.thumbs_down,
        not_covered=stats.not_covered,
        llm_failures=stats.llm_failures,
        comments=await storage.comments_since(since),
        handovers=await storage.count_handovers(since),
        ratings=await storage.count_ratings(since),
    )
    if retriever is not None:
        try:
            digest.gaps = (await find_gaps(storage, retriever, min_score, TurnFilter(since=since)))[:3]
        except Exception:
            log.warning("the digest goes without its gap clusters", exc_info=True)
    if retriever is not None and suggest is not None:
        try:
            report = await compute_suggestions(storage, retriever, suggest, SUGGESTION_DAYS, top=SUGGESTIONS_SHOWN)
            digest.suggestions = report.suggestions
        except Exception:
            log.warning("the digest goes without its weekly suggestions", exc_info=True)
    return digest
