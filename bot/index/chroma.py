"""The Chroma collection that stores chunks, with the per-file operations ingest needs.

`make_index` opens it: a local folder (the live index version under INDEX_DIR, see
`bot.index.versions`) or a Chroma server (CHROMA_URL). It stores what it is given (ids,
texts, metadata and vectors) and knows nothing of knowledge files or of how chunks are
made; we always pass our own embeddings (Chroma's default embedding function would
download a model).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bot.index.records import Records, read_all, read_ids, replace_many
from bot.index.summary import Catalog, FileState, Summary, read_summary
from bot.index.versions import MANIFEST

__all__ = ["Catalog", "FileState", "KnowledgeIndex"]


class KnowledgeIndex:
    """The chunks in Chroma, with the per-file operations ingestion needs.

    Chunk metadata carries the source file's hash and chunk count, so the index
    itself records which files it holds and whether each is complete. A run that
    is killed half-way leaves a file absent, incomplete or holding two versions,
    and the next run re-embeds exactly that file.

    Each embedding model (vector space) has its own collection, holding the same chunks
    with the same ids: `collection` is the first space's, the record of what the index
    holds; a file is written to it last, so a file complete there is complete everywhere.

    Beside the chunks, each space has a collection of the questions the sections answer
    (their headings and the ways owners ask them, `bot.knowledge.chunks.section_questions`),
    embedded as questions: `<name>-questions`, `<name>-<space>-questions`. A file's questions are
    written first and go with its chunks.
    """

    page_size = 5000
    _opening = threading.Lock()
    OPENED_ON_USE = frozenset({"collection", "client", "spaces", "questions"})

    def __init__(self, collection, state_dir: Path, client=None, version: int | None = None, others=None) -> None:
        self.collection = collection
        self.spaces: dict[str, object] = dict(others or {})  # space name -> its collection (besides the first)
        self.questions: dict[str | None, object] = {}  # space name (None: the first) -> its questions' collection
        self.client = client
        self.version = version  # the index version this is (None: a server, or a folder without versions)
        self.folder: Path | None = None  # the local folder holding this index (and its lexical part)
        self._marker = state_dir / f".{collection.name}.ingest-in-progress"

    @classmethod
    def opened_on_use(
        cls, name: str, folder: Path, version: int | None, open_collections: Callable[[KnowledgeIndex], None]
    ) -> KnowledgeIndex:
        """A local index whose Chroma client and collections are opened when first used. A
        serving bot answers from the version's saved sections and summary, so it never imports
        Chroma unless something searches the chunks themselves (`Retriever.retrieve`)."""
        index = cls.__new__(cls)
        index.version, index.folder = version, folder
        index._marker = folder / f".{name}.ingest-in-progress"
        index._open_collections = open_collections
        return index

    def __getattr__(self, name: str):
        """Open the collections at the first use of one of them (`opened_on_use`)."""
        if name not in self.OPENED_ON_USE or "_open_collections" not in self.__dict__:
            raise AttributeError(name)
        with self._opening:
            opener = self.__dict__.get("_open_collections")
            if opener is not None:
                self.spaces, self.questions = {}, {}
                try:
                    opener(self)
                except BaseException:  # a damaged folder, a server down: tried again at the next use
                    for part in self.OPENED_ON_USE:
                        self.__dict__.pop(part, None)
                    raise
                del self.__dict__["_open_collections"]
        return self.__dict__[name]

    def open_now(self) -> None:
        """Open the collections now (a server: one that cannot be reached fails at start)."""
        if not self.opened:
            self.__getattr__("collection")

    @property
    def opened(self) -> bool:
        """Whether Chroma's client is open (with `opened_on_use`, not until first used)."""
        return "_open_collections" not in self.__dict__

    @property
    def summary(self) -> Summary | None:
        """A published version's summary (`bot.index.summary`), read once; None elsewhere."""
        if "_summary" not in self.__dict__:
            self._summary = read_summary(self.folder, MANIFEST)
        return self._summary

    def open_spaces(self, spaces: Sequence[str]) -> None:
        """Add the collections of these spaces (besides the first), each `<first's name>-<space>`,
        created empty when the index has none yet (an index built without that space)."""
        for space in spaces:
            name = f"{self.collection.name}-{space}"
            self.spaces[space] = self.client.get_or_create_collection(name, embedding_function=None, metadata=COSINE)
        for space in [None, *spaces]:
            name = questions_collection(self.collection.name, space)
            self.questions[space] = self.client.get_or_create_collection(name, embedding_function=None, metadata=COSINE)

    def close(self) -> None:
        """Release Chroma's resources for this folder (its HNSW index in memory, SQLite)."""
        client = self.__dict__.get("client")
        if client is not None and hasattr(client, "close"):
            client.close()

    def count(self) -> int:
        if self.summary is not None:
            return self.summary.chunks
        return self.collection.count()

    def file_states(self) -> dict[str, FileState]:
        """Which files the index holds, and whether each is complete.

        After a clean ingest, one record per file (its first chunk) is enough: every file
        was written whole. After an interrupted one (`dirty`), every chunk is read and
        counted, so a half-written file is found and redone.
        """
        if not self.dirty:
            if self.summary is not None:
                return dict(self.summary.files)
            return self._first_chunk_states()
        seen: dict[str, tuple[str, str, int, set[int]]] = {}
        mixed: set[str] = set()
        for meta in self._all_metadata():
            path = meta["path"]
            key = (meta["content_hash"], meta.get("recipe", ""), int(meta["chunk_count"]))
            entry = seen.setdefault(path, (*key, set()))
            if entry[:3] != key:
                mixed.add(path)
            entry[3].add(int(meta["chunk_index"]))
        return {
            path: FileState(digest, recipe, total, path not in mixed and len(indexes) == total)
            for path, (digest, recipe, total, indexes) in seen.items()
        }

    def _first_chunk_states(self) -> dict[str, FileState]:
        """File states from each file's first chunk. A file with two first chunks holds two
        versions: an update on a Chroma server stopped between `replace_file`'s two steps,
        perhaps in an ingest with another DATA_DIR (the one that keeps the dirty mark), such
        as the bot's own at start. It counts as incomplete, so this ingest finishes it."""
        states: dict[str, FileState] = {}
        for meta in self._all_metadata(where={"chunk_index": 0}):
            path = meta["path"]
            state = FileState(meta["content_hash"], meta.get("recipe", ""), int(meta["chunk_count"]), True)
            states[path] = state if path not in states else dataclasses.replace(state, complete=False)
        return states

    @property
    def dirty(self) -> bool:
        """True while an ingest is writing, and after one that was interrupted."""
        return self._marker.exists()

    @contextlib.contextmanager
    def writing(self):
        """Mark the index dirty for the duration of a write; a crash leaves the mark behind."""
        self._marker.parent.mkdir(parents=True, exist_ok=True)
        self._marker.touch()
        yield
        self._marker.unlink(missing_ok=True)

    def _all_metadata(self, where: dict | None = None):
        """Every chunk's metadata, a page at a time: Chroma refuses one request for 100k chunks."""
        page, offset = self.page_size, 0
        while True:
            result = self.collection.get(where=where, include=["metadatas"], limit=page, offset=offset)
            metadatas = result["metadatas"] or []
            yield from metadatas
            if len(metadatas) < page:
                return
            offset += page

    def replace_file(
        self,
        path: str,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[dict],
        vectors: np.ndarray | dict[str | None, np.ndarray],
        questions: Records | None = None,
    ) -> None:
        """Swap a file's chunks (and `questions`, its sections' questions) for new ones: new
        ones first in, then the old ones out.

        With CHROMA_URL, ingest writes into the index the bot is answering from, so a
        question asked meanwhile must find the file in one version or the other, never
        in neither. For that moment both versions are there; retrieval cites equal text
        once (bot/index/retriever.py). New chunks get new ids when the text changed (a
        chunk's id holds the content hash); when only the recipe changed, the ids are the
        same and upsert replaces each chunk in place. A crash between the two steps leaves
        both versions in a dirty index, which `file_states` reports as incomplete, so the
        next ingest redoes the file and removes the old chunks then.

        `vectors`: one array per space (None for the first space), or one array for an index
        of one space. The questions are written first, then the other spaces, the first space last.
        """
        chunks = Records(ids, texts, metadatas, vectors if isinstance(vectors, dict) else {None: vectors})
        self.replace_files([(path, chunks, questions)])

    def replace_files(self, files: Sequence[tuple[str, Records, Records | None]]) -> None:
        """`replace_file` for several files at once, (path, chunks, questions) each: one write per
        collection instead of one per file and collection (`replace_many`), in the same order."""
        spaces = dict.fromkeys(space for _, _, questions in files if questions for space in questions.vectors)
        writes = [(self.questions.get(space), 1, space) for space in spaces]
        writes += [(collection, 0, space) for space, collection in self.spaces.items()]
        writes.append((self.collection, 0, None))
        for collection, part, space in writes:
            chosen = [(path, records[part]) for path, *records in files if records[part] is not None]
            chosen = [(path, records) for path, records in chosen if space in records.vectors]
            if collection is not None and chosen:  # else a space this ingest does not fill
                replace_many(collection, chosen, space)

    def remove_file(self, path: str) -> None:
        for collection in [*self.questions.values(), *self.spaces.values(), self.collection]:
            collection.delete(where={"path": path})

    def nearest_questions(self, vector: np.ndarray, k: int, space: str | None = None) -> list[tuple[str, dict, float]]:
        """The section questions nearest to `vector` in `space`: (question, metadata, cosine), best
        first; none in an index built before sections had questions."""
        collection = self.questions.get(space)
        if collection is None or k < 1:
            return []
        result = collection.query(
            query_embeddings=[vector], n_results=k, include=["documents", "metadatas", "distances"]
        )
        return [
            (doc, meta, 1.0 - float(dist))
            for doc, meta, dist in zip(
                result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    def question_count(self) -> int:
        collection = self.questions.get(None)
        return collection.count() if collection is not None else 0

    def section_chunks(self, path: str, heading: str) -> list[tuple[str, dict]]:
        """A section's chunks (by its file and heading path), in order: (text, metadata)."""
        result = self.collection.get(
            where={"$and": [{"path": path}, {"heading": heading}]}, include=["documents", "metadatas"]
        )
        found = sorted(zip(result["documents"], result["metadatas"], strict=True), key=lambda c: c[1]["chunk_index"])
        return [(text, meta) for text, meta in found]

    def query(
        self, vector: np.ndarray, k: int, where: dict | None = None, space: str | None = None
    ) -> list[tuple[str, dict, float]]:
        """Nearest chunks to `vector` in `space` (default: the first): (text, metadata, cosine
        similarity), best first."""
        return [(doc, meta, sim) for _, doc, meta, sim in self.search(vector, k, where, space)]

    def query_many(self, vectors: Sequence[np.ndarray], k: int) -> list[list[tuple[str, dict, float]]]:
        """`query` of each of `vectors` (first space) in one call: the gap report's ~1,000 themes."""
        found = self.collection.query(query_embeddings=list(vectors), n_results=k) if len(vectors) else {}
        hits = zip(found.get("documents", []), found.get("metadatas", []), found.get("distances", []), strict=True)
        return [[(doc, meta, 1.0 - float(dist)) for doc, meta, dist in zip(*hit, strict=True)] for hit in hits]

    def search(
        self, vector: np.ndarray, k: int, where: dict | None = None, space: str | None = None
    ) -> list[tuple[str, str, dict, float]]:
        """Like `query`, with each chunk's id first."""
        result = self.spaces.get(space, self.collection).query(
            query_embeddings=[vector],
            n_results=k,
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (id_, doc, meta, 1.0 - float(dist))
            for id_, doc, meta, dist in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    def nearest_ids(
        self, vector: np.ndarray, k: int, where: dict | None = None, space: str | None = None
    ) -> list[tuple[str, float]]:
        """Like `search`, ids and cosine similarities only (reading no texts: cheaper for many)."""
        result = self.spaces.get(space, self.collection).query(
            query_embeddings=[vector], n_results=k, where=where or None, include=["distances"]
        )
        return [(id_, 1.0 - float(dist)) for id_, dist in zip(result["ids"][0], result["distances"][0], strict=True)]

    def fetch(self, ids: Sequence[str], vector: np.ndarray, space: str | None = None) -> dict[str, tuple]:
        """Chunks by id: id -> (text, metadata, cosine similarity to `vector`), for lexical hits."""
        if not ids:
            return {}
        result = self.spaces.get(space, self.collection).get(
            ids=list(ids), include=["documents", "metadatas", "embeddings"]
        )
        found = {}
        for id_, doc, meta, emb in zip(
            result["ids"], result["documents"], result["metadatas"], result["embeddings"], strict=True
        ):
            emb = np.asarray(emb, dtype=np.float32)
            norm = float(np.linalg.norm(emb) * np.linalg.norm(vector)) or 1.0
            found[id_] = (doc, meta, float(np.dot(emb, vector)) / norm)
        return found

    def all_chunks(self) -> tuple[list[str], list[str], list[dict]]:
        """Every chunk's id, text and metadata, a page at a time."""
        ids, texts, metadatas, _ = read_all(self.collection, self.page_size, embeddings=False)
        return ids, texts, metadatas

    def all_records(
        self, questions: bool, space: str | None = None, ids_only: bool = False
    ) -> tuple[list[str], list[str], list[dict]]:
        """Like `all_vectors`, without the vectors (a fraction of the time: no matrix to convert);
        `ids_only`: the ids alone (texts and metadata empty), the cheapest listing there is."""
        collection = self.questions.get(space) if questions else self.spaces.get(space, self.collection)
        if collection is None:
            return [], [], []
        if ids_only:
            return list(collection.get(include=[])["ids"]), [], []
        ids, texts, metadatas, _ = read_all(collection, self.page_size, embeddings=False)
        return ids, texts, metadatas

    def records_of(self, ids: Sequence[str], questions: bool, space: str | None = None) -> dict[str, tuple[str, dict]]:
        """These chunks' (or section questions') texts and metadata, by id; an id the collection lacks is left out."""
        found = read_ids(self._collection_of(questions, space), ids, self.page_size, ["documents", "metadatas"])
        return {id_: (text, meta or {}) for id_, (text, meta) in found.items()}

    def vectors_of(self, ids: Sequence[str], questions: bool, space: str | None = None) -> dict[str, np.ndarray]:
        """The vectors of these chunks (or section questions) in `space`, by id; an id the
        collection lacks is left out."""
        found = read_ids(self._collection_of(questions, space), ids, self.page_size, ["embeddings"])
        return {id_: np.asarray(vector, dtype=np.float32) for id_, (vector,) in found.items()}

    def _collection_of(self, questions: bool, space: str | None):
        return self.questions.get(space) if questions else self.spaces.get(space, self.collection)

    def all_vectors(
        self, questions: bool, space: str | None = None
    ) -> tuple[list[str], list[str], list[dict], np.ndarray]:
        """Every chunk (or, `questions`, every section question) of a space with its vector:
        ids, texts, metadata and one matrix, a page at a time."""
        collection = self.questions.get(space) if questions else self.spaces.get(space, self.collection)
        if collection is None:
            return [], [], [], np.zeros((0, 0), dtype=np.float32)
        return read_all(collection, self.page_size, embeddings=True)

    def chunk(self, path: str, chunk_index: int) -> tuple[str, dict] | None:
        """One chunk by file and position (e.g. the continuation of a list cut by the splitter)."""
        result = self.collection.get(
            where={"$and": [{"path": path}, {"chunk_index": chunk_index}]}, include=["documents", "metadatas"]
        )
        if not result["ids"]:
            return None
        return result["documents"][0], result["metadatas"][0]

    def topics(self) -> dict[str, list[str]]:
        """Titles of the indexed files, grouped by topic (for 'what do you cover?' answers)."""
        return self.catalog().topics

    def catalog(self) -> Catalog:
        """What the index covers, from each file's first chunk: titles by topic, languages, and
        the recipes its files were made with (`bot.index.provenance` reads the models from them)."""
        if self.summary is not None:
            return self.summary.catalog
        grouped: dict[str, set[str]] = {}
        languages: set[str] = set()
        recipes: dict[str, int] = {}
        for meta in self._all_metadata(where={"chunk_index": 0}):
            grouped.setdefault(meta.get("topic") or "general", set()).add(meta["title"])
            languages.add(meta.get("language") or "en")
            recipe = meta.get("recipe") or ""
            recipes[recipe] = recipes.get(recipe, 0) + 1
        topics = {topic: sorted(titles) for topic, titles in sorted(grouped.items())}
        return Catalog(topics, frozenset(languages), recipes)


def questions_collection(name: str, space: str | None) -> str:
    """The name of a space's questions' collection (Chroma allows at most 63 characters)."""
    return f"{name[:40]}-{space}-questions" if space else f"{name[:40]}-questions"


COSINE = {"hnsw:space": "cosine"}
