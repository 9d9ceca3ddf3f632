"""Finding and reading knowledge files, safely.

Consultants keep Markdown, text, PDF and DOCX files under the knowledge dir. This
module lists them (hidden files, the top-level README and eval/ left out; links that
lead outside the dir refused) and reads their bytes with limits, turning every way a
file can fail into a `KnowledgeFileError` with a reason a consultant can act on.
"""

from __future__ import annotations

import hashlib
import os
import stat
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
    """A file (or a folder, `folder=True`) that was not ingested, and why. A skipped folder's
    files are not deleted from the index: a folder that cannot be read is not an empty one."""

    path: str
    reason: str
    folder: bool = False


UNREADABLE_FOLDER = "folder cannot be read ({}); the files indexed from it are kept as they were"


def discover(root: Path) -> tuple[list[Path], list[Skipped]]:
    """List the knowledge files under `root`, sorted, and the entries refused on the way.

    Hidden entries, the top-level README.md and eval/ folder are for people and are
    left out silently. Symlinks are followed only when they resolve inside `root`,
    so a link (or `..`) can never make ingestion read a file outside the knowledge dir.
    Only regular files are listed: a named pipe would block the reader forever. A folder
    that cannot be listed (the knowledge dir itself included) is reported as skipped.
    """
    root = root.resolve()
    files: list[Path] = []
    skipped: list[Skipped] = []

    def unreadable(error: OSError) -> None:
        where = Path(error.filename) if error.filename else root
        rel = _rel(where, root) if _is_inside(where, root) else str(where)
        skipped.append(Skipped(rel, UNREADABLE_FOLDER.format(_why(error)), folder=True))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        here = Path(dirpath)
        refused: list[Skipped] = []
        try:
            dirnames[:] = _folders_to_walk(here, root, dirnames, refused)
            found = _files_to_read(here, root, filenames, refused)
        except PermissionError as error:  # listed but not entered (read without execute permission)
            dirnames[:], found = [], []
            refused = [Skipped(_rel(here, root), UNREADABLE_FOLDER.format(_why(error)), folder=True)]
        files.extend(found)
        skipped.extend(refused)
    return sorted(files, key=lambda p: _rel(p, root)), skipped


def _files_to_read(here: Path, root: Path, names: list[str], skipped: list[Skipped]) -> list[Path]:
    """The files of `here` to read; the refused ones go to `skipped`."""
    found = []
    for name in sorted(names):
        full = here / name
        if name.startswith(".") or (here == root and name.lower() in EXCLUDED_TOP_LEVEL):
            continue
        refusal = _refusal(full, root, name)
        if refusal:
            skipped.append(Skipped(_rel(full, root), refusal))
        else:
            found.append(full)
    return found


def _folders_to_walk(here: Path, root: Path, names: list[str], skipped: list[Skipped]) -> list[str]:
    """The sub-folders to descend into; a linked folder is indexed under its real path, and one
    linked from outside the knowledge dir is refused. Raises PermissionError when `here` cannot
    be entered."""
    kept = []
    for name in sorted(names):
        full = here / name
        if name.startswith(".") or (here == root and name.lower() in EXCLUDED_TOP_LEVEL):
            continue
        try:
            link = _is_link(full)
        except PermissionError:
            raise
        except OSError as exc:
            skipped.append(Skipped(_rel(full, root), UNREADABLE_FOLDER.format(_why(exc)), folder=True))
            continue
        if link:
            target = _resolve(full)
            if target is None or not _is_inside(target, root):
                skipped.append(Skipped(_rel(full, root), "symlinked folder points outside the knowledge dir; not read"))
            continue
        kept.append(name)
    return kept


def _refusal(full: Path, root: Path, name: str) -> str | None:
    """Why a listed file is not read, or None when it may be. Raises PermissionError when the
    folder holding it cannot be entered."""
    try:
        link = _is_link(full)
    except PermissionError:
        raise
    except OSError as exc:
        return f"cannot be read: {_why(exc)}"
    if link:
        target = _resolve(full)
        if target is None:
            return "is a symlink loop; not read"
        if not _is_inside(target, root):
            return "symlink points outside the knowledge dir; not read"
    if full.suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"unsupported file type '{full.suffix or name}' (supported: {', '.join(SUPPORTED_SUFFIXES)})"
    try:
        mode = full.stat().st_mode
    except FileNotFoundError:
        return None  # a broken link: reading it says so
    except OSError as exc:
        return f"cannot be read: {_why(exc)}"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a named pipe, socket or device); not read"
    return None


def _is_link(path: Path) -> bool:
    """Is `path` a symlink? False when it is gone; other errors are raised (Path.is_symlink
    raises some, such as PermissionError, and swallows others)."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _resolve(path: Path) -> Path | None:
    """Where a link leads, or None for a link loop."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return None


def _why(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    return (error.strerror or str(error)).lower()


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
    """Read a knowledge file's bytes, refusing what is outside `root`, too big, not a regular
    file or unreadable. The file is opened without blocking and checked once open, so a file
    swapped for a named pipe after listing cannot hang the ingest."""
    root = root.resolve()
    absolute = Path(os.path.abspath(path))
    rel = _rel(absolute, root) if _is_inside(absolute, root) else str(path)
    try:
        real = path.resolve(strict=True)
        if not _is_inside(real, root):
            raise KnowledgeFileError(rel, "is outside the knowledge dir; not read")
        return _read_regular(real, rel, max_bytes)
    except RuntimeError:  # Path.resolve on a link loop
        raise KnowledgeFileError(rel, "is a symlink loop; not read") from None
    except PermissionError:
        raise KnowledgeFileError(rel, "cannot be read: permission denied") from None
    except FileNotFoundError:
        raise KnowledgeFileError(rel, "not found (a broken link, or deleted while reading)") from None
    except IsADirectoryError:
        raise KnowledgeFileError(rel, "is a folder, not a file") from None
    except OSError as exc:
        raise KnowledgeFileError(rel, f"cannot be read: {exc.strerror or exc}") from None


def _read_regular(real: Path, rel: str, max_bytes: int) -> bytes:
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KnowledgeFileError(rel, "is not a regular file (a named pipe, socket or device); not read")
        if info.st_size > max_bytes:
            limit = f"the limit is {max_bytes / 1_048_576:.1f} MB, setting MAX_FILE_MB"
            raise KnowledgeFileError(rel, f"too large ({info.st_size / 1_048_576:.1f} MB; {limit})")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while being read
        raise KnowledgeFileError(rel, f"too large (over {max_bytes / 1_048_576:.1f} MB, setting MAX_FILE_MB)")
    return data
