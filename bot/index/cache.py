"""Vectors already computed, kept by model and text, so no text is embedded twice.

The multilingual model embeds about seven passages a second on two cores; a `--rebuild`, a
second data folder, a Chroma server filled after a local index, a CHUNK_SIZE tried and undone
would each pay that again for text that did not change. The cache is one SQLite file per
model (its fingerprint in the name), keyed by the SHA-256 of the exact text embedded, in
EMBEDDING_CACHE_DIR (default: inside the virtual environment, beside the ONNX export).
Only passages are cached, never questions. A cache that cannot be read or written is
skipped with one warning: it saves time, it never stops an ingest.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    return Path(sys.prefix) / "sme-advisor-cache"


SETUP_SECONDS = 30  # how long a new cache file's setup waits for another process setting it up


class VectorCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._broken = False
        self._ready = False  # the file is in WAL mode and has its table
        self._setting_up = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        if not self._ready:
            with self._setting_up:
                if not self._ready:
                    _set_up(connection)
                    self._ready = True
        return connection

    def get(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """The cached vectors of `texts`, by position."""
        if self._broken or not texts:
            return {}
        keys = [_key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        try:
            with self._connect() as connection:
                for start in range(0, len(keys), 500):
                    batch = keys[start : start + 500]
                    marks = ",".join("?" * len(batch))
                    query = f"SELECT key, vector FROM vectors WHERE key IN ({marks})"
                    for key, blob in connection.execute(query, batch):
                        found[key] = np.frombuffer(blob, dtype=np.float32)
        except (sqlite3.Error, OSError) as exc:
            self._give_up(exc)
            return {}
        return {n: found[key] for n, key in enumerate(keys) if key in found}

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        if self._broken or not texts:
            return
        rows = [(_key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors, strict=True)]
        try:
            with self._connect() as connection:
                connection.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)
        except (sqlite3.Error, OSError) as exc:
            self._give_up(exc)

    def is_empty(self) -> bool:
        """Whether no vector is kept yet (no file, or none in it); one that cannot be read counts."""
        if self._broken or not self.path.exists():
            return True
        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)) as connection:
                return connection.execute("SELECT 1 FROM vectors LIMIT 1").fetchone() is None
        except (sqlite3.Error, OSError):
            return True

    def _give_up(self, exc: Exception) -> None:
        self._broken = True
        log.warning("the embedding cache %s is not usable (%s); embedding without it", self.path, exc)


def _set_up(connection: sqlite3.Connection) -> None:
    """WAL mode and the table, once per cache (the ingest's threads wait for it). SQLite answers
    a connection switching a new file's journal mode while another does the same with "database
    is locked" at once, whatever its timeout: on a fresh clone's first start the ingest's threads
    opened the new cache together and it was given up, so the whole first index was embedded
    without it. Another process setting it up meanwhile is waited for."""
    deadline = time.monotonic() + SETUP_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()
