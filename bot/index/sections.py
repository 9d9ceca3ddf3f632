"""Sections as candidate answers, and the signals that say how well each fits a question.

An owner judges an answer by the section it leads with, so every section of the live index
version is scored against each question, in memory (`SectionIndex`, built once per version
from the collections: a few MB of vectors, scored in well under a millisecond):

- `dense`: the best cosine of one of the section's chunks (its prose), per embedding space,
- `asked`: the best cosine of one of the section's questions (its heading and the ways owners
  ask it, `bot.knowledge.asked`), per space: question-to-question similarity is what both
  embedding models are best at,
- `words`: the share of the question's content words the section holds (text, heading and ways
  of asking), each weighted by how rare it is among the sections (IDF): "a second shop" and a
  section on "second sourcing" share "second" but not "shop", and a word the knowledge base has
  nowhere ("oven") counts as rare as can be.

It scores nothing and decides nothing: the advisor weighs these signals (`bot.advisor.coverage`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.index.boilerplate import JUNK_PENALTY, find_boilerplate, is_junk
from bot.index.lexical import tokenize
from bot.index.section_sources import FOLDER, ROWS, FromChroma, Reused, has_sections, question_records
from bot.index.versions import replace_folder

log = logging.getLogger(__name__)

# The headings of sections that illustrate (a case, not an answer); a question heading that ends in
# "A worked example" still answers its question first.
ILLUSTRATION = re.compile(r"\W*(?:a\s+)?(?:worked\s+|hypothetical\s+)?(?:examples?|case\s+stud(?:y|ies))\b", re.I)


@dataclass
class Section:
    """One section of a knowledge file: its whole text (chunks joined, overlap said once), the ways
    owners ask its question, and what its front matter says."""

    path: str
    title: str
    heading: str  # its heading path ("Title > Section"), as its chunks record it
    text: str
    asked: tuple[str, ...] = ()
    chunk_ids: tuple[str, ...] = ()
    intro: bool = False  # the text under a file's title: what the file covers, never an answer of its own
    language: str = "en"
    order: int = 0  # its place in the file
    topic: str = ""
    tags: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    _words: set[str] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """`path#heading`, as the eval set and the answer name a section."""
        return f"{self.path}#{self.own_heading}"

    @property
    def own_heading(self) -> str:
        return self.heading.split(" > ")[-1]

    @property
    def illustration(self) -> bool:
        """A section that shows a case ("Example: a ten-year plan for a plumbing firm", "Worked
        example: …") rather than answering a question: it leads only an owner who asks for one."""
        return ILLUSTRATION.match(self.own_heading) is not None

    def words(self) -> set[str]:
        """Its content words, stemmed (its file's title, its heading, text and ways of asking),
        worked out once."""
        if self._words is None:
            self._words = words_of([self.title, self.own_heading, self.text, *self.asked], self.language)
        return self._words


@dataclass
class SectionMatch:
    """A section as a candidate answer to one question, with its signals. `dense` and `asked`
    are by embedding space ("minilm", "e5"), on the scale MIN_SCORE is set on."""

    section: Section
    dense: dict[str, float] = field(default_factory=dict)
    asked: dict[str, float] = field(default_factory=dict)
    asked_question: str = ""  # the section's question that matched best (in the question's space)
    words: float | None = None  # None: not compared (a question in another language than the section)

    @property
    def key(self) -> str:
        return self.section.key

    def features(self) -> dict[str, float]:
        """Its signals by name (`dense.minilm`, `asked.e5`, `words`…), as the coverage model reads
        them. A section without ways of asking has no `asked` signal (its heading alone, often not
        a question at all, says too little): the model judges it by its prose."""
        named = {f"dense.{space}": value for space, value in self.dense.items()}
        if self.section.asked:
            named |= {f"asked.{space}": value for space, value in self.asked.items()}
        return named if self.words is None else named | {"words": self.words}


@dataclass
class _Space:
    """One embedding space's vectors: chunks and questions, each row with its section's number."""

    chunks: np.ndarray
    chunk_section: np.ndarray
    chunk_penalty: np.ndarray
    questions: np.ndarray
    question_section: np.ndarray
    question_texts: list[str]
    chunk_ids: list[str] = field(default_factory=list)  # each row's record id, for the next version
    question_ids: list[str] = field(default_factory=list)
    recipes: set[str] = field(default_factory=set)  # the recipes that made its vectors


_ARRAYS = ("chunks", "chunk_section", "chunk_penalty", "questions", "question_section")


class SectionIndex:
    """Every section of one index version, scored against a question in memory."""

    def __init__(self, sections: list[Section], spaces: dict[str, _Space]) -> None:
        self.sections = sections
        self.spaces = spaces
        self.intro_penalty = np.array([10.0 if s.intro else 0.0 for s in sections], dtype=np.float32)
        self.titles = {s.path: s.title for s in sections}
        self._frequency: dict[str, int] | None = None
        self.first_questions: dict[str, Section] = {}  # by path: its first section whose heading is a question
        for section in sections:  # in file order
            if not section.intro and section.own_heading.endswith("?"):
                self.first_questions.setdefault(section.path, section)

    @classmethod
    def load(
        cls, index, spaces: dict[str | None, str], earlier: Path | None = None, chunks: tuple | None = None
    ) -> SectionIndex:
        """From an index's collections: `spaces` maps each collection's space (None: the first) to
        the embedding space's name; a mostly-boilerplate chunk counts JUNK_PENALTY less. `earlier`:
        a version whose saved sections hold most records' vectors, read from its files instead of
        out of Chroma (`Reused`; a damaged copy is not used). `chunks`: every chunk, if read already."""
        if earlier is not None and has_sections(earlier):
            try:
                return cls._from(Reused(index, earlier, chunks), spaces)
            except (OSError, ValueError, LookupError, TypeError, AttributeError) as exc:  # a damaged rows.json or array
                log.warning("cannot reuse the sections saved in %s (%s); reading them all from the index", earlier, exc)
        return cls._from(FromChroma(index), spaces)

    @classmethod
    def _from(cls, source, spaces: dict[str | None, str]) -> SectionIndex:
        ids, texts, metas, first_vectors = source.records(questions=False, space=None, name=spaces.get(None, ""))
        sections, number_of = _sections(ids, texts, metas)
        boilerplate = find_boilerplate(texts, metas)
        junk = frozenset(id_ for id_, text in zip(ids, texts, strict=True) if is_junk(text, boilerplate))
        loaded: dict[str, _Space] = {}
        for space, name in spaces.items():
            chunk_ids, _, chunk_metas, chunks = (
                (ids, texts, metas, first_vectors)
                if space is None
                else source.records(questions=False, space=space, name=name)
            )
            question_ids, question_texts, question_metas, questions = source.records(True, space, name)
            keep = [n for n, meta in enumerate(chunk_metas) if _key(meta) in number_of]
            asked = [n for n, meta in enumerate(question_metas) if _key(meta) in number_of]
            loaded[name] = _Space(
                _rows(chunks, keep),
                np.array([number_of[_key(chunk_metas[n])] for n in keep], dtype=np.int64),
                np.array([JUNK_PENALTY if chunk_ids[n] in junk else 0.0 for n in keep], dtype=np.float32),
                _rows(questions, asked),
                np.array([number_of[_key(question_metas[n])] for n in asked], dtype=np.int64),
                [question_texts[n] for n in asked],
                [chunk_ids[n] for n in keep],
                [question_ids[n] for n in asked],
                {chunk_metas[n].get("recipe", "") for n in keep} | {question_metas[n].get("recipe", "") for n in asked},
            )
        return cls(sections, loaded)

    def save(self, folder: Path) -> None:
        """Write into `folder/sections` (an index version's own folder, as its BM25 part): the
        sections as JSON and every space's vectors as one .npy file each, which `read` maps into
        memory instead of reading them out of Chroma (whose vector index would then sit in the
        serving process's memory too). Atomic: a new folder beside it, then one rename."""
        target, temporary = folder / FOLDER, folder / f".{FOLDER}.{os.getpid()}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        spaces, rows = {}, {}
        for name, space in self.spaces.items():
            for part in _ARRAYS:
                np.save(temporary / f"{name}.{part}.npy", getattr(space, part), allow_pickle=False)
            spaces[name] = space.question_texts
            recipe = next(iter(space.recipes)) if len(space.recipes) == 1 else None
            rows[name] = {"chunks": space.chunk_ids, "questions": space.question_ids, "recipe": recipe}
            if recipe and not rows[next(iter(rows))].get("question_records"):  # each space has the same questions
                rows[name]["question_records"] = question_records(self.sections, space, recipe)
        sections = [dataclasses.asdict(section) | {"_words": None} for section in self.sections]
        data = {"sections": sections, "questions": spaces}
        (temporary / "sections.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        (temporary / ROWS).write_text(json.dumps(rows), encoding="utf-8")  # read by the next ingest, not the bot
        replace_folder(temporary, target)

    @classmethod
    def read(cls, folder: Path | None) -> SectionIndex | None:
        """The sections saved in `folder` (`save`), their vectors mapped from disk; None when the
        version has none (a Chroma server, or a version from before)."""
        if folder is None or not (folder / FOLDER / "sections.json").exists():
            return None
        data = json.loads((folder / FOLDER / "sections.json").read_text(encoding="utf-8"))
        sections = [Section(**{k: v for k, v in entry.items() if k != "_words"}) for entry in data["sections"]]
        for section in sections:
            for name in ("asked", "chunk_ids", "tags", "audience", "region"):
                setattr(section, name, tuple(getattr(section, name)))
        spaces = {
            name: _Space(
                *(np.load(folder / FOLDER / f"{name}.{part}.npy", mmap_mode="r") for part in _ARRAYS),
                question_texts=texts,
            )
            for name, texts in data["questions"].items()
        }
        return cls(sections, spaces)

    def document_frequency(self, word: str) -> int:
        """In how many sections `word` (as `tokenize` gives it) appears: how common it is in this
        knowledge base (counted at first use, once per index version)."""
        if self._frequency is None:
            counts: dict[str, int] = {}
            for section in self.sections:
                for known in section.words():
                    counts[known] = counts.get(known, 0) + 1
            self._frequency = counts
        return self._frequency.get(word, 0)

    def coverage(self, words: set[str], section: Section) -> float:
        """The IDF-weighted share of a question's content `words` that `section` holds."""
        return word_coverage(words, section.words(), self.document_frequency, len(self.sections))

    def find(self, key: tuple[str, str]) -> Section | None:
        return next((section for section in self.sections if (section.path, section.heading) == key), None)

    def matches(
        self,
        vectors: dict[str, np.ndarray],
        calibrate: dict[str, Callable[[float], float]],
        primary: str,
        limit: int,
    ) -> list[SectionMatch]:
        """The `limit` sections (never the introduction of a file that has sections) whose prose
        and question match best in the `primary` space, as `SectionMatch`es with `dense` and
        `asked` in each space of `vectors`, best first."""
        count = len(self.sections)
        dense: dict[str, np.ndarray] = {}
        asked: dict[str, np.ndarray] = {}
        best_question: dict[str, np.ndarray] = {}
        for name, vector in vectors.items():
            space = self.spaces.get(name)
            if space is None or not len(space.chunk_section):
                continue
            dense[name] = _best(space.chunks @ vector - space.chunk_penalty, space.chunk_section, count)
            if len(space.question_section):
                similarity = space.questions @ vector
                asked[name] = _best(similarity, space.question_section, count)
                if name == primary:
                    best_question[name] = _argbest(similarity, space.question_section, count)
        if primary not in dense:
            return []
        order = dense[primary] + np.maximum(asked.get(primary, np.zeros(count)), 0.0) - self.intro_penalty
        found = []
        for number in np.argsort(-order)[:limit]:
            section = self.sections[int(number)]
            if section.intro:
                continue
            match = SectionMatch(section)
            for name in dense:
                match.dense[name] = round(calibrate[name](float(dense[name][number])), 4)
            for name in asked:
                value = float(asked[name][number])
                match.asked[name] = round(calibrate[name](value), 4) if value > -1 else 0.0
            if primary in best_question and best_question[primary][number] >= 0:
                match.asked_question = self.spaces[primary].question_texts[int(best_question[primary][number])]
            found.append(match)
        return found


def _best(similarity: np.ndarray, section: np.ndarray, count: int) -> np.ndarray:
    best = np.full(count, -2.0, dtype=np.float32)
    np.maximum.at(best, section, similarity)
    return best


def _argbest(similarity: np.ndarray, section: np.ndarray, count: int) -> np.ndarray:
    """For each section, the row of its most similar question (-1: it has none; of equal ones the
    first): the first row reaching its best, not a lexsort of every row (~1 ms per answer)."""
    first, best = np.full(count, -1, dtype=np.int64), np.full(count, -np.inf, dtype=similarity.dtype)
    np.maximum.at(best, section, similarity)
    rows = np.flatnonzero(similarity == best[section])  # ascending: a tie's first row comes first
    sections, at = np.unique(section[rows], return_index=True)  # the first occurrence of each
    first[sections] = rows[at]
    return first


def _rows(matrix: np.ndarray, keep: list[int]) -> np.ndarray:
    if not keep:
        return np.zeros((0, matrix.shape[1] if matrix.ndim == 2 else 0), dtype=np.float32)
    return np.ascontiguousarray(matrix[keep], dtype=np.float32)


def _key(meta: dict) -> tuple[str, str]:
    return meta.get("path", ""), meta.get("heading", "")


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _sections(ids: list[str], texts: list[str], metas: list[dict]) -> tuple[list[Section], dict]:
    """Sections from their chunks (as `KnowledgeIndex.all_chunks` gives them), in file order."""
    grouped: dict[tuple[str, str], list[tuple[int, str, str, dict]]] = {}
    for id_, text, meta in zip(ids, texts, metas, strict=True):
        grouped.setdefault(_key(meta), []).append((int(meta.get("chunk_index", 0)), id_, text, meta))
    sections = []
    for (path, heading), chunks in grouped.items():
        chunks.sort(key=lambda chunk: chunk[0])
        first = chunks[0][3]
        sections.append(
            Section(
                path,
                first.get("title", ""),
                heading,
                first.get("section_text") or joined(text for _, _, text, _ in chunks),
                tuple(first.get("asked", "").splitlines()),
                tuple(id_ for _, id_, _, _ in chunks),
                bool(first.get("intro", False)),
                first.get("language") or "en",
                chunks[0][0],
                first.get("topic", ""),
                _split(first.get("tags", "")),
                _split(first.get("audience", "")),
                _split(first.get("region", "")),
            )
        )
    sections.sort(key=lambda s: (s.path, s.order))
    return sections, {(s.path, s.heading): n for n, s in enumerate(sections)}


def joined(chunks: Iterable[str]) -> str:
    """Consecutive chunks of one section as one text: the splitter repeats the end of a chunk at
    the start of the next (CHUNK_OVERLAP), which is said once here."""
    text = ""
    for chunk in chunks:
        chunk = chunk.strip()
        overlap = _overlap(text, chunk)
        if overlap:
            text += chunk[overlap:]
        else:
            text = f"{text}\n\n{chunk}" if text else chunk
    return text


def _overlap(before: str, after: str) -> int:
    """The length of the longest end of `before` that `after` starts with (at least 12
    characters, so a shared word is not taken for the overlap)."""
    for size in range(min(len(before), len(after)), 11, -1):
        if before.endswith(after[:size]):
            return size
    return 0


UNKNOWN_DOCUMENT_FREQUENCY = 0.5  # a word the knowledge base never uses: as rare as can be


def word_coverage(
    words: set[str], section_words: set[str], document_frequency: Callable[[str], int], documents: int
) -> float:
    """The IDF-weighted share of a question's content words (stemmed, stop words dropped, as
    `tokenize` gives them) that `section_words` holds; 1.0 for a question with no content word."""
    if not words:
        return 1.0
    total = found = 0.0
    for word in words:
        weight = math.log(1 + documents / max(document_frequency(word), UNKNOWN_DOCUMENT_FREQUENCY))
        total += weight
        if word in section_words:
            found += weight
    return found / total if total else 1.0


def words_of(texts: Iterable[str], language: str) -> set[str]:
    return {word for text in texts for word in tokenize(text, language)}
