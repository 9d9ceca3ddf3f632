"""Tune chunking on the knowledge eval set: chunk size, overlap and heading context.

    python bench/tune_retrieval.py            # the full grid (a few minutes on 2 cores)
    python bench/tune_retrieval.py --quick    # two variants, for the smoke test

Each variant is ingested into its own temporary index with the real model and
scored with `python -m bot eval`'s code. Prints a table and writes
bench/results/tune_retrieval.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.index import make_embedder, make_index  # noqa: E402
from bot.index.evaluation import load_eval_set, run_eval  # noqa: E402
from bot.index.retriever import Retriever  # noqa: E402
from bot.knowledge.ingest import ingest_configured  # noqa: E402

GRID = [
    (120, 20, True),
    (150, 0, True),
    (150, 30, True),
    (150, 30, False),
    (180, 30, True),
    (220, 40, True),
    (300, 40, True),
]
QUICK = [(220, 40, True), (220, 40, False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two variants only")
    parser.add_argument("--knowledge-dir", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tune_retrieval.json")
    args = parser.parse_args()

    questions = load_eval_set(args.knowledge_dir / "eval" / "questions.yaml")
    rows = []
    embedder = None
    for size, overlap, headings in QUICK if args.quick else GRID:
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(
                knowledge_dir=args.knowledge_dir,
                data_dir=Path(tmp),
                chunk_size=size,
                chunk_overlap=overlap,
                embed_headings=headings,
            )
            embedder = embedder or make_embedder(settings)
            index = make_index(settings)
            started = time.perf_counter()
            report = ingest_configured(
                settings,
                index,
                embedder,
            )
            seconds = time.perf_counter() - started
            result = run_eval(Retriever(index, embedder), questions, settings.min_score)
            rows.append(
                {
                    "chunk_size": size,
                    "chunk_overlap": overlap,
                    "embed_headings": headings,
                    "chunks": report.chunks_written,
                    "ingest_seconds": round(seconds, 1),
                    **{k: v for k, v in result.to_dict().items() if k != "misses"},
                }
            )
            print_row(rows[-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "variants": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


def print_row(row: dict) -> None:
    if not getattr(print_row, "header", False):
        print(
            f"{'size':>5} {'overlap':>7} {'heads':>5} {'chunks':>6} {'r@1':>6} {'r@5':>6} {'MRR':>6} "
            f"{'nc-acc':>6} {'wrong':>6} {'best thr':>8}"
        )
        print_row.header = True
    print(
        f"{row['chunk_size']:>5} {row['chunk_overlap']:>7} {row['embed_headings']!s:>5} {row['chunks']:>6} "
        f"{row['recall_at_1']:>6.3f} {row['recall_at_5']:>6.3f} {row['mrr']:>6.3f} "
        f"{row['not_covered_accuracy']:>6.3f} {row['false_not_covered']:>6.3f} {row['suggested_min_score']:>8}",
        flush=True,
    )


if __name__ == "__main__":
    main()
