"""An owner's own document, sent in a chat → what was read, and the passages to embed.

The same readers and splitter as the knowledge base (`documents`, `chunks`): a PDF, Word,
text or Markdown file becomes a `Document`, then heading-aware chunks, each knowing the page
it starts on (PDFs). Nothing here stores or embeds anything: the channel puts the passages
into the owner's private store (`bot.index.owner_documents`), never into the knowledge index.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import PurePath

from bot.knowledge.chunks import Chunk, is_degenerate, renumbered, split_document
from bot.knowledge.documents import Document, TooManyPages, parse_document, title_from_name

SUFFIXES = {".pdf": "pdf", ".docx": "docx", ".txt": "txt", ".md": "md", ".markdown": "md"}
MIME_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
}
WORDS_PER_PAGE = 500  # a "page" of a document that has none (Word, text), for the page cap
PROBE = 80  # characters of a chunk looked up in the text to find its page


@dataclass(frozen=True)
class UploadPassage:
    """One chunk of an owner's document: its text, what is embedded, its section and page."""

    text: str
    embedding_text: str
    heading: str
    page: int  # 1, 2, … in a PDF; 0 when the document has no pages
    chunk_index: int


@dataclass(frozen=True)
class Upload:
    """What was read from an owner's document."""

    file_name: str
    kind: str  # pdf | docx | txt | md
    title: str
    pages: int  # a PDF's page count; 0 for a document without pages
    sections: tuple[str, ...]  # the section headings found, in order (none in a PDF without headings)
    words: int
    passages: tuple[UploadPassage, ...]


def document_kind(file_name: str | None, mime_type: str | None) -> str | None:
    """pdf, docx, txt or md by the file's extension, else by its MIME type; None for anything else."""
    suffix = PurePath(file_name or "").suffix.lower()
    return SUFFIXES.get(suffix) or MIME_TYPES.get((mime_type or "").split(";")[0].strip().lower())


def read_upload(file_name: str, data: bytes, kind: str, max_pages: int, chunk_size: int, chunk_overlap: int) -> Upload:
    """Read an owner's document and split it into passages. Raises `KnowledgeFileError` when it
    cannot be read, and `TooManyPages` when it is longer than `max_pages` (for a document without
    pages: WORDS_PER_PAGE words a page)."""
    stem = PurePath(file_name or "document").stem or "document"
    name = f"{stem}.{kind}"  # the reader goes by the suffix; a name without folders has no topic
    doc = parse_document(name, data, max_pages=max_pages)
    doc = replace(doc, title=own_title(doc, name))  # before splitting: passages carry the title
    words = len(doc.text.split())
    if not doc.pages and words > max_pages * WORDS_PER_PAGE:
        raise TooManyPages(name, math.ceil(words / WORDS_PER_PAGE), max_pages)
    chunks = renumbered([c for c in split_document(doc, chunk_size, chunk_overlap) if not is_degenerate(c.text)])
    passages = tuple(
        UploadPassage(chunk.text, chunk.embedding_text(), chunk.heading, page, chunk.chunk_index)
        for chunk, page in zip(chunks, _pages(doc, chunks), strict=True)
    )
    headings = dict.fromkeys(_section(chunk, doc.title) for chunk in chunks)
    sections = tuple(heading for heading in headings if heading)
    return Upload(file_name or name, kind, doc.title, doc.pages, sections, words, passages)


TITLE_WORDS = 15  # a first line longer than this is text, not a title
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$")


def own_title(doc: Document, name: str) -> str:
    """What an owner's document calls itself: its front matter's title or first `#` heading (the
    knowledge base's rule), else its first line when that is a heading of any level or reads as
    a title: short, and not a sentence ending in '.', ',', ';' or ':' (a plan's "Crumbly Crust
    Business Plan 2027" in a PDF or a text file); only else its file name ('Plan')."""
    if doc.title != title_from_name(name):
        return doc.title
    first, _sep, rest = doc.text.strip().partition("\n")
    heading = _HEADING.match(first.strip())
    if heading:
        return heading.group(1).strip()
    line = first.strip().strip("*_ ").strip()
    words = len(line.split())
    if rest.strip() and 0 < words <= TITLE_WORDS and not line.endswith((".", ",", ";", ":")) and _has_letters(line):
        return line
    return doc.title


def _has_letters(text: str) -> bool:
    return any(character.isalpha() for character in text)


def _section(chunk: Chunk, title: str) -> str:
    parts = [part for part in chunk.heading.split(" > ") if part and part != title]
    return parts[-1] if parts else ""


def _pages(doc: Document, chunks: list[Chunk]) -> list[int]:
    """The page each chunk starts on: where its first words are in the document's text, looked
    up from the previous chunk's start on (chunks overlap); a chunk not found keeps the page
    before it."""
    pages, cursor, page = [], 0, 1 if doc.pages else 0
    for chunk in chunks:
        found = doc.text.find(chunk.text[:PROBE], cursor)
        if found >= 0:
            cursor, page = found, doc.page_at(found)
        pages.append(page)
    return pages
