"""What an ingest tells whoever waits for it: what it is about to do, about how long that takes,
and how far it is. A first start embeds every passage with both models, minutes on two cores,
so the owner is told so before the first answer, not left with log lines and no estimate.

On a terminal a Rich progress bar shows it; anywhere else (a pipe, a log file, a service's
journal) a log line every few seconds does, since a carriage-return bar would be one endless line.
"""

from __future__ import annotations

import logging
import threading
import time

from bot.config import Settings

log = logging.getLogger("bot")

# Seconds a passage takes each model the first time on 2 cores, nothing cached (its ways of asking
# included; `knowledge/`'s 2,065 passages: MiniLM in 8-bit blocks ~58 s, e5 ~126 s).
SECONDS_PER_PASSAGE = {"e5": 0.061}
OTHER_MODEL_SECONDS = 0.028  # MiniLM, any variant
EVERY_SECONDS = 10.0  # how often a progress line is written when stderr is not a terminal


def plan_seconds(settings: Settings, passages: int, cached: list[str] | tuple[str, ...] = ()) -> float:
    """About how long `passages` take to embed the first time with EMBEDDING_BACKEND's models,
    those of `cached` (EMBEDDING_BACKEND's parts, "onnx-q8") left out: their vectors are cached."""
    parts = [part for part in settings.embedding_backend.split("+") if part not in cached]
    return passages * sum(SECONDS_PER_PASSAGE.get(part, OTHER_MODEL_SECONDS) for part in parts)


def nothing_cached(settings: Settings) -> bool:
    """Whether no embedding model has a vector cached yet (a fresh clone, EMBEDDING_CACHE=false):
    then every passage is embedded, at about `plan_seconds`. Loads no model."""
    from bot.index.spaces import make_embeddings

    if not settings.embedding_cache:
        return True
    return all(e.cache is None or e.cache.is_empty() for e in make_embeddings(settings).embedders)


def how_long(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return "less than a minute"
    return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"


def plan_line(files: int, passages: int, first_time: float | None) -> str:
    """'Indexing 112 files, 2,065 passages — about 3 minutes the first time' (`first_time`: the
    seconds `plan_seconds` expects when nothing is cached, else None)."""
    what = f"Indexing {files:,} file{'s' if files != 1 else ''}, {passages:,} passage{'s' if passages != 1 else ''}"
    if first_time is not None:
        return f"{what} — {how_long(first_time)} the first time"
    return f"{what} — vectors computed before are reused; the time left is measured as it goes"


class ProgressLines:
    """Progress as log lines: one every EVERY_SECONDS while it embeds (from a timer thread, since
    one group of passages can take most of a minute), and one when it is done."""

    def __init__(self, total: int, first_time: float | None) -> None:
        self.total, self.first_time = total, first_time
        self.done = 0
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._tick, name="ingest-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def advance(self, count: int) -> None:
        with self._lock:
            self.done += count
        if self.done >= self.total:
            self.stop()
            self.write()

    def stop(self) -> None:
        self._stop.set()

    def _tick(self) -> None:
        while not self._stop.wait(EVERY_SECONDS):
            self.write()

    def write(self) -> None:
        with self._lock:
            done = self.done
        share = done / self.total if self.total else 1.0
        line = f"indexing: {done:,}/{self.total:,} passages ({share:.0%})"
        if done < self.total:
            line += f", {self.time_left(done)}"
        log.info("%s", line)

    def time_left(self, done: int) -> str:
        elapsed = time.monotonic() - self.started
        if done:  # measured: this machine's rate, cached vectors included
            return how_long(elapsed / done * (self.total - done)) + " left"
        if self.first_time is not None:
            return how_long(max(self.first_time - elapsed, 0)) + " left"
        return "time left not known yet"
