"""Index versions: how `python ingest.py` updates the knowledge while the bot answers from it.

Chroma's local mode is not safe across processes, and a process keeps its own view of
an index folder. So an ingest never writes the folder a running bot reads. Under
INDEX_DIR it builds the next version:

    INDEX_DIR/
      CURRENT            the live version's number (replaced atomically)
      versions/7/        the live index: Chroma's files and manifest.json
      versions/8/        being built: a copy of 7 with this ingest's changes

The next version starts as a copy of the live one (only changed files are then
embedded), gets a manifest (files, chunks, when it was built) and goes live by an
atomic rename of CURRENT. The bot checks CURRENT every few seconds (and on /reload)
and opens the new version; questions in flight finish on the old one. An interrupted
ingest leaves the next version unpublished: the bot never sees it, and the next ingest
resumes it. An ingest that finds nothing to change publishes nothing.

A folder without CURRENT (an index from before versions, or one that tests and
benchmarks fill directly) is used as it is.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

POINTER = "CURRENT"
VERSIONS = "versions"
MANIFEST = "manifest.json"
KEEP = 3  # versions kept: the live one and two before it, which a bot may still be closing


@dataclass(frozen=True)
class Manifest:
    """What /stats shows about the live index."""

    version: int
    files: int
    chunks: int
    built_at: str  # ISO 8601, UTC

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        try:
            return cls(**json.loads((folder / MANIFEST).read_text()))
        except (OSError, ValueError, TypeError):
            return None


def current_version(root: Path) -> int | None:
    """The live version's number, or None when the folder has no versions (used as it is)."""
    try:
        return int((root / POINTER).read_text().strip())
    except (OSError, ValueError):
        return None


def live_folder(root: Path, version: int | None = None) -> Path:
    """The folder Chroma should open to read the live index under `root` (or that version)."""
    version = current_version(root) if version is None else version
    return root if version is None else root / VERSIONS / str(version)


def prepare_next(root: Path, empty: bool = False) -> tuple[int, Path]:
    """The next version's folder, ready to be written: a copy of the live index (or empty,
    for a rebuild), or the leftover of an interrupted ingest of the same kind (update or
    rebuild) from the same live version, which is resumed rather than started over."""
    live = current_version(root)
    number = (live or 0) + 1
    folder = root / VERSIONS / str(number)
    base = _base_text(live, empty)
    if folder.exists() and Manifest.read(folder) is None and _read_base(folder) == base:
        log.info("resuming the unfinished index version %d", number)
        return number, folder
    shutil.rmtree(folder, ignore_errors=True)
    source = live_folder(root)
    if not empty and _has_chroma_files(source):
        shutil.copytree(source, folder, ignore=_not_copied(root, source))
        (folder / MANIFEST).unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".base").write_text(base)
    return number, folder


def publish(root: Path, number: int, files: int, chunks: int) -> Manifest:
    """Make version `number` live: its manifest first, then CURRENT, atomically."""
    folder = root / VERSIONS / str(number)
    built_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    manifest = Manifest(number, files, chunks, built_at)
    _write_atomically(folder / MANIFEST, json.dumps(asdict(manifest)))
    (folder / ".base").unlink(missing_ok=True)
    _write_atomically(root / POINTER, str(number))
    prune(root)
    return manifest


def previous_version(root: Path) -> int | None:
    """The newest published version older than the live one (kept: KEEP versions), or None."""
    live = current_version(root)
    if live is None or not (root / VERSIONS).is_dir():
        return None
    older = [
        int(f.name)
        for f in (root / VERSIONS).iterdir()
        if f.name.isdigit() and int(f.name) < live and Manifest.read(f) is not None
    ]
    return max(older, default=None)


def roll_back(root: Path) -> tuple[int, int] | None:
    """Make the previous version live again (CURRENT, atomically): (the version left, the one
    live now), or None when there is no earlier version. The next ingest builds from it."""
    live, previous = current_version(root), previous_version(root)
    if live is None or previous is None:
        return None
    _write_atomically(root / POINTER, str(previous))
    return live, previous


def discard(root: Path, number: int) -> None:
    """Drop a next version that turned out to change nothing."""
    shutil.rmtree(root / VERSIONS / str(number), ignore_errors=True)


def prune(root: Path, keep: int = KEEP) -> None:
    """Delete published versions older than the newest `keep` (the live one included)."""
    live = current_version(root)
    if live is None:
        return
    for folder in (root / VERSIONS).iterdir():
        if folder.name.isdigit() and int(folder.name) <= live - keep:
            shutil.rmtree(folder, ignore_errors=True)


def _base_text(live: int | None, rebuild: bool) -> str:
    """What an unfinished version was started from: the live version, and whether it is a rebuild."""
    return ("rebuild:" if rebuild else "") + ("" if live is None else str(live))


def _read_base(folder: Path) -> str | None:
    try:
        return (folder / ".base").read_text().strip()
    except OSError:
        return None  # not a folder this module started


def _has_chroma_files(folder: Path) -> bool:
    return (folder / "chroma.sqlite3").exists()


def _not_copied(root: Path, source: Path):
    """When the live index is the root folder itself, skip the versions and the lock in it."""

    def ignore(directory: str, names: list[str]) -> list[str]:
        if Path(directory) != source:
            return []
        return [n for n in names if n in {VERSIONS, POINTER, ".ingest.lock"}]

    return ignore


def replace_folder(temporary: Path, target: Path) -> None:
    """Put a folder written beside `target` in its place: two renames, so a reader sees the old
    folder or the new one, never half of either."""
    old = target.with_name(f".{target.name}.old.{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(temporary, target)
    shutil.rmtree(old, ignore_errors=True)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
