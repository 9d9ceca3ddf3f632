"""Retrieval: a question in, the most relevant knowledge passages out.

Callers depend only on `Retriever.retrieve(question, k, filters) -> list[Passage]`,
so the way passages are found (vector search today, perhaps hybrid search or a
remote Chroma server later) can change without touching them. RETRIEVAL_MODE chooses vectors
(dense), BM25 words (lexical, `bot.index.lexical`) or both fused by rank (hybrid, `bot.index.fusion`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

from bot.index.boilerplate import JUNK_PENALTY
from bot.index.chroma import Catalog, KnowledgeIndex
from bot.index.embedder import BaseEmbedder
from bot.index.fusion import Fusion, fuse, fuse_scores, fused_shares
from bot.index.language import detect_language
from bot.index.lexical import LexicalIndex, tokenize
from bot.index.opening import make_index
from bot.index.passages import Passage, Preferences, matched_preferences, passage_from
from bot.index.provenance import FIX, IndexMismatchError, built_models, mismatch, missing_spaces
from bot.index.regions import is_regional, names_region
from bot.index.reloader import IndexReloader
from bot.index.sections import Section, SectionIndex, SectionMatch
from bot.index.spaces import Embeddings, make_embeddings, reads_as_english

log = logging.getLogger(__name__)

FILTER_FIELDS = ("topic", "path")
SECTION_CANDIDATES = 15  # sections weighed as the answer (`SectionSearch.matches`)
PREFER_BOOST = 0.03  # about the gap between neighbouring passages: enough to break near-ties
# A passage of a file written for some countries' owners (`region: [UK]`) steps back this much for a
# question that names none of them from an owner who does not live there (`bot.index.regions`).
ELSEWHERE_PENALTY = 0.08
WARM_UP_QUESTIONS = ("How can I get credit without collateral?", "¿Cómo consigo crédito sin garantía?")


@dataclass
class SectionSearch:
    """The sections a question may be answered by, best first, with their signals."""

    question: str
    matches: list[SectionMatch]
    space: str  # the embedding space the question is searched in ("minilm", "e5")


class Retriever:
    """Vector (and BM25) search over the knowledge index. With a `reloader` (local index versions), each
    search first follows a newly published version, so nothing reads a replaced index. An index
    embedded with other models than the configured ones is refused (`check_index`)."""

    def __init__(
        self, index: KnowledgeIndex, embedder: BaseEmbedder | Embeddings, reloader: IndexReloader | None = None
    ) -> None:
        self.index = index
        self.embeddings = embedder if isinstance(embedder, Embeddings) else Embeddings(embedder)
        self.embedder = self.embeddings.primary
        self.reloader = reloader
        self._catalog: tuple[KnowledgeIndex, Catalog] | None = None
        self._lexical: tuple[KnowledgeIndex, LexicalIndex | None] | None = None
        self._kept: tuple[KnowledgeIndex, set[str]] | None = None  # `_kept_spaces` of the index it names
        self._checked: KnowledgeIndex | None = None  # the index `check_index` last found searchable
        self._sections: list[tuple[KnowledgeIndex, SectionIndex]] = []  # the last two versions' sections
        self.check_seconds = 2.0  # how often a Chroma server is asked whether its files changed
        self._server_checked = float("-inf")
        self._server_files: dict | None = None
        self.fusion = Fusion()  # how dense and lexical rankings are combined (RETRIEVAL_MODE, …)

    def follow_versions(self, settings) -> IndexReloader | None:
        """Follow the index versions `python ingest.py` publishes under INDEX_DIR (not on a
        Chroma server, which is always current); returns the reloader, also for a timer."""
        if self.reloader is None and not settings.chroma_url:
            self.reloader = IndexReloader(settings, self)
        return self.reloader

    def retrieve(
        self,
        question: str,
        k: int = 5,
        filters: dict[str, str] | None = None,
        prefer: Preferences | None = None,
    ) -> list[Passage]:
        """The `k` passages nearest in meaning to `question`, best first.

        `filters` narrows the search by metadata, e.g. `{"topic": "credit"}`.
        `prefer` nudges passages whose front matter matches the owner (e.g.
        `{"region": ("AU",)}`) up by PREFER_BOOST, and a passage written for other countries'
        owners steps back by ELSEWHERE_PENALTY, among twice as many candidates.
        """
        self.check_index()
        embedder = self.embedder_for(question)
        vector = embedder.embed_query(question)
        n = k * 2
        lexical = self.lexical() if self.fusion.mode != "dense" else None
        if lexical is None:
            passages = self._nearest(vector, n, _where(filters), embedder)
        else:
            passages = self._fused(question, vector, n, filters, embedder, lexical)
        passages.sort(key=lambda p: -_for_this_owner(p, question, prefer or {}))
        return passages[:k]

    def sections(self, question: str, second_opinion: bool = False) -> SectionSearch:
        """The sections that may answer `question`, each with its signals (`bot.index.sections`),
        best first by the question's space's prose and question match. Every section of the
        index is scored in the space the question is searched in, and, with `second_opinion`, in
        every space the index keeps (an English question also by the multilingual model: when
        two models agree, the right section wins more often)."""
        self.check_index()
        embedder = self.embedder_for(question)
        # the other spaces' opinion on a question in the knowledge's language (MiniLM reads no other)
        kept = self.kept_spaces()
        others = [e for e in self.embeddings.embedders if e.space in kept]
        embedders = others if second_opinion and embedder is self.embedder else [embedder]
        vectors = self.embeddings.embed_question(question, embedders)
        calibrate = {e.space: e.calibrate for e in embedders}
        sections = self.section_index()
        found = sections.matches(vectors, calibrate, embedder.space, SECTION_CANDIDATES)
        language = detect_language(question) or ("en" if reads_as_english(question) else None)
        # a number ("60 days", "$25,000") is the owner's, not a topic: it says nothing of the sections
        words = {w for w in tokenize(question, language) if not w.isdigit()} if language else set()
        for match in found:  # a question in another language than the section is not compared word by word
            if match.section.language == language:
                match.words = sections.coverage(words, match.section)
        return SectionSearch(question, found, embedder.space)

    def section_index(self) -> SectionIndex:
        """Every section of the live index version with its vectors, read once per version (on a
        Chroma server, which an ingest updates in place, again when its files changed)."""
        if self.index.folder is None and self._server_changed():
            self._sections = [(known, sections) for known, sections in self._sections if known is not self.index]
            self._catalog = self._kept = None
        return self.prepare(self.index)

    def _server_changed(self) -> bool:
        """Whether a Chroma server's files (path, content, recipe) changed since the sections were
        read; looked at most every `check_seconds` (a few milliseconds: one record per file)."""
        now = time.monotonic()
        if now - self._server_checked < self.check_seconds:
            return False
        self._server_checked = now
        states = self.index.file_states()
        changed = self._server_files is not None and states != self._server_files
        self._server_files = states
        return changed

    def prepare(self, index: KnowledgeIndex) -> SectionIndex:
        """The sections of `index`, read now if not yet (the reloader calls it before a new
        version goes live, so no owner waits for it); the last two versions' are kept."""
        for known, sections in self._sections:
            if known is index:
                return sections
        sections = self._load_sections(index)
        self._sections = [*self._sections[-1:], (index, sections)]
        return sections

    def _load_sections(self, index: KnowledgeIndex) -> SectionIndex:
        """A local version's saved sections (mapped from disk), else read from the collections
        (a Chroma server, or a version published before sections were saved)."""
        saved = SectionIndex.read(index.folder)
        if saved is not None and set(saved.spaces) >= self._kept_spaces(index):
            return saved
        spaces = {self.embeddings.space_of(e): e.space for e in self.embeddings.embedders}
        sections = SectionIndex.load(index, spaces)
        if sections.sections and not any(len(space.question_section) for space in sections.spaces.values()):
            log.warning("the knowledge index has no section questions (built before they were indexed): %s", FIX)
        return sections

    def reads(self, question: str) -> bool:
        """Whether the live index keeps the space `question` is searched in. It may not: a first
        start answers English questions from MiniLM's space while e5's, which reads the other
        languages, is built behind the bot (`bot.knowledge.runner.first_stage`); or the index
        was built with fewer models than EMBEDDING_BACKEND names (`missing_spaces` warns)."""
        return self.embedder_for(question).space in self.kept_spaces()

    def kept_spaces(self) -> set[str]:
        """The configured spaces the live index keeps (the first always: its lack is a mismatch)."""
        return self._kept_spaces(self.index)

    def _kept_spaces(self, index: KnowledgeIndex) -> set[str]:
        """Worked out once per index version (every question asks)."""
        if self._kept is not None and self._kept[0] is index:
            return self._kept[1]
        built = built_models(self.catalog().recipes if index is self.index else index.catalog().recipes)
        kept = {
            e.space for e in self.embeddings.embedders if e is self.embedder or built is None or e.fingerprint in built
        }
        self._kept = (index, kept)
        return kept

    def title_of(self, path: str) -> str | None:
        """A knowledge file's title, by its path (None: not in the index)."""
        return self.section_index().titles.get(path)

    def first_question(self, path: str) -> Section | None:
        """The first section of a file whose heading is a question (a suggestion to ask next)."""
        return self.section_index().first_questions.get(path)

    def check_index(self) -> None:
        """Follow a newly published version (with a reloader), then make sure the configured models
        can search the index, once per index version; raises `IndexMismatchError` (one line: the
        models that built it, the setting, the fix) when they cannot (`bot.index.provenance`).
        A refused index is looked at again next time: an ingest may re-embed it meanwhile."""
        if self.reloader is not None:
            self.reloader.check_before_search()
        index = self.index
        if self._checked is index:
            return
        recipes = self.catalog().recipes
        problem = mismatch(recipes, self.embeddings)
        if problem:
            self._catalog = self._kept = None  # a Chroma server's collection is re-embedded in place
            raise IndexMismatchError(problem)
        if warning := missing_spaces(recipes, self.embeddings):
            log.warning("%s", warning)
        self._checked = index

    def warm_up(self) -> None:
        """Get ready to serve questions one at a time (`Embeddings.serve_queries`, chosen first:
        choosing after loading would throw a model session away), and load now what the first
        questions would otherwise wait for: each space's model (one that cannot load fails
        here, at start), the sections and their vectors, the catalog and the language
        identifier. The chunk collections' vector indexes and BM25 are not: answers are made
        from sections (`sections`), and `retrieve` loads them on the first use that needs them."""
        self.embeddings.serve_queries()
        for embedder in self.embeddings.embedders:
            embedder.embed_query("warm up")
        try:
            for question in WARM_UP_QUESTIONS:  # one searched in each space
                self.sections(question, second_opinion=True)
            self.catalog()
        except IndexMismatchError as exc:  # every question will fail until an ingest re-embeds
            log.error("cannot search the knowledge index: %s", exc)
        except Exception:  # the first question will say what is wrong, to someone who can act on it
            log.warning("could not search the index while warming up", exc_info=True)

    def embedder_for(self, question: str) -> BaseEmbedder:
        """The embedding model `question` is searched with (`bot.index.spaces`); the offline
        answer scores sentences against the question with the same one."""
        return self.embeddings.for_question(question, self.catalog().languages)

    def _nearest(self, vector, n: int, where: dict | None, embedder: BaseEmbedder) -> list[Passage]:
        """The `n` nearest passages, each text of a file once.

        While ingest updates a file on a Chroma server, the file's old and new chunks are
        both in the index for a moment (KnowledgeIndex.replace_file), so unchanged text is
        found twice. Then one more query, with room for the twins, still gives `n` passages.
        """
        space = self.embeddings.space_of(embedder)
        junk = self._junk()  # with junk in the index, room for the chunks it falls behind
        hits = self._down_weighted(self.index.search(vector, 2 * n if junk else n, where=where, space=space), junk)
        passages = _distinct(hits, embedder.calibrate)
        if len(passages) < min(n, len(hits)):
            more = self._down_weighted(self.index.search(vector, 4 * n, where=where, space=space), junk)
            passages = _distinct(more, embedder.calibrate)
        return passages[:n]

    def _junk(self) -> frozenset[str]:
        """The live version's chunks made mostly of boilerplate (`bot.index.boilerplate`)."""
        lexical = self.lexical()
        return lexical.junk if lexical is not None else frozenset()

    @staticmethod
    def _down_weighted(hits: list[tuple[str, str, dict, float]], junk: frozenset[str]) -> list[tuple[str, dict, float]]:
        """(text, metadata, cosine) best first, a junk chunk's cosine lowered by JUNK_PENALTY."""
        scored = [(doc, meta, sim - JUNK_PENALTY if id_ in junk else sim) for id_, doc, meta, sim in hits]
        return sorted(scored, key=lambda hit: -hit[2]) if junk else scored

    def lexical(self) -> LexicalIndex | None:
        """The live version's BM25 index (None for a Chroma server or an index built before it)."""
        index = self.index
        if self._lexical is None or self._lexical[0] is not index:
            self._lexical = (index, LexicalIndex.load(index.folder))
        return self._lexical[1]

    def _fused(self, question, vector, n, filters, embedder, lexical: LexicalIndex) -> list[Passage]:
        """Dense and BM25 candidates fused; each passage keeps its embedding score (the scale
        MIN_SCORE is set on), so 'how well the best passage matches' means what it did.

        Texts are read only for the winners. A BM25 hit outside the dense candidates counts with
        the lowest dense candidate's cosine (its own is no higher), and is looked up, with its
        exact cosine, only if it wins a place."""
        depth = max(self.fusion.depth, n)
        space = self.embeddings.space_of(embedder)
        where = _where(filters)
        dense = dict(self.index.nearest_ids(vector, depth, where=where, space=space)) if self.fusion.dense else {}
        dense = {i: sim - JUNK_PENALTY if i in lexical.junk else sim for i, sim in dense.items()}
        words = lexical.search(question, depth * 4 if filters else depth, self._lexical_languages(question))
        if filters and words:
            found = self.index.fetch([i for i, _ in words], vector, space)
            words = [(i, s) for i, s in words if i in found and _passes(found[i][1], filters)]
        floor = min(dense.values(), default=0.0)
        cosine = dense | {i: floor for i, _ in words if i not in dense}
        if self.fusion.method == "score":
            ranked = fuse_scores(cosine, dict(words), self.fusion)
        else:
            ranked = fuse(list(dense), [i for i, _ in words], self.fusion)
        winners = ranked[: n + 4]  # room for twins of one text (see `_nearest`) and for the re-sort
        found = {
            i: (doc, meta, sim - JUNK_PENALTY if i in lexical.junk else sim)
            for i, (doc, meta, sim) in self.index.fetch(winners, vector, space).items()
        }
        if self.fusion.method != "score":
            return _distinct([found[i] for i in winners if i in found], embedder.calibrate)[:n]
        exact = {i: found[i][2] for i in winners if i in found}  # again with the winners' exact cosines
        winners = [i for i in fuse_scores(exact, dict(words), self.fusion) if i in exact]
        shares = fused_shares(dict(words), self.fusion)
        passages = _distinct([found[i] for i in winners], embedder.calibrate)[:n]
        ids = {(found[i][1]["path"], found[i][0]): i for i in winners}
        share = {key: shares.get(i, 0.0) for key, i in ids.items()}
        return [dataclasses.replace(p, fused=round(p.score + share[p.path, p.text], 4)) for p in passages]

    def _lexical_languages(self, question: str) -> list[str]:
        """The knowledge languages a question's words can match: its own if the knowledge has it,
        all of them if unsure, none if the knowledge has no text in it (then dense alone)."""
        known = sorted(self.catalog().languages) or ["en"]
        language = detect_language(question)
        return known if language is None else [language] if language in known else []

    def topics(self) -> dict[str, list[str]]:
        """The titles of the indexed files by topic, read once per index version."""
        if self.reloader is not None:
            self.reloader.check_before_search()
        return self.catalog().topics

    def catalog(self) -> Catalog:
        """What the live index covers (topics, languages), read once per index version."""
        index = self.index
        if self._catalog is None or self._catalog[0] is not index:
            self._catalog = (index, index.catalog())
        return self._catalog[1]


