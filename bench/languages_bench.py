"""Embedding backends for owners in other languages: speed and recall, English and multilingual.

    python bench/languages_bench.py            # knowledge/ and both eval sets, three backends (~4 minutes)
    python bench/languages_bench.py --quick    # the default backend on a few files, for the smoke test

For EMBEDDING_BACKEND `onnx` (MiniLM only), `e5` (multilingual-e5-small only), `onnx+e5` (both
spaces, English questions searched with MiniLM, the others with e5) and the default (`onnx-q8+e5`:
the same with MiniLM in 8-bit blocks): the whole
`python ingest.py` of the knowledge base as a consultant runs it (process start, model loads,
both spaces), one question's embedding, and `python -m bot eval` on `knowledge/eval/
questions.yaml` (English) and `questions.multilingual.yaml` (11 other languages). The rules:
English recall@5 may drop by at most 0.01 against MiniLM, multilingual recall@5 ≥ 0.95, and
the default's ingest of knowledge/ under 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import ROOT, Timer, print_table, summary, write_result

from bot.config import Settings, load_settings
from bot.index import make_embeddings

EVAL_SETS = {"english": "questions.yaml", "multilingual": "questions.multilingual.yaml"}
QUESTIONS = {
    "english": "How can a small business get working capital without collateral?",
    "multilingual": "Как получить оборотный капитал без залога?",
}


def knowledge(quick: bool, scratch: Path) -> Path:
    """knowledge/ as it is, or (quick) the few files the quick eval sets point at."""
    if not quick:
        return ROOT / "knowledge"
    folder = scratch / "knowledge"
    copied = (
        "credit/collateral-free-finance-options.md",
        "credit/data-driven-lending.md",
        "trade/selling-cross-border-via-platforms.md",
        "strategy/writing-a-ten-year-plan.md",
    )
    for rel in copied:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "knowledge" / rel, folder / rel)
    (folder / "eval").mkdir()
    for file in EVAL_SETS.values():
        entries = yaml.safe_load((ROOT / "knowledge" / "eval" / file).read_text(encoding="utf-8"))
        kept = [entry for entry in entries if _about(entry, copied)][:4]
        (folder / "eval" / file).write_text(yaml.safe_dump(kept, allow_unicode=True), encoding="utf-8")
    return folder


def _about(entry: dict, copied: tuple[str, ...]) -> bool:
    """An eval entry asked on its own, answered only from the copied files, among them the
    collateral or the cross-border one."""
    paths = [s.split("#", 1)[0] for s in entry.get("sections", [])] + entry.get("files", [])
    wanted = any(w in p for p in paths for w in ("collateral-free", "selling-cross-border"))
    return not entry.get("after") and wanted and set(paths) <= set(copied)


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)


def measure(backend: str, folder: Path, data: Path) -> dict:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "TELEGRAM_"))}}
    env.update(KNOWLEDGE_DIR=str(folder), DATA_DIR=str(data), EMBEDDING_BACKEND=backend)
    started = time.perf_counter()
    run(["ingest.py"], env)
    ingest_seconds = time.perf_counter() - started
    row = {"backend": backend, "ingest s": round(ingest_seconds, 1)}
    for name, file in EVAL_SETS.items():
        report = json.loads(run(["-m", "bot", "eval", str(folder / "eval" / file), "--json"], env).stdout)
        row[f"{name} r@1"], row[f"{name} r@5"] = report["recall_at_1"], report["recall_at_5"]
        row[f"{name} not-covered acc."] = report["not_covered_accuracy"]
    embeddings = make_embeddings(load_settings(embedding_backend=backend, _env_file=None))
    for name, question in QUESTIONS.items():
        embedder = embeddings.for_question(question)
        embedder.serve_queries()
        embedder.embed(["warm up"])
        times = []
        for n in range(20):
            with Timer() as timer:
                embedder.embed([f"{question} {n}"])
            times.append(timer.seconds * 1000)
        row[f"{name} question ms"] = summary(times)["p50_ms"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few files and questions, the default backend")
    options = parser.parse_args()
    default = Settings.model_fields["embedding_backend"].default
    backends = [default] if options.quick else list(dict.fromkeys(["onnx", "e5", "onnx+e5", default]))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = knowledge(options.quick, Path(scratch))
        for backend in backends:
            rows.append(measure(backend, folder, Path(scratch) / backend.replace("+", "-")))
    print_table("Embedding backends: ingest, recall and a question's embedding", rows)
    write_result("languages", {"backends": rows}, options.quick)


if __name__ == "__main__":
    main()
