"""Bring the index up to date with the knowledge dir, incrementally and safely.

Planning compares each file's content hash with what the index holds, without
loading the embedding model; only new or changed files are split and embedded.
A bad file is reported and skipped, never allowed to stop the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.index.chroma import KnowledgeIndex, Records
from bot.index.embedder import BaseEmbedder
from bot.index.spaces import Embeddings
from bot.knowledge.chunks import (
    SPLITTER_VERSION,
    Chunk,
    chunk_metadata,
    is_degenerate,
    renumbered,
    section_questions,
    split_document,
)
from bot.knowledge.documents import Document, parse_document
from bot.knowledge.files import KnowledgeFileError, Skipped, discover, file_hash, read_bytes, relative_path

log = logging.getLogger(__name__)

GROUP_BATCHES = 64  # batches of chunks embedded (and written) together: 512 chunks pad little, still show progress


@dataclass(frozen=True)
class Recipe:
    """How chunks are made and embedded. The index records it with every chunk, so changing
    CHUNK_SIZE, CHUNK_OVERLAP, EMBED_HEADINGS or the model re-embeds the affected files. The
    retriever reads the models back from the key (`bot.index.provenance.recorded_models`: the
    fourth of its five fields) and refuses to search an index embedded with other models."""

    chunk_size: int
    chunk_overlap: int
    embed_headings: bool
    model: str

    @property
    def key(self) -> str:
        return f"{self.chunk_size}:{self.chunk_overlap}:{int(self.embed_headings)}:{self.model}:v{SPLITTER_VERSION}"

    @classmethod
    def from_settings(cls, settings, embedder: BaseEmbedder | Embeddings) -> Recipe:
        return cls(settings.chunk_size, settings.chunk_overlap, settings.embed_headings, embedder.fingerprint)


@dataclass
class Plan:
    """What an ingest run will do. Files to embed keep their bytes, read once."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)
    indexed: int = 0  # files the index held before this run

    @property
    def changes(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    @property
    def shrinks_too_much(self) -> bool:
        """Would this run remove more than half of the files the index holds? Usually that is a
        knowledge dir that moved, was half-copied or mounted wrong, not a consultant's intent."""
        return len(self.removed) * 2 > self.indexed


class IndexShrinkError(Exception):
    """An ingest would remove more than half of the index's files; nothing was changed."""


@dataclass
class Report:
    """The summary a consultant sees at the end of a run."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    chunks_written: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    degenerate: dict[str, int] = field(default_factory=dict)  # chunks left out per file (repetitive text)

    @property
    def changed(self) -> bool:
        """Did this run change what the index holds?"""
        return bool(self.added or self.updated or self.removed)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_written / self.seconds if self.seconds > 0 else 0.0


def plan(knowledge_dir: Path, index: KnowledgeIndex, max_bytes: int, recipe: str, rebuild: bool = False) -> Plan:
    """Compare the knowledge dir with the index. Reads and hashes files; embeds nothing."""
    if not knowledge_dir.is_dir():
        raise FileNotFoundError(f"knowledge dir not found: {knowledge_dir}")
    paths, skipped = discover(knowledge_dir)
    states = {} if rebuild else index.file_states()
    result = Plan(skipped=list(skipped))
    on_disk = {s.path for s in skipped if not s.folder}  # refused when listed (a link loop, a pipe), not gone
    for path in paths:
        rel = relative_path(path, knowledge_dir)
        on_disk.add(rel)
        try:
            data = read_bytes(path, knowledge_dir, max_bytes)
        except KnowledgeFileError as exc:
            result.skipped.append(Skipped(exc.path, exc.reason))
            continue
        state = states.get(rel)
        if state and state.complete and state.recipe == recipe and state.content_hash == file_hash(data):
            result.unchanged.append(rel)
            continue
        (result.updated if state is not None else result.added).append(rel)
        result.contents[rel] = data
    # A file that is now skipped keeps its old chunks out of the index only if it is gone;
    # a file that turned bad (or unreadable) keeps its last good version, so a typo never empties
    # a topic, and the files of a folder that cannot be read are not gone either.
    unreadable = [s.path for s in skipped if s.folder]
    result.removed = sorted(p for p in states if p not in on_disk and not _under_any(p, unreadable))
    result.indexed = len(states)
    return result


def _under_any(path: str, folders: list[str]) -> bool:
    return any(folder == "." or path.startswith(folder.rstrip("/") + "/") for folder in folders)


def check_shrink(work: Plan, allowed: bool) -> None:
    """Raise IndexShrinkError when `work` removes more than half of the index's files, unless allowed."""
    if work.shrinks_too_much and not allowed:
        raise IndexShrinkError(
            f"this ingest would remove {len(work.removed)} of the {work.indexed} files in the index "
            f"(e.g. {', '.join(work.removed[:3])}); nothing was changed. If they really were deleted, "
            "run it again with --allow-shrink"
        )


ProgressCallback = Callable[[int], None]


def ingest_configured(
    settings: Settings, index: KnowledgeIndex, embedder: BaseEmbedder | Embeddings, **options
) -> Report:
    """`ingest` of settings.knowledge_dir with the recipe and size limit the settings give:
    what `python ingest.py` runs, and what benchmarks and tests run in-process."""
    return ingest(
        settings.knowledge_dir,
        index,
        embedder,
        recipe=Recipe.from_settings(settings, embedder),
        max_bytes=settings.max_file_bytes,
        **options,
    )


def ingest(
    knowledge_dir: Path,
    index: KnowledgeIndex,
    embedder: BaseEmbedder | Embeddings,
    *,
    recipe: Recipe,
    max_bytes: int,
    rebuild: bool = False,
    dry_run: bool = False,
    allow_shrink: bool = False,
    on_plan: Callable[[Plan, int], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> Report:
    """Run one ingest: plan, then embed and store what changed, file by file.

    Chunks of several files are embedded together in full batches (the model is
    fastest that way), and those files are written to the index together as soon as
    they are embedded, so an interruption loses at most the group in flight.
    A run that would remove more than half of the index's files raises
    `IndexShrinkError` before writing anything, unless `allow_shrink` (or `rebuild`).
    """
    started = time.perf_counter()
    if rebuild and not dry_run:
        with index.writing():
            _clear(index)
    work = plan(knowledge_dir, index, max_bytes, recipe.key, rebuild=rebuild)
    if not dry_run:
        check_shrink(work, allowed=allow_shrink or rebuild)
    degenerate: dict[str, int] = {}
    chunks_by_file = _split_changed(_parse_changed(work), recipe, work, degenerate)
    total_chunks = sum(len(c) for c in chunks_by_file.values())
    if on_plan:
        on_plan(work, total_chunks)
    report = Report(
        added=len(work.added) - _count_failed(work, work.added),
        updated=len(work.updated) - _count_failed(work, work.updated),
        removed=len(work.removed),
        unchanged=len(work.unchanged),
        skipped=work.skipped,
        dry_run=dry_run,
        degenerate=degenerate,
    )
    if dry_run:
        report.chunks_written = total_chunks
        report.seconds = time.perf_counter() - started
        return report
    if work.changes:
        with index.writing():
            for path in work.removed:
                index.remove_file(path)
            report.chunks_written = _embed_and_store(chunks_by_file, index, embedder, recipe, on_progress)
    report.seconds = time.perf_counter() - started
    return report


def _clear(index: KnowledgeIndex) -> None:
    for path in index.file_states():
        index.remove_file(path)


def _parse_changed(work: Plan) -> list[Document]:
    """Each changed file as a document; whatever goes wrong with one file (a reader's bug on a
    malformed DOCX or PDF included) skips that file, named with its reason, and only that file."""
    docs = []
    for rel, data in work.contents.items():
        try:
            docs.append(parse_document(rel, data))
        except KnowledgeFileError as exc:
            work.skipped.append(Skipped(exc.path, exc.reason))
        except Exception as exc:
            log.warning("%r could not be read", rel, exc_info=True)  # %r: a name may hold control characters
            work.skipped.append(Skipped(rel, f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})"))
    work.skipped.sort(key=lambda s: s.path)
    return docs


def _split_changed(docs: list[Document], recipe: Recipe, work: Plan, degenerate: dict[str, int]) -> dict:
    """Each document's chunks, without degenerate ones (text repeating itself, which would
    match every question about its words); a file with no chunk, or nothing else, is skipped."""
    chunks_by_file: dict[str, list[Chunk]] = {}
    for doc in docs:
        try:
            chunks = split_document(doc, recipe.chunk_size, recipe.chunk_overlap)
        except Exception as exc:
            log.warning("%r could not be split into chunks", doc.path, exc_info=True)
            work.skipped.append(Skipped(doc.path, f"cannot be split ({type(exc).__name__}: {str(exc)[:200]})"))
            continue
        if not chunks:  # a title and ways of asking, nothing to quote
            work.skipped.append(Skipped(doc.path, "has no text to answer from (only headings or ways of asking)"))
            continue
        kept = [c for c in chunks if not is_degenerate(c.text)]
        if not kept:
            work.skipped.append(Skipped(doc.path, "its text only repeats itself (the same words over and over)"))
            continue
        if len(kept) < len(chunks):
            degenerate[doc.path] = len(chunks) - len(kept)
        chunks_by_file[doc.path] = renumbered(kept) if len(kept) < len(chunks) else chunks
    work.skipped.sort(key=lambda s: s.path)
    return chunks_by_file


def _count_failed(work: Plan, paths: list[str]) -> int:
    bad = {s.path for s in work.skipped}
    return sum(1 for p in paths if p in bad)


def _embed_and_store(
    chunks_by_file: dict[str, list[Chunk]],
    index: KnowledgeIndex,
    embedder: BaseEmbedder | Embeddings,
    recipe: Recipe,
    on_progress: ProgressCallback | None,
) -> int:
    embeddings = embedder if isinstance(embedder, Embeddings) else Embeddings(embedder)
    pending: list[tuple[str, list[Chunk]]] = []
    pending_count = 0
    written = 0
    files = [(path, chunks) for path, chunks in chunks_by_file.items() if chunks]
    for position, (path, chunks) in enumerate(files):
        pending.append((path, chunks))
        pending_count += len(chunks)
        last = position == len(files) - 1
        # Embed in groups of a few hundred chunks: the model sorts a call's texts by length,
        # so bigger groups pad less (bench/ingest_bench.py), while progress still moves.
        if pending_count < embeddings.batch_size * GROUP_BATCHES and not last:
            continue
        all_chunks = [c for _, cs in pending for c in cs]
        texts = [c.embedding_text(recipe.embed_headings) for c in all_chunks]
        asked = {file_path: section_questions(file_chunks) for file_path, file_chunks in pending}
        questions = [q.text for qs in asked.values() for q in qs]
        shown = _ShownProgress(len(all_chunks), on_progress)
        vectors, question_vectors = embeddings.embed_kinds([texts, questions], [False, True], shown.work)
        offset = asked_offset = 0
        writes = []
        for file_path, file_chunks in pending:
            part = {space: v[offset : offset + len(file_chunks)] for space, v in vectors.items()}
            own = asked[file_path]
            end = asked_offset + len(own)
            records = Records(
                [q.id for q in own],
                [q.text for q in own],
                [{**q.metadata, "recipe": recipe.key} for q in own],
                {space: v[asked_offset:end] for space, v in question_vectors.items()} if own else dict.fromkeys(part),
            )
            writes.append((file_path, _chunk_records(file_chunks, part, recipe.key), records))
            offset, asked_offset = offset + len(file_chunks), end
        index.replace_files(writes)
        written += len(all_chunks)
        shown.finish()
        pending, pending_count = [], 0
    return written


class _ShownProgress:
    """A group's passages shown as its embedding's work is done (most of its time), the rest
    once it is written: `on_progress` hears each group's passages once in all."""

    def __init__(self, passages: int, on_progress: ProgressCallback | None) -> None:
        self.passages, self.on_progress, self.share, self.shown = passages, on_progress, 0.0, 0

    def work(self, share: float) -> None:
        self.share += share
        self._show(min(self.passages - 1, int(self.share * self.passages)))

    def finish(self) -> None:
        self._show(self.passages)

    def _show(self, upto: int) -> None:
        if self.on_progress is not None and upto > self.shown:
            self.on_progress(upto - self.shown)
            self.shown = upto


def _chunk_records(chunks: list[Chunk], vectors, recipe: str) -> Records:
    """One file's chunks as the index stores them, each with its metadata and the recipe that made it."""
    metadatas = [{**chunk_metadata(c, len(chunks)), "recipe": recipe} for c in chunks]
    return Records([c.id for c in chunks], [c.text for c in chunks], metadatas, vectors)
