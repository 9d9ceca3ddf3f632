"""Memory and start-up: the bot process with the model loaded and a 100k-chunk index.

    python bench/memory_bench.py            # 100,000 chunks, onnx and torch (about 6 minutes on 2 cores)
    python bench/memory_bench.py --quick    # 300 chunks, onnx only, for the smoke test

Starts `python -m bot run` against fake Telegram and LLM servers on a knowledge base
of 100k chunks (see bench/synthetic.py), and measures the time from process start to
ready (the knowledge check done, the embedding model loaded, polling started), then
asks questions so the whole index is searched, and reads the process's peak resident
memory (VmHWM), once per embedding backend (onnx, the default, and torch).
Targets: peak RSS ≤ 800 MB, start to ready ≤ 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import synthetic
from common import ROOT, memory_mb, print_table, write_result

from bot.config import load_settings
from bot.index import make_embedder
from bot.index.evaluation import load_eval_set
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_server import TOKEN, FakeTelegram


async def measure(knowledge: Path, data: Path, questions: list[str], backend: str) -> dict:
    with FakeTelegram() as telegram, FakeOpenAI(lambda body: Reply("Use invoice finance [1].")) as llm:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
        env.update(
            KNOWLEDGE_DIR=str(knowledge),
            DATA_DIR=str(data),
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=telegram.base_url,
            LLM_MODEL="openai:fake",
            LLM_BASE_URL=llm.base_url,
            QUESTIONS_PER_MINUTE="1000",
            LOG_LEVEL="WARNING",
            EMBEDDING_BACKEND=backend,
        )
        started = time.monotonic()
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env)
        try:
            await telegram.wait_for(lambda: telegram.calls_of("getUpdates"), timeout=300, what="the bot to start")
            ready = telegram.calls_of("getUpdates")[0].at - started
            rss_ready = memory_mb(bot.pid)["peak_rss_mb"]
            for number, question in enumerate(questions):
                telegram.message(1000 + number, question)
                await telegram.wait_for(lambda n=number: telegram.texts(1000 + n), timeout=120, what="an answer")
            peak = memory_mb(bot.pid)["peak_rss_mb"]
        finally:
            bot.terminate()
            bot.wait(60)
    return {
        "backend": backend,
        "start_to_ready_s": round(ready, 2),
        "peak_rss_at_ready_mb": round(rss_ready),
        "peak_rss_mb": round(peak),
        "questions_answered": len(questions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 chunks, onnx only, 3 questions (smoke test)")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--backends", nargs="+", default=["onnx", "torch"], help="EMBEDDING_BACKEND values to run")
    args = parser.parse_args()
    size = 300 if args.quick else args.chunks
    backends = ["onnx"] if args.quick else args.backends
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        settings = load_settings(knowledge_dir=work / "knowledge", data_dir=work / "data", _env_file=None)
        build_started = time.perf_counter()
        index = synthetic.build(settings.knowledge_dir, settings, make_embedder(settings), size)
        chunks, build_s = index.count(), time.perf_counter() - build_started
        del index
        questions = [q.question for q in load_eval_set(ROOT / "knowledge" / "eval" / "questions.yaml")]
        questions = questions[:3] if args.quick else questions[:20]
        results = [
            asyncio.run(measure(settings.knowledge_dir, settings.data_dir, questions, backend)) for backend in backends
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        {
            "chunks": chunks,
            **result,
            "rss_limit_mb": 800,
            "rss_met": result["peak_rss_mb"] <= 800,
            "ready_limit_s": 10,
            "ready_met": result["start_to_ready_s"] <= 10,
        }
        for result in results
    ]
    print_table("Bot process: start-up and peak memory", rows)
    write_result(
        "memory",
        {"runs": rows, "index_build_s": round(build_s, 1), "seconds": round(time.perf_counter() - started, 1)},
        args.quick,
    )


if __name__ == "__main__":
    main()
