"""A large knowledge base and its index, built fast, for the retrieval and memory benchmarks.

Embedding 100,000 chunks with the real model would take over an hour on 2 cores,
so the corpus is the shipped knowledge base (embedded for real) plus distinct
variants of it whose vectors are their original chunk's vector with a little
noise: the index has the same size, dimension and clustered shape as a real
one. The variant files are written to disk and their chunks stored with the
real content hashes, so `python ingest.py` sees an up-to-date index and leaves
it alone (a bot starting on it does the same planning work as in production).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from common import ROOT, vary

from bot.index import Embedder, KnowledgeIndex, make_index
from bot.knowledge import Chunk, chunk_metadata, discover, load_document, split_document
from bot.knowledge.ingest import Recipe

BATCH = 5000
NOISE = 0.05


def real_documents(settings) -> list[tuple[Path, str]]:
    files, _ = discover(ROOT / "knowledge")
    return [(path.relative_to(ROOT / "knowledge"), path.read_text(encoding="utf-8")) for path in files]


def build(knowledge: Path, settings, embedder: Embedder, size: int, index_dir: Path | None = None) -> KnowledgeIndex:
    """Write variant knowledge files until `size` chunks, and store them in a fresh index."""
    originals = real_documents(settings)
    base_vectors: dict[str, np.ndarray] = {}
    recipe = Recipe.from_settings(settings, embedder).key
    index = make_index(settings, index_dir)
    rng = np.random.default_rng(size)
    pending: list[tuple[Chunk, int, np.ndarray]] = []
    stored = copy = 0
    while stored + len(pending) < size:
        for rel, text in originals:
            if stored + len(pending) >= size:
                break
            target = knowledge / f"variant{copy:03d}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(vary(text, copy), encoding="utf-8")
            doc = load_document(target, knowledge, settings.max_file_bytes)
            chunks = split_document(doc, settings.chunk_size, settings.chunk_overlap)
            if copy == 0:
                vectors = embedder.embed([c.embedding_text(settings.embed_headings) for c in chunks])
                for chunk, vector in zip(chunks, vectors, strict=True):
                    base_vectors[f"{rel}#{chunk.chunk_index}"] = vector
            for chunk in chunks:
                base = base_vectors.get(f"{rel}#{chunk.chunk_index}")
                if base is None:  # a variant split differently: borrow any vector of that file
                    base = next(v for k, v in base_vectors.items() if k.startswith(f"{rel}#"))
                vector = base if copy == 0 else base + rng.normal(0, NOISE, base.shape).astype(np.float32)
                pending.append((chunk, len(chunks), vector / np.linalg.norm(vector)))
            if len(pending) >= BATCH:
                _store(index, pending, recipe)
                stored += len(pending)
                pending = []
        copy += 1
    if pending:
        _store(index, pending, recipe)
    return index


def _store(index: KnowledgeIndex, items: list[tuple[Chunk, int, np.ndarray]], recipe: str) -> None:
    index.collection.add(
        ids=[chunk.id for chunk, _, _ in items],
        embeddings=np.array([vector for _, _, vector in items], dtype=np.float32),
        documents=[chunk.text for chunk, _, _ in items],
        metadatas=[{**chunk_metadata(chunk, count), "recipe": recipe} for chunk, count, _ in items],
    )
