"""The answer composed without an LLM: the most relevant sentences, cited.

This is the embedded default and the fallback when an LLM fails. It picks
sentences (not whole chunks) from the best passages by meaning, skips ones
that repeat what is already said, and numbers citations to match the sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bot.index import Embedder
from bot.retrieval import Passage

MAX_SENTENCES = 4
MAX_WORDS = 130
MIN_WORDS = 6
REDUNDANT = 0.85  # cosine above which a sentence says nothing new
PASSAGE_MARGIN = 0.12  # passages this far below the best one are not quoted


@dataclass(frozen=True)
class Composed:
    text: str
    cited: list[Passage]


def compose(question: str, passages: list[Passage], embedder: Embedder) -> Composed:
    """Select up to a few sentences that answer the question and cite their passages.

    Relevance is the sentence's similarity to the question plus a share of its
    passage's score, so a strong sentence from a weak passage does not win.
    """
    usable = _usable_passages(passages)
    candidates = [(p, s) for p in usable for s in sentences(p.text)]
    if not candidates:
        return Composed("", [])
    question_vector = embedder.embed_query(question)
    vectors = embedder.embed([s for _, s in candidates])
    passage_scores = np.array([p.score for p, _ in candidates])
    relevance = 0.7 * (vectors @ question_vector) + 0.3 * passage_scores
    chosen = _select(relevance, vectors, [len(s.split()) for _, s in candidates])
    picked = sorted(chosen, key=lambda i: (usable.index(candidates[i][0]), i))
    cited: list[Passage] = []
    lines = []
    for i in picked:
        passage, sentence = candidates[i]
        if passage not in cited:
            cited.append(passage)
        lines.append(f"- {sentence} [{cited.index(passage) + 1}]")
    return Composed("\n".join(lines), cited)


def _usable_passages(passages: list[Passage]) -> list[Passage]:
    if not passages:
        return []
    best = passages[0].score
    return [p for p in passages if p.score >= best - PASSAGE_MARGIN][:4]


def _select(relevance: np.ndarray, vectors: np.ndarray, word_counts: list[int]) -> list[int]:
    """Greedy pick by relevance, skipping near-duplicates of what is already picked."""
    chosen: list[int] = []
    words = 0
    for i in np.argsort(-relevance):
        if len(chosen) >= MAX_SENTENCES:
            break
        if chosen and float(np.max(vectors[chosen] @ vectors[i])) > REDUNDANT:
            continue
        if chosen and relevance[i] < relevance[chosen[0]] - 0.25:
            break
        chosen.append(int(i))
        words += word_counts[i]
        if words > MAX_WORDS:
            break
    return chosen


_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(])")


def sentences(text: str) -> list[str]:
    """Split a chunk into readable sentences: list items and table rows count as lines."""
    result = []
    for line in text.splitlines():
        line = _LIST_MARK.sub("", line).strip()
        if not line or line.startswith(("#", "|", "```")):
            continue
        line = _MD_LINK.sub(r"\1", line).replace("**", "").replace("__", "")
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.strip()
            if len(sentence.split()) >= MIN_WORDS:
                result.append(sentence if sentence[-1] in ".!?:" else sentence + ".")
    return result
