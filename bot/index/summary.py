"""What a published index version holds, written beside it: each file's state, the catalog and
the chunk count.

A serving bot asks these of its index at start (is the index up to date with `knowledge/`?
which models embedded it? which topics and languages does it cover?). Read from Chroma they
cost its import and client (~36 MB, ~0.5 s) in a process that answers from the saved sections
and never searches a collection. A published version is never written again, so its summary
stays true; it is trusted only beside the version's manifest, which publishing writes last (the
next version starts as a copy of the live one, summary included, without a manifest).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
LAYOUT = 1


@dataclass(frozen=True)
class FileState:
    """What the index holds for one knowledge file: its hash, how it was chunked, how many chunks."""

    content_hash: str
    recipe: str
    chunks: int
    complete: bool


@dataclass(frozen=True)
class Catalog:
    topics: dict[str, list[str]]
    languages: frozenset[str]
    recipes: dict[str, int] = dataclasses.field(default_factory=dict)  # recipe -> files made with it


@dataclass(frozen=True)
class Summary:
    files: dict[str, FileState]
    catalog: Catalog
    chunks: int


def write_summary(folder: Path, files: dict[str, FileState], catalog: Catalog, chunks: int) -> None:
    """Save a version's summary before it is published (`bot.knowledge.runner`)."""
    data = {
        "layout": LAYOUT,
        "chunks": chunks,
        "files": {path: [s.content_hash, s.recipe, s.chunks, s.complete] for path, s in sorted(files.items())},
        "topics": catalog.topics,
        "languages": sorted(catalog.languages),
        "recipes": catalog.recipes,
    }
    scratch = folder / f".{SUMMARY}.tmp"
    scratch.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    scratch.replace(folder / SUMMARY)


def read_summary(folder: Path | None, manifest: str) -> Summary | None:
    """The summary of the published version in `folder` (None: not published, written before
    summaries, or damaged; the caller then asks Chroma)."""
    if folder is None or not (folder / manifest).exists():
        return None
    try:
        data = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
        if data.get("layout") != LAYOUT:
            return None
        files = {path: FileState(h, r, int(n), bool(c)) for path, (h, r, n, c) in data["files"].items()}
        catalog = Catalog(
            {topic: list(titles) for topic, titles in data["topics"].items()},
            frozenset(data["languages"]),
            {recipe: int(n) for recipe, n in data["recipes"].items()},
        )
        return Summary(files, catalog, int(data["chunks"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("ignoring the index summary in %s (%s); reading the index itself", folder, exc)
        return None
