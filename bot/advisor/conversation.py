"""What the advisor knows about the conversation: earlier exchanges and the owner's profile.

Channels load these from storage and pass them in; the advisor never stores
anything itself. History is trimmed to a token budget, oldest first, so a long
chat cannot crowd the knowledge passages out of the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

from bot.knowledge.tokens import count_tokens


@dataclass(frozen=True)
class Exchange:
    """One earlier question and the answer the owner was given."""

    question: str
    answer: str
    standalone_question: str = ""


class ProfileError(ValueError):
    """A profile value the owner typed cannot be used; the message says how to fix it."""


PROFILE_ALIASES = {
    "name": "business_name",
    "business": "business_name",
    "business_name": "business_name",
    "industry": "industry",
    "sector": "industry",
    "staff": "staff",
    "size": "staff",
    "employees": "staff",
    "region": "region",
    "country": "region",
    "stage": "stage",
    "goals": "goals",
    "goal": "goals",
}


@dataclass(frozen=True)
class Profile:
    """Optional facts an owner gives about the business, used to tailor answers."""

    business_name: str = ""
    industry: str = ""
    staff: int | None = None
    region: str = ""
    stage: str = ""
    goals: str = ""

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def is_empty(self) -> bool:
        return self == Profile()

    def updated(self, pairs: Sequence[str]) -> Profile:
        """A copy with `key=value` pairs applied (`staff=6 region=AU`); an empty value clears a field."""
        values = self.to_dict()
        for pair in pairs:
            key, sep, value = pair.partition("=")
            name = PROFILE_ALIASES.get(key.strip().lower().replace("-", "_"))
            if not sep or name is None:
                raise ProfileError(
                    f"'{pair}' is not a profile setting; use key=value with keys: {', '.join(self.keys())}"
                )
            values[name] = _clean(name, value.strip())
        return Profile(**values)

    @classmethod
    def from_dict(cls, data: dict | None) -> Profile:
        if not data:
            return cls()
        names = set(cls.keys())
        known = {k: v for k, v in data.items() if k in names}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """The profile as lines for a prompt or a reply; 'not given' when empty."""
        labels = {
            "business_name": "Business",
            "industry": "Industry",
            "staff": "Staff",
            "region": "Region/country",
            "stage": "Stage",
            "goals": "Goals",
        }
        lines = [f"{labels[k]}: {v}" for k, v in self.to_dict().items() if v not in ("", None)]
        return "\n".join(lines) if lines else "not given"

    def preferences(self) -> dict[str, str]:
        """Metadata values retrieval should prefer (front-matter region and audience)."""
        prefer = {}
        if self.region:
            prefer["region"] = self.region
        if self.stage:
            prefer["audience"] = self.stage
        if self.industry:
            prefer["tags"] = self.industry
        return prefer


def _clean(name: str, value: str) -> object:
    if name == "staff":
        if value == "":
            return None
        if not value.isdigit() or int(value) > 1_000_000:
            raise ProfileError(f"staff must be a whole number of people, e.g. staff=6 (got '{value}')")
        return int(value)
    if len(value) > 200:
        raise ProfileError(f"{name} is too long (at most 200 characters)")
    return value


def trim_history(history: Sequence[Exchange], budget_tokens: int) -> list[Exchange]:
    """The most recent exchanges that fit in `budget_tokens`, oldest dropped first."""
    kept: list[Exchange] = []
    used = 0
    for exchange in reversed(history):
        cost = count_tokens(exchange.question) + count_tokens(exchange.answer)
        if used + cost > budget_tokens:
            break
        kept.append(exchange)
        used += cost
    return list(reversed(kept))


_FOLLOW_UP = re.compile(
    r"^(?:and|but|also|what about|how about|what if|and if|same for|why|how so|ok(?:ay)?|so)\b"
    r"|\b(?:it|that|this|they|them|those|these|there)\b",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    "a an the and or but if of to in on for with at by from as is are was were be been being do does did "
    "i me my we our you your it its this that these those they them what which who whom how why when where "
    "can could should would will shall may might must have has had not no so than then there here about "
    "into over under up down out more most some any all each very just also get got".split()
)


def looks_like_follow_up(question: str) -> bool:
    """A question that leans on the previous one ('what about for exporters?', 'is it expensive?')."""
    return bool(_FOLLOW_UP.search(question))


SHORT_QUESTION_WORDS = 6


def needs_rewrite(question: str) -> bool:
    """Could the question mean something else without the conversation before it?"""
    return looks_like_follow_up(question) or len(question.split()) <= SHORT_QUESTION_WORDS


def heuristic_standalone(question: str, history: Sequence[Exchange]) -> str:
    """Offline follow-up rewriting: append the previous question's key terms to a follow-up."""
    if not history or not looks_like_follow_up(question):
        return question
    previous = history[-1].standalone_question or history[-1].question
    terms = [w for w in re.findall(r"[\w'-]+", previous) if w.lower() not in _STOPWORDS]
    new = [t for t in terms if t.lower() not in question.lower()]
    return f"{question} ({' '.join(new)})" if new else question
