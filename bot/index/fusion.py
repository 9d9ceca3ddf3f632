"""Fusion: one ranking from the dense (vector) and lexical (BM25) rankings of the same chunks.

Score fusion (the default): a chunk scores DENSE_WEIGHT × its cosine similarity + LEXICAL_WEIGHT ×
its BM25 score divided by the question's best BM25 score (0–1), so a strong exact-word match breaks
near-ties between passages the embedding finds about equally close. Every candidate has a cosine
(lexical-only hits are looked up, `KnowledgeIndex.fetch`), so nothing is missing a score.

Reciprocal-rank fusion (FUSION_METHOD=rrf): a chunk scores DENSE_WEIGHT / (FUSION_K + dense rank) + LEXICAL_WEIGHT /
(FUSION_K + lexical rank), ranks from 1, nothing for a ranking it is not in. On both eval sets
it did worse than score fusion at every weight tried (docs/quality.md): ranks throw away how
close the embedding's scores are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fusion:
    mode: str = "hybrid"  # hybrid | dense | lexical
    k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 0.08
    depth: int = 30  # candidates taken from each ranking
    method: str = "score"  # dense cosine + LEXICAL_WEIGHT × BM25 / best BM25; or "rrf"

    @property
    def dense(self) -> bool:
        return self.mode != "lexical"

    @classmethod
    def from_settings(cls, settings) -> Fusion:
        return cls(
            settings.retrieval_mode,
            settings.fusion_k,
            settings.dense_weight,
            settings.lexical_weight,
            method=settings.fusion_method,
        )


def fuse(dense: list[str], lexical: list[str], fusion: Fusion) -> list[str]:
    """Chunk ids, best first."""
    scores: dict[str, float] = {}
    for weight, ranking in ((fusion.dense_weight, dense), (fusion.lexical_weight, lexical)):
        for rank, id_ in enumerate(ranking, start=1):
            scores[id_] = scores.get(id_, 0.0) + weight / (fusion.k + rank)
    return sorted(scores, key=lambda id_: -scores[id_])


def fuse_scores(dense: dict[str, float], lexical: dict[str, float], fusion: Fusion) -> list[str]:
    """Chunk ids, best first, by dense cosine + lexical_weight × BM25 normalised by the best BM25."""
    top = max(lexical.values(), default=0.0) or 1.0
    ids = set(dense) | set(lexical)
    score = {i: fusion.dense_weight * dense.get(i, 0.0) + fusion.lexical_weight * lexical.get(i, 0.0) / top
             for i in ids}
    return sorted(ids, key=lambda i: -score[i])


def fused_shares(lexical: dict[str, float], fusion: Fusion) -> dict[str, float]:
    """Each chunk's lexical share of its fused score (what `fuse_scores` adds to the cosine)."""
    top = max(lexical.values(), default=0.0) or 1.0
    return {i: fusion.lexical_weight * score / top for i, score in lexical.items()}
