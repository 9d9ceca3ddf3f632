"""A knowledge file's bytes → a `Document`: text, title, topic and front matter.

Markdown may start with YAML front matter (title, topic, tags, audience, region,
updated, source, language); PDF and DOCX give their text (Word headings become Markdown
headings; a PDF remembers where each page starts, so a passage can say its page). Anything
that cannot become a document is a `KnowledgeFileError` naming the file and the reason,
never a crash.
"""

from __future__ import annotations

import bisect
import codecs
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.knowledge.files import KnowledgeFileError, file_hash, read_bytes, relative_path

FRONT_MATTER_FIELDS = ("title", "topic", "tags", "audience", "region", "updated", "source", "language")


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
    language: str = "en"  # ISO 639-1, front matter `language: es` (English when not given)
    page_starts: tuple[int, ...] = ()  # a PDF's: where each page begins in `text` (page 1 at [0])
    pages: int = 0  # a PDF's page count (0: not a PDF)

    def page_at(self, offset: int) -> int:
        """The page (1, 2, …) of a PDF that the character at `offset` of `text` is on; 0 when unknown."""
        return bisect.bisect_right(self.page_starts, offset) if self.page_starts else 0


class TooManyPages(KnowledgeFileError):
    """A document longer than a page cap (`parse_document(max_pages=…)`): how long it is, and the cap."""

    def __init__(self, path: str, pages: int, limit: int) -> None:
        super().__init__(path, f"has {pages} pages; at most {limit} are read")
        self.pages, self.limit = pages, limit


def parse_document(rel_path: str, data: bytes, max_pages: int | None = None) -> Document:
    """Turn a file's bytes into a `Document`, or raise `KnowledgeFileError` saying why not. A PDF
    keeps where each page starts; one of more than `max_pages` pages is `TooManyPages`, found
    before its text is read."""
    suffix = Path(rel_path).suffix.lower()
    digest = file_hash(data)
    if not data.strip():
        raise KnowledgeFileError(rel_path, "is empty")
    if suffix == ".pdf":
        pages = _pdf_pages(rel_path, data, max_pages)
        body, meta = "\n\n".join(page for page in pages if page), {}
        if not body:
            raise KnowledgeFileError(rel_path, "PDF has no extractable text (a scan? export it with text)")
        return _build_document(rel_path, body, meta, digest, pages)
    if suffix == ".docx":
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
    """UTF-8 (with or without a byte-order mark), or UTF-16 with one (what Windows editors save
    as 'Unicode'); anything else gets a reason saying how to save it."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise KnowledgeFileError(rel_path, "is damaged UTF-16 text; save it as UTF-8") from None
    if b"\x00" in data[:8192]:
        if _looks_like_utf16(data[:8192]):
            raise KnowledgeFileError(rel_path, "looks like UTF-16 text without a byte-order mark; save it as UTF-8")
        raise KnowledgeFileError(rel_path, "looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeFileError(
            rel_path, f"is not valid UTF-8 text (bad byte at position {exc.start}); save it as UTF-8"
        ) from None


def _looks_like_utf16(head: bytes) -> bool:
    """Mostly-ASCII text in UTF-16 has a NUL in every other byte, and only there."""
    even, odd = head[0::2], head[1::2]
    if len(head) < 8:
        return False
    zeros = sorted((even.count(0) / len(even), odd.count(0) / len(odd)))
    return zeros[1] > 0.4 and zeros[0] < 0.05


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


def _build_document(rel_path: str, body: str, meta: dict, digest: str, pages: list[str] = ()) -> Document:
    title = meta.get("title") or _first_heading(body) or title_from_name(rel_path)
    topic = (meta.get("topic") or _topic_from_path(rel_path)).strip().lower()
    return Document(
        page_starts=_page_starts(pages),
        pages=len(pages),
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
        language=_language(rel_path, meta.get("language", "en")),
    )


def _language(rel_path: str, value: str) -> str:
    code = value.strip().lower()
    if not re.fullmatch(r"[a-z]{2}", code):
        reason = f"front matter 'language' must be a two-letter code like en or es, not {value!r}"
        raise KnowledgeFileError(rel_path, reason)
    return code


def _first_heading(body: str) -> str:
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
    return match.group(1).strip() if match else ""


def title_from_name(rel_path: str) -> str:
    """The title a document without one gets from its file name ('ten-year_plan.md': 'Ten year plan')."""
    stem = Path(rel_path).stem.replace("-", " ").replace("_", " ").strip()
    return stem[:1].upper() + stem[1:] if stem else rel_path


def _topic_from_path(rel_path: str) -> str:
    """A file in knowledge/credit/ is about credit unless its front matter says otherwise."""
    parts = Path(rel_path).parts
    return parts[0] if len(parts) > 1 else ""


def _pdf_pages(rel_path: str, data: bytes, max_pages: int | None = None) -> list[str]:
    """Each page's text, stripped ("" for a page without text), in order."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise KnowledgeFileError(rel_path, "is an encrypted PDF; save an unprotected copy")
        if max_pages is not None and len(reader.pages) > max_pages:
            raise TooManyPages(rel_path, len(reader.pages), max_pages)
        pages = [page.extract_text() or "" for page in reader.pages]
    except KnowledgeFileError:
        raise
    except Exception as exc:  # pypdf's own errors (limits reached, damaged xref) and what its parsers meet
        raise KnowledgeFileError(rel_path, f"is not a readable PDF ({_brief(exc)})") from None
    return [page.replace("\r\n", "\n").strip() for page in pages]


