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


def read_ids(collection, ids: Sequence[str], page: int, include: list[str]) -> dict[str, tuple]:
    """The `include`d fields of these records, by id, `page` at a time (none: no collection);
    an id the collection lacks is left out."""
    found: dict[str, tuple] = {}
    for start in range(0, len(ids) if collection is not None else 0, page):
        result = collection.get(ids=list(ids[start : start + page]), include=include)
        for n, id_ in enumerate(result["ids"]):
            found[id_] = tuple(result[field][n] for field in include)
    return found


def replace_many(collection, files: Sequence[tuple[str, Records]], space: str | None, batch: int = 5000) -> None:
    """Several files' records in one space's collection, in as few writes as Chroma takes (at
    most `batch` records each): the new ones in (upserted), then each file's old ones out.

    A write pays a fixed cost of ~15 ms besides ~0.5 ms a record; an ingest writing a file at a
    time into four collections spent 32 of its ~220 s writing (bench/ingest_bench.py)."""
    paths = [path for path, _ in files]
    where = {"path": paths[0]} if len(paths) == 1 else {"path": {"$in": paths}}
    old_ids = set(collection.get(where=where, include=[])["ids"])
    ids = [id_ for _, records in files for id_ in records.ids]
    texts = [text for _, records in files for text in records.texts]
    metadatas = [meta for _, records in files for meta in records.metadatas]
    vectors = [records.vectors[space] for _, records in files if len(records.ids)]
    matrix = np.concatenate(vectors) if vectors else None
    for start in range(0, len(ids), batch):
        end = start + batch
        collection.upsert(
            ids=ids[start:end], embeddings=matrix[start:end], documents=texts[start:end], metadatas=metadatas[start:end]
        )
    stale = old_ids - set(ids)
    if stale:
        collection.delete(ids=sorted(stale))
