"""Boilerplate: paragraphs that repeat across knowledge files (a footer, an attribution line,
a disclaimer, a "contact us" block) say nothing about the file they sit in.

Left alone, such a paragraph matches every question that uses its words, in as many files as
carry it, and crowds out the passages that answer. When an index version's BM25 part is built
(`bot.index.lexical`, at ingest), paragraphs found in BOILERPLATE_FILES files or more are
detected; BM25 does not read them, and a chunk that is mostly boilerplate is recorded, so the
retriever lowers its cosine by JUNK_PENALTY (dense and hybrid search alike). Text that merely
repeats itself within one chunk is left out at ingest already (`is_degenerate` in
`bot.knowledge.chunks`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

BOILERPLATE_FILES = 3  # a paragraph in this many files is a template's, not a file's own
MIN_WORDS = 4  # shorter lines ("Summary", "See also") are headings, not boilerplate
JUNK_SHARE = 0.5  # a chunk with at least this share of its words in boilerplate is junk
JUNK_PENALTY = 0.25  # taken off a junk chunk's cosine: a footer that echoes the question still falls behind the answer

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_PARAGRAPH = re.compile(r"\n\s*\n|\n(?=\s*[-*>•])")  # blank lines, and list items or quotes


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _PARAGRAPH.split(text) if p.strip()]


def _key(paragraph: str) -> str:
    """A paragraph's words, lower-cased, digits and punctuation dropped: a footer with another
    year or page number is the same footer."""
    return " ".join(_WORD.findall(paragraph.lower()))


def find_boilerplate(texts: Sequence[str], metadatas: Sequence[dict]) -> frozenset[str]:
    """The normalised paragraphs that occur in BOILERPLATE_FILES or more distinct files."""
    files: dict[str, set[str]] = defaultdict(set)
    for text, meta in zip(texts, metadatas, strict=True):
        for paragraph in paragraphs(text):
            key = _key(paragraph)
            if len(key.split()) >= MIN_WORDS:
                files[key].add(meta.get("path", ""))
    return frozenset(key for key, where in files.items() if len(where) >= BOILERPLATE_FILES)


def without_boilerplate(text: str, boilerplate: frozenset[str]) -> str:
    """`text` minus its boilerplate paragraphs (what BM25 reads of a chunk)."""
    if not boilerplate:
        return text
    return "\n\n".join(p for p in paragraphs(text) if _key(p) not in boilerplate)


def is_junk(text: str, boilerplate: frozenset[str]) -> bool:
    """Whether most of the chunk's words are boilerplate."""
    if not boilerplate:
        return False
    total = junk = 0
    for paragraph in paragraphs(text):
        words = len(_WORD.findall(paragraph))
        total += words
        junk += words if _key(paragraph) in boilerplate else 0
    return total > 0 and junk / total >= JUNK_SHARE
