"""Finding and reading knowledge files, safely.

Consultants keep Markdown, text, PDF and DOCX files under the knowledge dir. This
module lists them (hidden files, the top-level README and eval/ left out; links that
lead outside the dir refused) and reads their bytes with limits, turning every way a
file can fail into a `KnowledgeFileError` with a reason a consultant can act on.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".pdf", ".docx")

# Files and folders at the top of the knowledge dir that are for people, not for the index.
EXCLUDED_TOP_LEVEL = {"readme.md", "eval"}


class KnowledgeFileError(Exception):
    """A knowledge file that cannot be ingested, with a reason a consultant can act on."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Skipped:
    """A file that was not ingested, and why."""

    path: str
    reason: str


def discover(root: Path) -> tuple[list[Path], list[Skipped]]:
    """List the knowledge files under `root`, sorted, and the entries refused on the way.

    Hidden entries, the top-level README.md and eval/ folder are for people and are
    left out silently. Symlinks are followed only when they resolve inside `root`,
    so a link (or `..`) can never make ingestion read a file outside the knowledge dir.
    """
    root = root.resolve()
    files: list[Path] = []
    skipped: list[Skipped] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        kept_dirs = []
        for name in sorted(dirnames):
            full = here / name
            if name.startswith(".") or (here == root and name.lower() in EXCLUDED_TOP_LEVEL):
                continue
            if full.is_symlink():
                if not _is_inside(full.resolve(), root):
                    skipped.append(
                        Skipped(_rel(full, root), "symlinked folder points outside the knowledge dir; not read")
                    )
                continue  # a link to a folder inside root is indexed under its real path
            kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            full = here / name
            if name.startswith(".") or (here == root and name.lower() in EXCLUDED_TOP_LEVEL):
                continue
            rel = _rel(full, root)
            if full.is_symlink() and not _is_inside(full.resolve(), root):
                skipped.append(Skipped(rel, "symlink points outside the knowledge dir; not read"))
                continue
            if full.suffix.lower() not in SUPPORTED_SUFFIXES:
                supported = ", ".join(SUPPORTED_SUFFIXES)
                skipped.append(Skipped(rel, f"unsupported file type '{full.suffix or name}' (supported: {supported})"))
                continue
            files.append(full)
    return sorted(files, key=lambda p: _rel(p, root)), skipped


def _is_inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def relative_path(path: Path, root: Path) -> str:
    """The path of a knowledge file as stored in the index: relative to the root, with '/'."""
    return _rel(path, root.resolve())


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- reading


def read_bytes(path: Path, root: Path, max_bytes: int) -> bytes:
    """Read a knowledge file's bytes, refusing what is outside `root`, too big or unreadable."""
    root = root.resolve()
    absolute = Path(os.path.abspath(path))
    rel = _rel(absolute, root) if _is_inside(absolute, root) else str(path)
    try:
        real = path.resolve(strict=True)
        if not _is_inside(real, root):
            raise KnowledgeFileError(rel, "is outside the knowledge dir; not read")
        size = real.stat().st_size
        if size > max_bytes:
            limit = f"the limit is {max_bytes / 1_048_576:.1f} MB, setting MAX_FILE_MB"
            raise KnowledgeFileError(rel, f"too large ({size / 1_048_576:.1f} MB; {limit})")
        return real.read_bytes()
    except PermissionError:
        raise KnowledgeFileError(rel, "cannot be read: permission denied") from None
    except FileNotFoundError:
        raise KnowledgeFileError(rel, "not found (a broken link, or deleted while reading)") from None
    except IsADirectoryError:
        raise KnowledgeFileError(rel, "is a folder, not a file") from None
    except OSError as exc:
        raise KnowledgeFileError(rel, f"cannot be read: {exc.strerror or exc}") from None
