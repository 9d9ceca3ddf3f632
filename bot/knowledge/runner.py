"""An ingest as a command runs it: one at a time, into a new index version, then published.

`run_ingest` is what `python ingest.py`, `run` and `chat` call. With a local index it
builds the next version beside the live one (vectors, then the BM25 index of the same chunks,
`bot.index.lexical`) and publishes it (`bot.index.versions`), so
a running bot keeps answering meanwhile; with CHROMA_URL it updates the server's
collection in place. How progress and the summary look is the caller's business
(`on_plan`, `on_progress`): the command line shows a progress bar and a table.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.config import Settings
from bot.index import versions
from bot.index.chroma import KnowledgeIndex
from bot.index.lexical import LexicalIndex, has_lexical
from bot.index.opening import make_index
from bot.index.provenance import missing_spaces
from bot.index.sections import SectionIndex, has_sections
from bot.index.spaces import Embeddings, make_embeddings
from bot.index.summary import SUMMARY, write_summary
from bot.knowledge.ingest import Plan, ProgressCallback, Recipe, Report, check_shrink, ingest_configured, plan

log = logging.getLogger(__name__)


@contextlib.contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """One ingest at a time per index: Chroma's local mode is not safe across processes."""
    folder = settings.data_dir if settings.chroma_url else settings.index_path
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".ingest.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another ingest is running on %s; waiting for it to finish", folder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class PublishHeld(Exception):
    """`before_publish` held the new version back: it was dropped, the live one stays live.
    `reason` is what `before_publish` returned."""

    def __init__(self, reason: object) -> None:
        super().__init__(str(reason))
        self.reason = reason


def run_ingest(
    settings: Settings,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    allow_shrink: bool = False,
    on_plan: Callable[[Plan, int], None] | None = None,
    on_progress: ProgressCallback | None = None,
    embeddings: Embeddings | None = None,
    before_publish: Callable[[Path], object] | None = None,
) -> Report:
    """Bring the index up to date under the ingest lock; raises FileNotFoundError when the
    knowledge dir is missing and IndexShrinkError when the run would remove more than half of
    the index's files (unless `allow_shrink`). Ctrl-C leaves a consistent index, which the
    next run finishes.

    `embeddings`: models already loaded (the serving bot's), used when they are the ones
    EMBEDDING_BACKEND names. `before_publish`: called with the next version's folder before it
    goes live (local index only); a truthy result holds it back: the version is dropped and
    PublishHeld raised with that result."""
    embedder = make_embeddings(settings)
    if embeddings is not None and embeddings.fingerprint == embedder.fingerprint:
        embedder = embeddings
    options = {"allow_shrink": allow_shrink, "on_plan": on_plan, "on_progress": on_progress}
    with ingest_lock(settings):
        # the live version once the lock is ours: one opened before could be replaced by the
        # ingest waited for, and this one would then publish a copy of it as if it had changed
        index = make_index(settings)
        if settings.chroma_url:
            return ingest_configured(settings, index, embedder, rebuild=rebuild, dry_run=dry_run, **options)
        if dry_run or not _needs_writing(settings, index, embedder, rebuild, allow_shrink):
            return ingest_configured(settings, index, embedder, dry_run=dry_run, **options)
        live_states = index.file_states()
        index.close()
        return _ingest_next_version(
            settings, embedder, rebuild=rebuild, live_states=live_states, before_publish=before_publish, **options
        )


STAGE_BYTES = 200_000  # knowledge to embed (~300 passages, ~25 s with both models on 2 cores) worth a first stage


def first_stage(settings: Settings) -> Settings | None:
    """The settings of a start-up ingest's quicker first stage, or None when there is none to
    make: the first embedding space alone (MiniLM in the default, which reads English questions),
    when the setting keeps more than one space, the live index lacks one of them (a first start,
    or a first stage whose second was stopped) and at least STAGE_BYTES of knowledge need
    embedding. A first start of `knowledge/` embeds with both models for ~3 minutes on 2 cores;
    with MiniLM alone ~1, and the bot answers English questions from then on while the other
    spaces are built behind it (`run_ingest` with the whole setting, MiniLM's vectors cached).
    Not with a Chroma server, whose collections an ingest updates in place. Plans only."""
    backends = settings.embedding_backend.split("+")
    if len(backends) < 2 or settings.chroma_url:
        return None
    embeddings = make_embeddings(settings)
    index = make_index(settings)
    try:
        recipes = index.catalog().recipes if index.count() else {}
        if recipes and not missing_spaces(recipes, embeddings):
            return None
        recipe = Recipe.from_settings(settings, embeddings).key
        work = plan(settings.knowledge_dir, index, settings.max_file_bytes, recipe)
    finally:
        index.close()
    if sum(len(content) for content in work.contents.values()) < STAGE_BYTES:
        return None
    return settings.model_copy(update={"embedding_backend": backends[0]})


