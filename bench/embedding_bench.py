"""Faster embeddings: the same model on ONNX Runtime (fp32 and int8) against sentence-transformers.

    python bench/embedding_bench.py            # the whole knowledge base and eval set (about 4 minutes)
    python bench/embedding_bench.py --quick    # a few files and questions, for the smoke test

For each backend: the time to load it in a fresh process (imports included), one
question's embedding on one thread (how the bot serves), ingestion throughput on the
knowledge base, and recall@5 / MRR on the eval set with an index built by that backend.
The rule: a backend becomes a setting only if recall@5 drops by less than 1 point
(onnx-fp32 is EMBEDDING_BACKEND=onnx, the default; int8 is EMBEDDING_BACKEND=onnx-int8).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, Timer, print_table, summary, write_result

from bot.config import load_settings
from bot.index import Embedder, make_index
from bot.index.embedder import default_model_path
from bot.index.evaluation import load_eval_set, run_eval
from bot.index.onnx_model import export
from bot.index.retriever import Retriever
from bot.knowledge import discover
from bot.knowledge.ingest import ingest_configured

LOAD_CODE = """
import time; t = time.perf_counter()
from pathlib import Path
from bot.index import Embedder
e = Embedder(backend={backend!r}, onnx_dir=Path({folder!r}) if {folder!r} else None, onnx_file={file!r})
e.embed(["warm up"])
print(time.perf_counter() - t)
"""


def load_seconds(backend: str, folder: str, file: str) -> float:
    code = LOAD_CODE.format(backend=backend, folder=folder, file=file)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def query_latency(embedder: Embedder, questions: list[str]) -> dict:
    embedder.serve_queries()
    times = []
    for question in questions:
        with Timer() as timer:
            embedder.model.encode([question], batch_size=1, normalize_embeddings=True)
        times.append(timer.seconds * 1000)
    return summary(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few files and questions (smoke test)")
    args = parser.parse_args()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    knowledge = ROOT / "knowledge"
    if args.quick:
        knowledge = work / "knowledge"
        for path in discover(ROOT / "knowledge")[0][:3]:
            target = knowledge / path.relative_to(ROOT / "knowledge")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    questions = load_eval_set(ROOT / "knowledge" / "eval" / "questions.yaml")
    if args.quick:
        files = {p.relative_to(knowledge).as_posix() for p in discover(knowledge)[0]}
        questions = [q for q in questions if set(q.files) & files or q.not_covered][:12]
    onnx_dir = work / "onnx"
    export(default_model_path(), onnx_dir, quantize=True)

    variants = {
        "torch": ("torch", None, "model.onnx"),
        "onnx-fp32": ("onnx", onnx_dir, "model.onnx"),
        "onnx-int8": ("onnx", onnx_dir, "model.int8.onnx"),
    }
    rows = []
    try:
        for label, (backend, folder, file) in variants.items():
            embedder = Embedder(backend=backend, onnx_dir=folder, onnx_file=file)
            load_s = load_seconds(backend, str(folder or ""), file)
            settings = load_settings(knowledge_dir=knowledge, data_dir=work / label, _env_file=None)
            index = make_index(settings)
            with Timer() as ingest_timer:
                report = ingest_configured(
                    settings,
                    index,
                    embedder,
                )
            result = run_eval(Retriever(index, embedder), questions, settings.min_score)
            latency = query_latency(embedder, [q.question for q in questions])
            rows.append(
                {
                    "backend": label,
                    "load_s": round(load_s, 2),
                    "query_p50_ms": latency["p50_ms"],
                    "query_p95_ms": latency["p95_ms"],
                    "ingest_chunks_per_s": round(report.chunks_written / ingest_timer.seconds, 1),
                    "recall_at_5": round(result.recall_at(5), 3),
                    "mrr": round(result.mrr, 3),
                    "not_covered_acc": round(result.not_covered_accuracy, 3),
                }
            )
            print_table("so far", rows[-1:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = rows[0]
    for row in rows:
        row["query_speedup"] = round(base["query_p50_ms"] / row["query_p50_ms"], 2)
        row["recall_drop_points"] = round((base["recall_at_5"] - row["recall_at_5"]) * 100, 1)
        row["may_be_a_setting"] = row["recall_drop_points"] < 1.0
    print_table("Embedding backends (one question on one thread; ingest on all cores; eval set recall)", rows)
    write_result(
        "embedding",
        {"questions": len(questions), "backends": rows, "seconds": round(time.perf_counter() - started, 1)},
        args.quick,
    )


if __name__ == "__main__":
    main()
