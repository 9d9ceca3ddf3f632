"""A `Document` → heading-aware, token-bounded `Chunk`s, and their metadata in the index.

Splitting goes by Markdown headings first, then by tokens (langchain's splitters),
so each chunk knows the section it comes from and an answer can cite it. A section's `Asked:`
block (the other ways owners ask its question, `bot.knowledge.asked`) is taken out of its text
and becomes, with the heading, the section's questions (`section_questions`), which the index
matches owners' questions against.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from bot.knowledge.asked import take_asked
from bot.knowledge.documents import Document
from bot.knowledge.tokens import TOKEN_ENCODING


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
    language: str = "en"
    section: int = 0  # the section's place in its file (0: the text under the title)
    intro: bool = False  # the text under the title of a file that has sections: what the file covers
    asked: tuple[str, ...] = ()  # the other ways owners ask the section's question (its `Asked:` block)
    section_text: str = ""  # the whole section's text, on its first chunk only (an answer quotes it whole)

    @property
    def id(self) -> str:
        return f"{self.path}#{self.content_hash[:12]}#{self.chunk_index}"

    def embedding_text(self, with_headings: bool = True) -> str:
        """What the embedder sees: the title and heading path give a short section its context."""
        if not with_headings:
            return self.text
        heading = " > ".join(part for part in self.heading.split(" > ") if part != self.title)
        return "\n".join(part for part in (self.title, heading, self.text) if part)


HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
SPLITTER_VERSION = 4  # bump when splitting changes, so ingest re-embeds every file


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
    parts = sections(doc.text)
    has_sections = any(" > " in heading for heading, _ in parts)
    for number, (heading, body) in enumerate(parts):
        block = take_asked(body)
        intro = has_sections and " > " not in heading  # the text under the title, before the first section
        first = len(chunks)
        for piece in tokens.split_text(block.text):
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
                    language=doc.language,
                    section=number,
                    intro=intro,
                    asked=block.ways,
                    section_text=block.text if len(chunks) == first else "",
                )
            )
    return chunks


def chunk_metadata(chunk: Chunk, chunk_count: int) -> dict:
    """Chroma metadata values must be scalars: lists are stored comma-separated."""
    return {
        "path": chunk.path,
        "title": chunk.title,
        "heading": chunk.heading,
        "topic": chunk.topic,
        "tags": ", ".join(chunk.tags),
        "audience": ", ".join(chunk.audience),
        "region": ", ".join(chunk.region),
        "updated": chunk.updated,
        "source": chunk.source,
        "language": chunk.language,
        "chunk_index": chunk.chunk_index,
        "chunk_count": chunk_count,
        "content_hash": chunk.content_hash,
        "section": chunk.section,
        "intro": chunk.intro,
        "asked": "\n".join(chunk.asked),
        **({"section_text": chunk.section_text} if chunk.section_text else {}),
    }


@dataclass(frozen=True)
class SectionQuestion:
    """One question a section answers: its heading, or one of the ways owners ask it."""

    id: str
    text: str
    metadata: dict


def section_questions(chunks: list[Chunk]) -> list[SectionQuestion]:
    """The questions each section of one file answers: its own heading and its `Asked:` ways,
    each pointing at the section's first chunk. A file's introduction has none (it says what
    the file covers, it answers no question), unless the file has nothing else."""
    questions: list[SectionQuestion] = []
    done: set[int] = set()
    for chunk in chunks:
        if chunk.section in done or chunk.intro:
            continue
        done.add(chunk.section)
        own = chunk.heading.split(" > ")[-1].strip()
        ways = [("heading", own)] if own else []
        ways += [("asked", way) for way in chunk.asked if way.casefold() != own.casefold()]
        for kind, text in ways:
            metadata = {
                "path": chunk.path,
                "title": chunk.title,
                "heading": chunk.heading,
                "section": chunk.section,
                "chunk_index": chunk.chunk_index,
                "kind": kind,
                "language": chunk.language,
                "content_hash": chunk.content_hash,
            }
            questions.append(
                SectionQuestion(f"{chunk.path}#{chunk.content_hash[:12]}#q{len(questions)}", text, metadata)
            )
    return questions


def renumbered(chunks: list[Chunk]) -> list[Chunk]:
    """The same chunks numbered 0, 1, 2… again (after some were left out)."""
    return [dataclasses.replace(chunk, chunk_index=number) for number, chunk in enumerate(chunks)]


_WORD = re.compile(r"\w+")
DEGENERATE_MIN_WORDS = 20  # shorter chunks are too small to judge
DEGENERATE_DISTINCT = 0.2  # a chunk of prose has 0.5–0.8 distinct words per word
DEGENERATE_TRIGRAM = 0.3  # share of the chunk taken by its most repeated three-word run


def is_degenerate(text: str) -> bool:
    """Text that repeats itself (one word or phrase over and over) rather than saying something.

    Such a chunk embeds close to any question that uses its word and would crowd out the
    passages that answer it, so ingest leaves it out and names its file.
    """
    words = _WORD.findall(text.lower())
    if len(words) < DEGENERATE_MIN_WORDS:
        return False
    if len(set(words)) / len(words) < DEGENERATE_DISTINCT:
        return True
    trigrams = Counter(zip(words, words[1:], words[2:], strict=False))
    _, most = trigrams.most_common(1)[0]
    return most * 3 / len(words) > DEGENERATE_TRIGRAM