def _page_starts(pages: list[str]) -> tuple[int, ...]:
    """Where each page begins in the pages' text joined by blank lines (an empty page where the
    next one does)."""
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        if page:
            offset += len(page) + 2
    return tuple(starts)


# A Word file is a zip that python-docx inflates whole, and lxml takes ~60 times an XML part's
# size: 583 KB unpacking to hundreds of MB took 791 MB, so the bot was killed. A file is looked at
# before it is read: what it unpacks to, and how far its large parts are compressed (real text
# compresses about tenfold; 2 million empty paragraphs in 18 KB, 660-fold).
DOCX_MAX_UNPACKED = 64 * 1024 * 1024  # all parts, pictures included
DOCX_MAX_PART = 16 * 1024 * 1024  # one part (the text is word/document.xml)
DOCX_MAX_RATIO = 100  # for a part over 1 MB unpacked
DOCX_MAX_PARTS = 2000


def _check_docx_size(rel_path: str, data: bytes) -> None:
    """Refuse a Word file that would unpack to more than a reader should hold (a zip bomb)."""
    try:
        parts = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise KnowledgeFileError(rel_path, f"is not a readable Word (.docx) file ({_brief(exc)})") from None
    mb = 1024 * 1024
    if len(parts) > DOCX_MAX_PARTS:
        raise KnowledgeFileError(rel_path, f"is a Word file of {len(parts)} parts (at most {DOCX_MAX_PARTS})")
    total = sum(part.file_size for part in parts)
    if total > DOCX_MAX_UNPACKED:
        limit = DOCX_MAX_UNPACKED // mb
        raise KnowledgeFileError(rel_path, f"unpacks to {total / mb:.0f} MB (at most {limit} MB): split it")
    for part in parts:
        if part.file_size > DOCX_MAX_PART or (
            part.file_size > mb and part.file_size > DOCX_MAX_RATIO * max(part.compress_size, 1)
        ):
            raise KnowledgeFileError(
                rel_path,
                f"has a part ({part.filename}) that unpacks to {part.file_size / mb:.0f} MB from "
                f"{part.compress_size / 1024:.0f} KB: too large or too empty to be a real document",
            )


def _docx_text(rel_path: str, data: bytes) -> str:
    from docx import Document as DocxDocument

    _check_docx_size(rel_path, data)
    try:
        doc = DocxDocument(io.BytesIO(data))
        paragraphs = [
            (para.text.strip(), (para.style.name if para.style is not None else "") or "") for para in doc.paragraphs
        ]
    except Exception as exc:  # not a zip, a missing part, damaged XML (lxml), …
        raise KnowledgeFileError(rel_path, f"is not a readable Word (.docx) file ({_brief(exc)})") from None
    lines = []
    for text, style in paragraphs:
        if not text:
            continue
        level = _docx_heading_level(style)
        lines.append(f"{'#' * level} {text}" if level else text)
    return "\n\n".join(lines)


def _brief(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__


def _docx_heading_level(style: str) -> int:
    """Word's 'Title' and 'Heading N' styles become Markdown headings, so splitting can use them."""
    if style == "Title":
        return 1
    match = re.fullmatch(r"Heading (\d)", style)
    return min(int(match.group(1)), 6) if match else 0
