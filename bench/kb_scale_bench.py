"""How cost grows with the knowledge base: ingest time, the bot's memory and start at ready, and
the offline answer's latency, with knowledge/ (112 files) and a 1,000-file base synthesised from
it, and the growth per 10× (issue 31).

    nice -n 5 python bench/kb_scale_bench.py            # 112 and 1,000 files (about 45 minutes on 2 cores)
    python bench/kb_scale_bench.py --quick              # 2 and 5 files, a few questions: the smoke test
    nice -n 5 python bench/kb_scale_bench.py --files 112   # one size again (growth needs two)

The 1,000-file base is knowledge/'s 112 files and 888 written by `kb_synthetic`: sections of two or
three files of one topic recombined for a made-up business each, reworded, their figures changed;
see its docstring. Each size starts from nothing, with the default settings (only the folders set):
an empty DATA_DIR and an empty embedding cache (EMBEDDING_CACHE_DIR, as a fresh clone has none).

1. Ingest: the wall time of `python ingest.py`, measured from outside (process start and model
   load included), its peak RSS, the files and passages (chunks) it published, the index folder's size.
2. Ready: the real bot (`python -m bot run`, offline: no LLM configured) on that index against a
   fake Telegram (bot_bench's machinery): start to its first getUpdates, and its RSS then.
3. Answers: one owner asking 20 questions in a row, then 10 owners asking 5 each (about 2 s of
   reading between them): the eval sets' questions, each different; the bot's overhead p50/p95
   (offline, the whole latency) and its RSS after them.

Growth per 10×: the 1,000-file figure over the 112-file one is the raw ratio (for 8.9× the files);
scaled to 10× as a power law through the two points, ratio ** (1 / log10(8.9)). RSS has a large
fixed part (the models), so its growth is also given as MB per 1,000 files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot_bench import ANSWER, Load, eval_questions, phase, start_bot, wait_ready
from common import ROOT, memory_mb, print_table, write_result
from kb_synthetic import make_knowledge_base

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_server import FakeTelegram

SIZES = [(112, 112), (1000, 112)]  # (files, of which real ones from knowledge/)
QUICK_SIZES = [(2, 2), (5, 2)]
MANY_OWNERS = 10
QUESTIONS = {"one": 20, "many": 5, "think_s": 2.0}  # an owner's questions (1 owner, then each of 10), reading time
QUICK_QUESTIONS = {"one": 3, "many": 1, "think_s": 0.2}


def default_env(**folders: str) -> dict[str, str]:
    """The environment of a consultant's shell: no bot settings but the folders."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))} | folders


def ingest(knowledge: Path, data: Path, cache: Path) -> dict:
    """`python ingest.py` timed from outside, with its peak RSS (from the kernel's wait4)."""
    env = default_env(KNOWLEDGE_DIR=str(knowledge), DATA_DIR=str(data), EMBEDDING_CACHE_DIR=str(cache))
    log = data.parent / f"ingest-{data.name}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "ingest.py"], cwd=ROOT, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"ingest failed: {log.read_text()[-3000:]}")
    index = data / "index"
    manifest = published(index)
    return {
        "ingest_s": round(seconds, 1),
        "ingest_peak_rss_mb": usage.ru_maxrss // 1024,
        "files": manifest["files"],
        "passages": manifest["chunks"],
        "index_mb": round(sum(p.stat().st_size for p in index.rglob("*") if p.is_file()) / 1e6, 1),
    }


