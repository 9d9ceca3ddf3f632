"""Keeping a running bot on the live index version.

`python ingest.py` publishes new versions beside the one the bot reads
(`bot.index.versions`); the reloader notices, opens the new one, swaps it into the
retriever, and closes the old one once answers in flight are done with it.
"""

from __future__ import annotations

import logging
import threading
import time

from bot.index.chroma import make_index
from bot.index.versions import VERSIONS, Manifest, current_version, live_folder

log = logging.getLogger(__name__)


class IndexReloader:
    """Keeps a running bot's Retriever on the live version: `check()` opens a newly
    published version and swaps it in; the old one is closed after `grace` seconds,
    when questions that were using it have finished."""

    def __init__(self, settings, retriever, grace: float = 30.0) -> None:
        self.settings = settings
        self.retriever = retriever
        self.grace = grace
        self.version = current_version(settings.index_path)
        self._retired: list[tuple[float, object]] = []
        self._lock = threading.Lock()  # the periodic check and /reload may meet

    @property
    def manifest(self) -> Manifest | None:
        return Manifest.read(live_folder(self.settings.index_path)) if self.version is not None else None

    def check(self) -> bool:
        """Blocking (run it in a thread): True when a new version was swapped in."""
        with self._lock:
            return self._check()

    def _check(self) -> bool:
        self._close_retired(time.monotonic())
        version = current_version(self.settings.index_path)
        if version is None or version == self.version:
            return False
        index = make_index(self.settings, self.settings.index_path / VERSIONS / str(version), create=False)
        index.query(self.retriever.embedder.embed_query("warm up the new index"), 1)  # load it before owners do
        old, self.retriever.index, self.version = self.retriever.index, index, version
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
