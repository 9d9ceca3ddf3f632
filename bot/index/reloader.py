"""Keeping a running advisor on the live index version, in every channel.

`python ingest.py` publishes new versions beside the one being read (`bot.index.versions`);
the reloader notices, opens the new one, swaps it into the retriever, and closes the old one
once answers in flight are done with it. The retriever asks it before each search (reading
CURRENT costs microseconds), so the terminal chat, `ask` and the Telegram bot all follow new
versions the same way; the bot also checks every INDEX_CHECK_SECONDS and on /reload, so it
is ready before the next owner asks.

A version embedded with other models than the running advisor's (an ingest run with another
EMBEDDING_BACKEND) is not switched to: searching it would find nonsense. One log line says so,
and the advisor keeps answering from the version it has.
"""

from __future__ import annotations

import logging
import threading
import time

from bot.index.opening import make_index
from bot.index.provenance import mismatch
from bot.index.versions import VERSIONS, Manifest, current_version, live_folder

log = logging.getLogger(__name__)


class IndexReloader:
    """Swaps a newly published version into `retriever.index`; the old index is closed after
    `grace` seconds, when questions that were using it have finished."""

    def __init__(self, settings, retriever, grace: float = 30.0) -> None:
        self.settings = settings
        self.retriever = retriever
        self.grace = grace
        self._retired: list[tuple[float, object]] = []
        self._refused: int | None = None  # the last version found embedded with other models
        self._lock = threading.Lock()  # searches, the periodic check and /reload may meet

    @property
    def version(self) -> int | None:
        """The version the retriever reads (None: an index folder without versions)."""
        return self.retriever.index.version

    @property
    def manifest(self) -> Manifest | None:
        version = self.version
        return Manifest.read(live_folder(self.settings.index_path, version)) if version is not None else None

    def check(self) -> bool:
        """Blocking (run it in a thread): True when a new version was swapped in."""
        with self._lock:
            return self._check()

    def check_before_search(self) -> None:
        """`check`, without waiting for a check in progress elsewhere (the search then reads the
        version it has, which stays open): what a search does first."""
        if self._lock.acquire(blocking=False):
            try:
                self._check()
            finally:
                self._lock.release()

    def _check(self) -> bool:
        self._close_retired(time.monotonic())
        version = current_version(self.settings.index_path)
        if version is None or version == self.version or version == self._refused:
            return False
        folder = self.settings.index_path / VERSIONS / str(version)
        index = make_index(self.settings, folder, create=False)  # Chroma opens on first use
        problem = mismatch(index.catalog().recipes, self.retriever.embeddings)  # its summary says
        if problem:
            index.close()
            self._refused = version
            log.error("index version %d is not used (staying on version %s): %s", version, self.version, problem)
            return False
        index.version = version
        if self.retriever.index.opened:  # its chunks were searched (`Retriever.retrieve`): load the new ones
            index.query(self.retriever.embedder.embed_query("warm up the new index"), 1)  # before owners do
        self.retriever.prepare(index)  # and its sections
        old, self.retriever.index = self.retriever.index, index
        self._retired.append((time.monotonic() + self.grace, old))
        manifest = self.manifest
        log.info(
            "now answering from index version %d (%s files, %s chunks)",
            version,
            manifest.files if manifest else "?",
            manifest.chunks if manifest else "?",
        )
        return True

    def _close_retired(self, now: float) -> None:
        due = [index for when, index in self._retired if when <= now]
        self._retired = [(when, index) for when, index in self._retired if when > now]
        for index in due:
            index.close()
