"""Lexical search: BM25 (bm25s) over the same chunks as the vectors, for exact names and acronyms.

Small embedding models blur rare exact words (a programme's name, an acronym); BM25 does not.
`LexicalIndex.build` tokenises each chunk in its file's language (front matter `language:`,
default English: that language's stop words dropped, words stemmed with PyStemmer's Snowball
stemmers), and `save` writes it into the index version's own folder (`lexical/`), so the live
switch (`bot.index.versions`) moves dense and lexical together. Nothing is downloaded.

Junk robustness: a chunk's term counts are capped (`MAX_TF`), so a chunk that repeats a word
(a caption, an attribution line said twice) cannot outscore real prose on it; paragraphs repeated
across files (footers, disclaimers: `bot.index.boilerplate`) are not read at all, and the chunks
made mostly of them are kept in `junk` for the retriever to down-weight on the vector side too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from bot.index.boilerplate import find_boilerplate, is_junk, without_boilerplate
from bot.index.versions import replace_folder

FOLDER = "lexical"
MAX_TF = 3  # a word counts at most this often in one chunk
_WORD = re.compile(r"\w+", re.UNICODE)
_STEMMERS = {
    "en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian", "ru": "russian", "tr": "turkish",
    "fi": "finnish", "pl": "polish", "id": "indonesian", "ar": "arabic", "hi": "hindi",
}  # fmt: skip
_STOPWORDS = {
    "en": "STOPWORDS_EN_PLUS", "de": "STOPWORDS_GERMAN", "fr": "STOPWORDS_FRENCH", "es": "STOPWORDS_SPANISH",
    "it": "STOPWORDS_ITALIAN", "pt": "STOPWORDS_PORTUGUESE", "nl": "STOPWORDS_DUTCH", "sv": "STOPWORDS_SWEDISH",
    "da": "STOPWORDS_DANISH", "no": "STOPWORDS_NORWEGIAN", "ru": "STOPWORDS_RUSSIAN", "tr": "STOPWORDS_TURKISH",
}  # fmt: skip


@cache
def _stemmer(language: str):
    import Stemmer

    name = _STEMMERS.get(language)
    return Stemmer.Stemmer(name) if name else None


@cache
def _stopwords(language: str) -> frozenset[str]:
    name = _STOPWORDS.get(language)
    return frozenset(getattr(_stopword_lists(), name)) if name else frozenset()


@cache
def _stopword_lists():
    """bm25s's stop word lists (`bm25s/stopwords.py`, plain tuples), read from their file without
    importing bm25s itself: its package imports scipy (~15 MB, ~0.15 s), which a serving bot that
    tokenises questions but reads no BM25 index does not need."""
    if "bm25s.stopwords" in sys.modules:
        return sys.modules["bm25s.stopwords"]
    package = importlib.util.find_spec("bm25s")
    assert package is not None and package.submodule_search_locations, "bm25s is not installed"
    path = Path(package.submodule_search_locations[0]) / "stopwords.py"
    spec = importlib.util.spec_from_file_location("_bm25s_stopwords", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tokenize(text: str, language: str = "en") -> list[str]:
    """Lower-cased words of `text` without the language's stop words, stemmed."""
    language = (language or "en").split("-")[0].lower()
    stop = _stopwords(language)
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    stemmer = _stemmer(language)
    return stemmer.stemWords(words) if stemmer else words


def searchable(text: str, meta: dict) -> str:
    """What BM25 reads of a chunk: heading path, tags, text."""
    return "\n".join(part for part in (meta.get("heading", ""), meta.get("tags", ""), text) if part)


def _capped(tokens: list[str]) -> list[str]:
    counts: dict[str, int] = {}
    kept = []
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
        if counts[token] <= MAX_TF:
            kept.append(token)
    return kept


class LexicalIndex:
    """BM25 over chunk ids; `search` gives (chunk id, BM25 score), best first."""

    def __init__(self, model, ids: list[str], junk: frozenset[str] = frozenset()) -> None:
        self.model = model
        self.ids = ids
        self.junk = junk  # ids of chunks made mostly of boilerplate

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict]) -> LexicalIndex:
        """From chunks as the index stores them: each is searched by its text, its heading path
        (title › section, as the vectors embed it) and its file's tags, without boilerplate."""
        import bm25s

        boilerplate = find_boilerplate(texts, metadatas)
        corpus = [
            _capped(tokenize(searchable(without_boilerplate(text, boilerplate), meta), meta.get("language") or "en"))
            or ["\x00"]
            for text, meta in zip(texts, metadatas, strict=True)
        ]
        model = bm25s.BM25()
        model.index(corpus, show_progress=False)
        junk = frozenset(i for i, text in zip(ids, texts, strict=True) if is_junk(text, boilerplate))
        return cls(model, list(ids), junk)

    def search(self, question: str, n: int, languages: Sequence[str] = ("en",)) -> list[tuple[str, float]]:
        tokens = list(dict.fromkeys(t for lang in languages for t in tokenize(question, lang)))
        vocab = self.model.vocab_dict
        tokens = [t for t in tokens if t in vocab]
        if not tokens or not self.ids:
            return []
        import numpy as np

        scores = self.model.get_scores(tokens)  # bm25s' sparse sum; its retrieve() adds ~1 ms of overhead
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[int(d)], float(scores[d])) for d in top if scores[d] > 0]

    def save(self, folder: Path) -> None:
        """Write into `folder/lexical` atomically: a new folder beside it, then one rename."""
        target = folder / FOLDER
        temporary = folder / f".{FOLDER}.{os.getpid()}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)
        self.model.save(str(temporary))
        (temporary / "junk.json").write_text(json.dumps(sorted(self.junk)))
        (temporary / "ids.json").write_text(json.dumps(self.ids))  # last: its presence marks a whole index
        replace_folder(temporary, target)

    @classmethod
    def load(cls, folder: Path | None) -> LexicalIndex | None:
        """The lexical index saved in `folder`, or None (an index from before, or a Chroma server)."""
        if folder is None or not (folder / FOLDER / "ids.json").exists():
            return None
        import bm25s

        model = bm25s.BM25.load(str(folder / FOLDER))
        junk = folder / FOLDER / "junk.json"
        ids = json.loads((folder / FOLDER / "ids.json").read_text())
        return cls(model, ids, frozenset(json.loads(junk.read_text())) if junk.exists() else frozenset())


def has_lexical(folder: Path) -> bool:
    return (folder / FOLDER / "ids.json").exists()
