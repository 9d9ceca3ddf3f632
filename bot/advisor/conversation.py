"""What the advisor knows about the conversation: earlier exchanges and the owner's profile
(the `Profile` itself is in `bot.advisor.profile`, re-exported here).

Channels load these from storage and pass them in; the advisor never stores
anything itself. History is trimmed to a token budget, oldest first, so a long
chat cannot crowd the knowledge passages out of the prompt.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.advisor.chat_model import without_controls
from bot.advisor.profile import Profile as Profile  # the profile, re-exported where it was
from bot.advisor.profile import ProfileError as ProfileError
from bot.advisor.profile import profile_pairs as profile_pairs
from bot.knowledge.tokens import count_tokens, fits_tokens


@dataclass(frozen=True)
class Exchange:
    """One earlier question and the answer the owner was given."""

    question: str
    answer: str
    standalone_question: str = ""
    sections: tuple[str, ...] = ()  # the knowledge sections the answer cited (`path#heading`)


def trim_history(
    history: Sequence[Exchange], budget_tokens: int, count: Callable[[str], int] = count_tokens
) -> list[Exchange]:
    """The most recent exchanges that fit in `budget_tokens`, oldest dropped first (all of them,
    without counting, when their bytes alone fit). `count`: tiktoken's encoding by default; the
    advisor counts with the multilingual model's tokenizer, which it holds anyway."""
    if sum(len(f"{e.question}{e.answer}".encode("utf-8", "surrogatepass")) for e in history) <= budget_tokens:
        return list(history)
    kept: list[Exchange] = []
    used = 0
    for exchange in reversed(history):
        cost = count(exchange.question) + count(exchange.answer)
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
# Asking for more of the same, as a whole question ("what else can I do?", "tell me more"); a
# "more" inside a question of its own ("how do I get more customers?") is not one.
_MORE = re.compile(
    r"^\W*(?:and\s+)?(?:what|anything|something|who|where|how)\s+else\b"
    r"|^\W*(?:(?:please|can you|could you)\s+)?(?:tell|show|give)\s+me\s+more\b"
    r"|^\W*(?:and\s+)?(?:more|go on|continue|keep going|more details|more info(?:rmation)?|details|then what|next)"
    r"(?:\s+please)?\W*$",
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
    return bool(_FOLLOW_UP.search(question)) or asks_for_more(question)


def asks_for_more(question: str) -> bool:
    """A short question asking for more on the conversation's topic ('what else?', 'tell me
    more'); a longer one says what it wants ('what else should a loan application include?')."""
    return bool(_MORE.search(question)) and word_count(question) <= SHORT_QUESTION_WORDS


SHORT_QUESTION_WORDS = 6

_EXAMPLE = re.compile(
    r"\b(?:examples?|e\.g|for instance|case stud|sample|illustrat|worked out|show me|what would .* look like"
    r"|ejemplo|exemple|beispiel|exemplo|contoh|mfano)|пример|例|مثال",
    re.IGNORECASE,
)


def asks_for_example(question: str) -> bool:
    """Does the owner ask to see a case ("an example of a ten-year plan?", "show me one")? Only
    then may a section that illustrates lead: for "how do I write a 10-year plan?" the plumbing
    firm's plan is the second thing to show, not the first."""
    return bool(_EXAMPLE.search(question))


def needs_rewrite(question: str) -> bool:
    """Could the question mean something else without the conversation before it?"""
    return looks_like_follow_up(question) or word_count(question) <= SHORT_QUESTION_WORDS


_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")
UNSPACED_CHARACTERS_PER_WORD = 2  # Chinese, Japanese, Thai: about two characters make a word


def word_count(text: str) -> int:
    """How many words a text has, also in scripts written without spaces between words
    ("我该如何给蛋糕定价？" is a whole question of about five words, not one)."""
    unspaced = len(_UNSPACED.findall(text))
    spaced = len(_UNSPACED.sub(" ", text).split())
    return spaced + -(-unspaced // UNSPACED_CHARACTERS_PER_WORD)


FRAGMENT_WORDS = 2  # "costs?", "and tariffs?": too short to be a question of its own


def heuristic_standalone(question: str, history: Sequence[Exchange], unclear: bool = False) -> str:
    """Offline follow-up rewriting: append the previous question's key terms to a follow-up: a
    question with a word pointing back, or (`unclear`: it matches nothing well on its own) a
    fragment of a word or two. A longer question that matches nothing ("What is the capital of
    Peru?") is left alone: without a model, borrowing terms would answer it off the topic."""
    fragment = unclear and word_count(question) <= FRAGMENT_WORDS
    if not history or not (fragment or looks_like_follow_up(question)):
        return question
    previous = history[-1].standalone_question or history[-1].question
    terms = [w for w in re.findall(r"[\w'-]+", previous) if w.lower() not in _STOPWORDS]
    new = [t for t in terms if t.lower() not in question.lower()]
    return f"{question} ({' '.join(new)})" if new else question


_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
_ASKS = re.compile(
    r"\?\s*[\"')]*$|^\W*(?:how|what|which|when|where|why|who|should|can|could|would|is|are|do|does|did|will|"
    r"shall|may|might|tell me|explain|help me|give me|show me|suggest|recommend|advise)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Focus:
    """What of a message is answered: `text` (the question with the context that fits) and
    `question` (the sentence that asks, what retrieval searches for). `cut` says the message
    was over the limit; `asked` is its asking sentence as the owner is shown it (None: it had
    none), and `context` whether text before it was kept."""

    text: str
    question: str
    cut: bool = False
    asked: str | None = None
    context: bool = False


# What shows as nothing: a soft hyphen pasted from a web page split "lo\u00adan" into two unknown
# words and turned a covered question into a decline; a terminal's colour codes did the same.
# (Zero-width joiners stay: some scripts and emoji need them.) Other control characters go with
# `without_controls`, after the colour codes whose ESC they would leave behind.
_INVISIBLE = re.compile("\x1b\\[[0-9;?]*[ -/]*[@-~]|[\u00ad\u200b\u2060\ufeff]")


def focus_question(message: str, limit_tokens: int, count: Callable[[str], int] = count_tokens) -> Focus:
    """A message over `limit_tokens` cut to what matters: its last sentence that asks something,
    and as much of the context before it as fits; characters that show as nothing are dropped.
    `count`: tiktoken's encoding by default; the advisor passes a tokenizer it holds anyway."""
    message = without_controls(_INVISIBLE.sub("", message))
    text = " ".join(message.split())
    if fits_tokens(text, limit_tokens, count):
        return Focus(text, text)
    sentences = [s.strip() for s in _SENTENCE.split(message) if s.strip()]
    asking = [n for n, sentence in enumerate(sentences) if _ASKS.search(sentence)]
    last = asking[-1] if asking else len(sentences) - 1
    kept = [_tail(sentences[last], limit_tokens, count)]
    used = count(kept[0])
    for sentence in reversed(sentences[:last]):
        cost = count(sentence) + 1
        if used + cost > limit_tokens:
            break
        kept.insert(0, sentence)
        used += cost
    shown = kept[-1] if len(kept[-1]) <= 80 else kept[-1][:79] + "…"
    return Focus(" ".join(" ".join(kept).split()), kept[-1], True, shown if asking else None, len(kept) > 1)


def _tail(sentence: str, limit_tokens: int, count: Callable[[str], int]) -> str:
    """A sentence cut from the front to `limit_tokens`, if it is longer than that on its own: from
    the earliest word whose rest fits (else the earliest character: a script written without
    spaces, one endless word), found by halving, so a long paste costs a few dozen counts."""
    if count(sentence) <= limit_tokens:
        return sentence
    words = [m.start() for m in re.finditer(r"(?<=\s)\S", sentence)]
    for starts in (words, range(1, len(sentence))):
        first = bisect.bisect_left(starts, True, key=lambda at: count("…" + sentence[at:].lstrip()) <= limit_tokens)
        if first < len(starts):
            return "…" + sentence[starts[first] :].lstrip()
    return "…"