def will_write(settings: Settings) -> bool:
    """Whether an ingest now would embed or remove anything (planning only: files are read and
    hashed, no model is loaded). A run that would be refused as too big a shrink counts: the
    ingest itself says so."""
    index = make_index(settings)
    try:
        return _needs_writing(settings, index, make_embeddings(settings), rebuild=False, allow_shrink=True)
    finally:
        index.close()


def _needs_writing(
    settings: Settings, index: KnowledgeIndex, embedder: Embeddings, rebuild: bool, allow_shrink: bool
) -> bool:
    """Whether this ingest changes the index (planning reads and hashes files, embeds nothing);
    a run that would remove too much is refused here, before the live index is copied."""
    if rebuild or (index.folder is not None and not _complete(index.folder) and index.count()):
        return True  # an index from before lexical search or saved sections gets them in a new version
    recipe = Recipe.from_settings(settings, embedder).key
    work = plan(settings.knowledge_dir, index, settings.max_file_bytes, recipe)
    check_shrink(work, allow_shrink)
    return work.changes  # incomplete files count


def write_lexical(index: KnowledgeIndex, folder, chunks: tuple | None = None) -> None:
    """Rebuild the version's BM25 index from all its chunks (`chunks`, when already read: ids,
    texts, metadata), into the same folder as its vectors, before the version is published."""
    ids, texts, metadatas = chunks or index.all_chunks()
    LexicalIndex.build(ids, texts, metadatas).save(folder)
    log.info("lexical index written: %d chunks", len(ids))


def write_sections(index: KnowledgeIndex, folder, embeddings: Embeddings, earlier=None, chunks=None) -> None:
    """The version's sections and their vectors in every space, saved beside its vectors for the
    bot to map from disk (`bot.index.sections`), before the version is published. `earlier`: the
    live version's folder, whose saved records of unchanged files are reused."""
    spaces = {embeddings.space_of(e): e.space for e in embeddings.embedders}
    sections = SectionIndex.load(index, spaces, earlier, chunks)
    sections.save(folder)
    log.info("sections written: %d", len(sections.sections))


def _ingest_next_version(
    settings: Settings,
    embedder: Embeddings,
    rebuild: bool,
    live_states: dict | None = None,
    before_publish: Callable[[Path], object] | None = None,
    **options,
) -> Report:
    """Build the next index version beside the live one, then publish it (bot/index/versions.py):
    a running bot keeps answering from the live version and switches when this is done.

    A rebuild starts from an empty folder and fills it like any ingest, so an interrupted
    rebuild is resumed by the next one. A version that changed nothing (every changed file
    turned out unreadable) is dropped, not published; a resumed one whose files were all written
    before the interruption changed nothing in this run but differs from the live one: published."""
    root = settings.index_path
    number, folder = versions.prepare_next(root, empty=rebuild)
    index = make_index(settings, folder)
    try:
        report = ingest_configured(settings, index, embedder, **options)
        states = index.file_states()
        files, chunks = len(states), index.count()
        every_chunk = index.all_chunks()  # read once (Chroma takes ~0.5 s), for both
        write_lexical(index, folder, every_chunk)  # always: a resumed version may hold the live one's copy
        write_sections(index, folder, embedder, None if rebuild else versions.live_folder(root), every_chunk)
        write_summary(folder, states, index.catalog(), chunks)  # what a serving bot asks without Chroma
    finally:
        index.close()
    if not rebuild and states == live_states and _complete(versions.live_folder(root)):
        versions.discard(root, number)
        return report
    held = before_publish(folder) if before_publish is not None else None
    if held:
        versions.discard(root, number)
        raise PublishHeld(held)
    manifest = versions.publish(root, number, files, chunks)
    log.info("index version %d is live: %d files, %d chunks", manifest.version, files, chunks)
    return report


def _complete(folder) -> bool:
    """Whether a version folder holds all its parts: vectors, BM25, saved sections and summary."""
    return has_lexical(folder) and has_sections(folder) and (folder / SUMMARY).exists()
