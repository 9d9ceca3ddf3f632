"""Retrieval latency at 1k, 10k and 100k chunks, against the raw library calls.

    python bench/retrieval_bench.py            # 1k, 10k, 100k chunks (about 6 minutes on 2 cores)
    python bench/retrieval_bench.py --quick    # 100 and 300 chunks, for the smoke test

`Retriever.retrieve()` (query embedding, search, filters, passages) is timed against
the raw model's `encode` of the question (ONNX Runtime by default, sentence-transformers
with --backend torch) plus Chroma `collection.query` of the same vector, question by
question, alternating which goes first. Questions come from
the knowledge eval set and are all distinct, so no cache helps either side.
The index holds the real knowledge base plus variants of it (see bench/synthetic.py).
Target: retrieve() p95 ≤ 1.5 × raw p95 at 100k chunks.

The hybrid line (RETRIEVAL_MODE=hybrid, the default: vectors plus BM25, `bot.index.lexical`)
is timed in the same alternation against dense-only retrieve(); target: hybrid p95 ≤ 1.5 ×
dense p95. `lexical_build_s` is the time to build and save the BM25 index of all the chunks,
as every ingest does at its end.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import synthetic
from common import ROOT, Timer, print_table, summary, write_result

from bot.config import load_settings
from bot.index import Embedder, make_embedder
from bot.index.evaluation import load_eval_set
from bot.index.fusion import Fusion
from bot.index.retriever import Retriever
from bot.knowledge.runner import write_lexical


def measure(index, embedder: Embedder, questions: list[str], k: int) -> dict:
    retriever = Retriever(index, embedder)
    _hybrid(retriever, "warm up: load the BM25 index and the stemmer", k)
    ours, raw, hybrid = [], [], []
    for number, question in enumerate(questions):
        runs = [(_ours, ours), (_raw, raw), (_hybrid, hybrid)]
        for run, times in runs[number % 3 :] + runs[: number % 3]:
            with Timer() as timer:
                run(retriever, question, k)
            times.append(timer.seconds * 1000)
    return {"ours": summary(ours), "raw": summary(raw), "hybrid": summary(hybrid)}


def _ours(retriever: Retriever, question: str, k: int) -> None:
    retriever.fusion = Fusion(mode="dense")
    retriever.embedder._query_cache.cache_clear()  # each side embeds the question itself
    retriever.retrieve(question, k)


def _hybrid(retriever: Retriever, question: str, k: int) -> None:
    retriever.fusion = Fusion(mode="hybrid")
    retriever.embedder._query_cache.cache_clear()
    retriever.retrieve(question, k)


def _raw(retriever: Retriever, question: str, k: int) -> None:
    vector = retriever.embedder.model.encode([question], normalize_embeddings=True)[0]
    retriever.index.collection.query(
        query_embeddings=[vector], n_results=k, include=["documents", "metadatas", "distances"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--backend", default="onnx", choices=["onnx", "onnx-int8", "torch"], help="EMBEDDING_BACKEND")
    args = parser.parse_args()
    sizes = [100, 300] if args.quick else args.sizes
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    embedder = make_embedder(load_settings(embedding_backend=args.backend, _env_file=None))
    questions = [q.question for q in load_eval_set(ROOT / "knowledge" / "eval" / "questions.yaml")]
    questions = questions[:10] if args.quick else questions
    rows = []
    try:
        for size in sizes:
            settings = load_settings(
                knowledge_dir=work / f"knowledge-{size}", data_dir=work / f"data-{size}", _env_file=None
            )
            with Timer() as build:
                index = synthetic.build(settings.knowledge_dir, settings, embedder, size)
            with Timer() as lexical:
                write_lexical(index, index.folder)
            embedder._query_cache.cache_clear()
            result = measure(index, embedder, questions, 5)
            ratio = result["ours"]["p95_ms"] / result["raw"]["p95_ms"]
            hybrid_ratio = result["hybrid"]["p95_ms"] / result["ours"]["p95_ms"]
            rows.append(
                {
                    "chunks": index.count(),
                    "build_s": round(build.seconds, 1),
                    "retrieve_p50_ms": result["ours"]["p50_ms"],
                    "retrieve_p95_ms": result["ours"]["p95_ms"],
                    "raw_p50_ms": result["raw"]["p50_ms"],
                    "raw_p95_ms": result["raw"]["p95_ms"],
                    "p95_ratio": round(ratio, 3),
                    "target_ratio": 1.5,
                    "met": ratio <= 1.5,
                    "lexical_build_s": round(lexical.seconds, 2),
                    "hybrid_p50_ms": result["hybrid"]["p50_ms"],
                    "hybrid_p95_ms": result["hybrid"]["p95_ms"],
                    "hybrid_vs_dense_p95": round(hybrid_ratio, 3),
                    "hybrid_met": hybrid_ratio <= 1.5,
                }
            )
            print_table("Retrieval latency so far", rows[-1:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table("Retrieval latency: retrieve() vs raw encode + Chroma query (same questions, k=5)", rows)
    write_result(
        "retrieval",
        {
            "backend": args.backend,
            "questions": len(questions),
            "k": 5,
            "sizes": rows,
            "seconds": round(time.perf_counter() - started, 1),
        },
        args.quick,
    )


if __name__ == "__main__":
    main()