def _where(filters: dict[str, str] | None) -> dict | None:
    if not filters:
        return None
    unknown = set(filters) - set(FILTER_FIELDS)
    if unknown:
        raise ValueError(f"unknown filter(s) {sorted(unknown)}; allowed: {', '.join(FILTER_FIELDS)}")
    clauses = [{key: value} for key, value in sorted(filters.items())]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _passes(meta: dict, filters: dict[str, str] | None) -> bool:
    return all(meta.get(key) == value for key, value in (filters or {}).items())


def _distinct(hits: list[tuple[str, dict, float]], calibrate=lambda score: score) -> list[Passage]:
    """Passages from hits, best first, dropping a text its file already gave; scores on the
    scale MIN_SCORE is set on."""
    passages, seen = [], set()
    for text, meta, score in hits:
        if (meta["path"], text) not in seen:
            seen.add((meta["path"], text))
            passages.append(passage_from(text, meta, calibrate(score)))
    return passages


def make_retriever(settings, index_dir=None, embedder: BaseEmbedder | Embeddings | None = None) -> Retriever:
    """The retriever the program uses, built from settings (tests pass their own parts); it
    follows new index versions unless it reads a given `index_dir` or a Chroma server."""
    retriever = Retriever(make_index(settings, index_dir), embedder or make_embeddings(settings))
    retriever.fusion = Fusion.from_settings(settings)
    retriever.check_seconds = settings.index_check_seconds
    if index_dir is None:
        retriever.follow_versions(settings)
    return retriever


def _for_this_owner(passage: Passage, question: str, prefer: Preferences) -> float:
    """A passage's score with the owner in mind: up when its front matter fits the owner, down
    when it is one country's and neither the owner nor the question is from there."""
    fits = bool(matched_preferences(passage, prefer))
    elsewhere = not fits and is_regional(passage.region) and not names_region(question, passage.region)
    return passage.score + PREFER_BOOST * fits - ELSEWHERE_PENALTY * elsewhere