def published(index: Path) -> dict:
    """The live version's manifest: the files and chunks the ingest published."""
    manifests = sorted(index.rglob("manifest.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(manifests[-1].read_text())


async def serve(work: Path, knowledge: Path, data: str, cache: Path, questions: dict) -> dict:
    """The bot at ready on the ingested index, then answering 1 and 10 owners offline."""
    with FakeTelegram() as telegram, FakeOpenAI(lambda body: Reply(ANSWER)) as llm:
        started = time.monotonic()
        bot = start_bot(work, None, telegram, None, data, "", knowledge, EMBEDDING_CACHE_DIR=str(cache))
        try:
            row = await wait_ready(telegram, bot, started)
            load = Load(telegram, llm, eval_questions())
            await phase(load, 1, 1, 900_000, bot.pid, 0)  # warm-up: first-use costs are not an answer's
            one = await phase(load, 1, questions["one"], 1_000, bot.pid, 0)
            many = await phase(load, MANY_OWNERS, questions["many"], 2_000, bot.pid, questions["think_s"])
            after = {f"{k}_after": v for k, v in memory_mb(bot.pid).items()}
        finally:
            bot.terminate()
            bot.wait(60)
    lost = one["lost"] + many["lost"]
    return row | _latency("1_owner", one) | _latency(f"{MANY_OWNERS}_owners", many) | after | {"lost": lost}


def _latency(label: str, row: dict) -> dict:
    return {f"overhead_p50_ms_{label}": row["overhead_p50_ms"], f"overhead_p95_ms_{label}": row["overhead_p95_ms"]}


def measure(scratch: Path, files: int, real: int, questions: dict) -> dict:
    knowledge = scratch / f"knowledge-{files}"
    make_knowledge_base(knowledge, files, real)
    cache = scratch / f"cache-{files}"
    print(f"\n{files} files ({real} from knowledge/): ingesting…", flush=True)
    row = {"size": files} | ingest(knowledge, scratch / f"data-{files}", cache)
    print_table(f"{files} files: ingest", [row])
    row |= asyncio.run(serve(scratch, knowledge, f"data-{files}", cache, questions))
    print_table(f"{files} files", [row])
    return row


GROWTH = [
    "passages",
    "index_mb",
    "ingest_s",
    "ingest_peak_rss_mb",
    "start_to_ready_s",
    "rss_mb_at_ready",
    "rss_mb_after",
    "overhead_p50_ms_1_owner",
    "overhead_p95_ms_1_owner",
    f"overhead_p50_ms_{MANY_OWNERS}_owners",
    f"overhead_p95_ms_{MANY_OWNERS}_owners",
]


def growth(small: dict, large: dict) -> list[dict]:
    """Each figure's raw ratio, that ratio as a power law scaled to 10× the files, and the change per 1,000 files."""
    scale = large["files"] / small["files"]
    rows = []
    for key in GROWTH:
        ratio = large[key] / small[key] if small[key] else float("nan")
        per_10x = ratio ** (1 / math.log10(scale)) if ratio > 0 else float("nan")
        per_1000 = (large[key] - small[key]) * 1000 / (large["files"] - small["files"])
        rows.append({"figure": key, "small": small[key], "large": large[key], "ratio": round(ratio, 2)})
        rows[-1] |= {"per_10x": round(per_10x, 2), "per_1000_files": round(per_1000, 2)}
    return rows


def uptime() -> str:
    return Path("/proc/loadavg").read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 and 5 files, a few questions (smoke test)")
    parser.add_argument("--files", type=int, nargs="+", help="only these sizes (each with up to 112 real files)")
    args = parser.parse_args()
    os.environ.pop("EMBEDDING_CACHE", None)  # common.py turns the vector cache off; the default is on
    sizes = [(n, min(n, 112)) for n in args.files] if args.files else QUICK_SIZES if args.quick else SIZES
    load_before, rows = uptime(), []
    with tempfile.TemporaryDirectory(prefix="bench-kb-") as scratch:
        for files, real in sizes:
            rows.append(measure(Path(scratch), files, real, QUICK_QUESTIONS if args.quick else QUESTIONS))
            record(rows, [], load_before, args.quick, complete=False)  # what finished, should a later size not
    table = growth(rows[0], rows[-1]) if len(rows) > 1 else []
    print_table(f"Growth from {rows[0]['files']} to {rows[-1]['files']} files", table)
    record(rows, table, load_before, args.quick, complete=True)


def record(rows: list[dict], table: list[dict], load_before: str, quick: bool, complete: bool) -> None:
    payload = {
        "sizes": rows,
        "growth": table,
        "complete": complete,
        "load_before": load_before,
        "load_after": uptime(),
        "niceness": os.nice(0),
    }
    write_result("kb_scale", payload, quick)


if __name__ == "__main__":
    main()
