"""A Chroma collection's records read and written for one knowledge file, a page at a time.

`bot.index.chroma` keeps several collections per index (each embedding space's chunks, and each
space's section questions); all are read and replaced the same way, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Records:
    """What to write of one file into a kind of collection (its chunks, or its sections'
    questions): ids, texts, metadata, and their vectors by space (None: the first)."""

    ids: Sequence[str]
    texts: Sequence[str]
    metadatas: Sequence[dict]
    vectors: dict[str | None, np.ndarray]


def read_all(collection, page: int, embeddings: bool) -> tuple[list[str], list[str], list[dict], np.ndarray]:
    """Every record's id, text and metadata (and, with `embeddings`, its vector, as one matrix),
    `page` at a time: Chroma refuses one request for 100k records."""
    ids: list[str] = []
    texts: list[str] = []
    metadatas: list[dict] = []
    vectors: list[np.ndarray] = []
    include = ["documents", "metadatas", *(["embeddings"] if embeddings else [])]
    offset = 0
    while True:
        result = collection.get(include=include, limit=page, offset=offset)
        ids += result["ids"]
        texts += result["documents"]
        metadatas += [meta or {} for meta in result["metadatas"]]
        if embeddings and len(result["ids"]):
            vectors.append(np.asarray(result["embeddings"], dtype=np.float32))
        if len(result["ids"]) < page:
            matrix = np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
            return ids, texts, metadatas, matrix
        offset += page


def replace_records(collection, path: str, records: Records, space: str | None) -> None:
    """A file's records in one space's collection: the new ones in (upserted), then the old ones out."""
    old_ids = set(collection.get(where={"path": path}, include=[])["ids"])
    if records.ids:
        collection.upsert(
            ids=list(records.ids),
            embeddings=records.vectors[space],
            documents=list(records.texts),
            metadatas=list(records.metadatas),
        )
    stale = old_ids - set(records.ids)
    if stale:
        collection.delete(ids=sorted(stale))
