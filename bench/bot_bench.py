"""Bot throughput, overhead, CPU, memory and start-up: the real bot process against fake servers.

    python bench/bot_bench.py            # 1, 10, 50, 200 owners; zero delay; first start (about 7 minutes)
    python bench/bot_bench.py --quick    # 1 and 3 owners, for the smoke test
    python bench/bot_bench.py --offline-only --owners 50   # only the offline series (no LLM configured)

The bot runs as `python -m bot run` in its own process, exactly as in production,
polling a fake Bot API server; the fake OpenAI-compatible LLM streams its answer
after a fixed delay (300 ms). Each owner asks several questions, each after reading
the previous answer for about --think seconds (5 by default, jittered). Owner-visible
latency is from the moment the update is available to the final message's arrival;
the LLM's own time (from the fake LLM's records: any follow-up rewrite plus the
streamed answer) is subtracted to give the bot's overhead. Then, with an LLM that
answers at once and owners who ask again the moment an answer arrives (no reading
time), the answers per second show the bot's capacity. Last, the same owners with no LLM
configured (the offline answer every new deployment gives): its CPU per answer and overhead.
Telegram's own flood limit (30 messages per second) is switched off here
(TELEGRAM_MAX_MESSAGES_PER_SECOND=0) to measure the bot, not the limit.

Each bot start is timed from the process's start to its first getUpdates (start to ready, an
up-to-date index), and its resident memory read at ready, at the end of each series (VmRSS,
VmHWM) and after --after more answers (1,000) to the eval sets' questions, each different and in
nine languages, so the memory a day of varied questions leaves is counted. The first start (not
with --quick) is a fresh DATA_DIR and an empty embedding cache: the start-up ingest embeds
knowledge/ in both spaces, then the first question is answered.

Targets (issue 31): RSS ≤ 350 MB offline and ≤ 400 MB with an LLM, at ready and after the 1,000
answers; start to ready ≤ 2.5 s offline and ≤ 3.5 s with an LLM; bot CPU per answer ≤ 54 ms at 50
owners with the 300 ms LLM and ≤ 30 ms offline; offline overhead p95 ≤ 100 ms at 50 owners; a
streamed answer's overhead p50 ≤ 20 ms and p95 ≤ 40 ms at 1 owner; first start ≤ 90 s to the
first answer, without torch; 0 messages lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, ROOT, memory_mb, print_table, summary, write_result

from bot.config import Settings, load_settings
from bot.knowledge.runner import run_ingest
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_server import TOKEN, FakeTelegram

QUESTIONS = [
    "How can a small business get credit without collateral?",
    "Should I sell cross-border through online marketplaces?",
    "What should my 10-year plan look like?",
    "How do I raise prices without losing customers?",
    "What should I outsource first?",
]
ANSWER = "Start with **invoice finance** [1], then ask suppliers for longer terms [2]. Keep records clean [1]."
TAG = re.compile(r"\((\d+)-(\d+)\)")  # digits only: a word in it would change what the question is about
ANSWER_TIMEOUT = 120
BACKEND = ""  # EMBEDDING_BACKEND of the bot under test (--backend; default: the settings' default)


class Load:
    """Owners asking questions, and what the fake servers saw."""

    def __init__(self, telegram: FakeTelegram, llm: FakeOpenAI, pool: list[str] | None = None) -> None:
        self.telegram, self.llm = telegram, llm
        self.pool = pool or QUESTIONS  # what owners ask, in turn
        self.loop = asyncio.get_running_loop()
        self.waiting: dict[int, asyncio.Future] = {}
        telegram.listeners.append(self._on_call)

    def _on_call(self, call) -> None:
        markup = call.params.get("reply_markup") or {}
        if call.method == "sendMessage" and re.search(r"'(?:fb:up|human):", str(markup.get("inline_keyboard", ""))):
            chat = int(call.params["chat_id"])
            future = self.waiting.get(chat)
            if future is not None:
                self.loop.call_soon_threadsafe(_resolve, future, call.at)

    async def owner(self, owner: int, questions: int, latencies: list, lost: list, think: float) -> None:
        """One owner: a question, wait for the answer, read it for about `think` seconds, ask again."""
        rng = random.Random(owner)
        await asyncio.sleep(rng.uniform(0, think))  # owners do not all arrive in the same instant
        for number in range(questions):
            if number:
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            future = self.loop.create_future()
            self.waiting[owner] = future
            text = f"{self.pool[(owner + number) % len(self.pool)]} ({owner}-{number})"
            sent = time.monotonic()
            self.telegram.message(owner, text, wait=False)
            try:
                arrived = await asyncio.wait_for(future, ANSWER_TIMEOUT)
            except TimeoutError:
                lost.append((owner, number))
                continue
            latencies.append((owner, number, (arrived - sent) * 1000))

    def llm_ms(self) -> dict[tuple[int, int], float]:
        """LLM time per question: every request carrying the question's tag (rewrite + answer)."""
        spent: dict[tuple[int, int], float] = {}
        for request in list(self.llm.requests):
            text = " ".join(str(m.get("content", "")) for m in request["messages"][-1:])
            match = TAG.findall(text)
            if match and "_finished_at" in request:
                key = (int(match[-1][0]), int(match[-1][1]))
                spent[key] = spent.get(key, 0.0) + (request["_finished_at"] - request["_received_at"]) * 1000
        return spent


def _resolve(future: asyncio.Future, value: float) -> None:
    if not future.done():
        future.set_result(value)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def phase(load: Load, owners: int, questions: int, first_owner: int, bot_pid: int, think: float) -> dict:
    latencies: list = []
    lost: list = []
    bot_cpu, own_cpu = cpu_seconds(bot_pid), cpu_seconds(os.getpid())
    started = time.monotonic()
    await asyncio.gather(*(load.owner(first_owner + i, questions, latencies, lost, think) for i in range(owners)))
    wall = time.monotonic() - started
    bot_cpu, own_cpu = cpu_seconds(bot_pid) - bot_cpu, cpu_seconds(os.getpid()) - own_cpu
    llm = load.llm_ms()
    overhead = [ms - llm.get((o, n), 0.0) for o, n, ms in latencies]
    return {
        "owners": owners,
        "think_s": think,
        "answers": len(latencies),
        "lost": len(lost),
        "answers_per_s": round(len(latencies) / wall, 1),
        "latency_p50_ms": summary([ms for _, _, ms in latencies])["p50_ms"],
        "latency_p95_ms": summary([ms for _, _, ms in latencies])["p95_ms"],
        "overhead_p50_ms": summary(overhead)["p50_ms"],
        "overhead_p95_ms": summary(overhead)["p95_ms"],
        "bot_cpu_ms_per_answer": round(bot_cpu * 1000 / max(1, len(latencies)), 1),
        "bot_cpu_cores": round(bot_cpu / wall, 2),
        "fakes_cpu_cores": round(own_cpu / wall, 2),
    }


def prepare_index(work: Path, existing: Path | None = None) -> Path:
    """The knowledge base's index for the bot: a copy of `existing` (an up-to-date index of
    knowledge/, e.g. the test suite's), or ingested here; either way brought up to date as
    `python ingest.py` does (a published version with all its parts), so the bot's start measures
    a start, not an ingest."""
    settings = load_settings(
        knowledge_dir=ROOT / "knowledge", data_dir=work / "data", embedding_backend=BACKEND, _env_file=None
    )
    if existing is not None:
        shutil.copytree(existing, settings.index_path)
    run_ingest(settings)
    return settings.index_path


def torch_loaded(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


async def wait_ready(telegram: FakeTelegram, bot: subprocess.Popen, started: float, timeout: float = 600) -> dict:
    """Seconds from the process's start to its first getUpdates, and its memory then."""
    await telegram.wait_for(lambda: telegram.calls_of("getUpdates"), timeout=timeout, what="the bot to start")
    ready = {"start_to_ready_s": round(telegram.calls_of("getUpdates")[0].at - started, 2)}
    return ready | {f"{k}_at_ready": v for k, v in memory_mb(bot.pid).items()}


def start_bot(
    work: Path,
    index: Path | None,
    telegram: FakeTelegram,
    llm: FakeOpenAI | None,
    data: str,
    backend: str,
    knowledge: Path = ROOT / "knowledge",
    **extra: str,
) -> subprocess.Popen:
    """The bot as `python -m bot run` on `knowledge`; with `llm` None it answers offline (no LLM configured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
    if llm is not None:
        env.update(LLM_MODEL="openai:fake-model", LLM_BASE_URL=llm.base_url)
    env.update(
        KNOWLEDGE_DIR=str(knowledge),
        DATA_DIR=str(work / data),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_MAX_MESSAGES_PER_SECOND="0",
        QUESTIONS_PER_MINUTE="1000",
        QUESTIONS_PER_DAY="100000",
        LOG_LEVEL="WARNING",
        EMBEDDING_BACKEND=backend,
        **extra,
    )
    if index is not None:
        env["INDEX_DIR"] = str(index)
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env)


def start_profiler(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    """py-spy (pip install py-spy) samples the bot process: where does its CPU time go?"""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy not installed; no profile")
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--rate",
            "200",
            "--nonblocking",
            "--gil",  # only samples holding the GIL: where Python spends CPU, not where it waits
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise_profile(raw: Path, top: int = 20) -> dict[str, list[dict]]:
    """Folded stacks → where the samples are: inclusive (a frame anywhere on the stack) and
    self (the frame running), as shares of all samples. The raw file is too big to keep."""
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = stack.split(";")
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + samples
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples

    def rows(counts: dict[str, int]) -> list[dict]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [{"share": round(n / total, 3), "frame": frame[:110]} for frame, n in ranked]

    return {"inclusive": rows(inclusive), "self": rows(leaf)}


async def run_series(
    work: Path,
    index: Path,
    delay: float,
    series: list[int],
    questions: int,
    think: float,
    label: str,
    profile: Path | None = None,
    offline: bool = False,
    endurance: int = 0,
) -> list:
    rows = []
    with FakeTelegram() as telegram, FakeOpenAI(lambda body: Reply(ANSWER, delay=delay, piece=12)) as llm:
        started = time.monotonic()
        bot = start_bot(work, index, telegram, None if offline else llm, f"data-{label}", BACKEND)
        try:
            start = await wait_ready(telegram, bot, started)
            load = Load(telegram, llm)
            await phase(load, 1, 1, 900_000, bot.pid, 0)  # warm-up: first-use costs are not part of any figure
            for number, owners in enumerate(series):
                spy = start_profiler(bot.pid, 20, profile) if profile is not None and owners == max(series) else None
                row = await phase(load, owners, questions, 1_000 * (number + 1), bot.pid, think)
                if spy is not None:
                    spy.wait()
                row["llm_delay_ms"] = None if offline else int(delay * 1000)
                rows.append(row | start | memory_mb(bot.pid))
                print_table(f"{label} so far", [row])
            if endurance and rows:
                rows[-1] |= await after_many_answers(load, telegram, bot.pid, endurance)
        finally:
            bot.terminate()
            bot.wait(60)
    return rows


async def after_many_answers(load: Load, telegram: FakeTelegram, pid: int, answers: int) -> dict:
    """The bot's memory after `answers` more answers to owners' real questions, each different
    (the eval sets' questions in their nine languages): what a day's varied questions leave
    behind (caches, the pages of mapped models they touch), not five questions' worth."""
    varied = Load(telegram, load.llm, eval_questions())
    varied.loop = load.loop
    owners = 50
    row = await phase(varied, owners, max(1, answers // owners), 2_000_000, pid, 0.0)
    return {"answers_after": row["answers"], "lost_after": row["lost"]} | {
        f"{k}_after": v for k, v in memory_mb(pid).items()
    }


def eval_questions() -> list[str]:
    """The questions of knowledge/eval's sets (and their translations), each once, shuffled."""
    import yaml

    texts: list[str] = []
    for path in sorted((ROOT / "knowledge" / "eval").glob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            question = item.get("question") if isinstance(item, dict) else None
            if isinstance(question, str) and question.strip() and question not in texts:
                texts.append(question.strip())
    random.Random(31).shuffle(texts)
    return texts


async def first_start(work: Path) -> dict:
    """A fresh DATA_DIR and an empty embedding cache: the start-up ingest embeds knowledge/ first."""
    with FakeTelegram() as telegram, FakeOpenAI(lambda body: Reply(ANSWER)) as llm:
        started = time.monotonic()
        bot = start_bot(work, None, telegram, llm, "data-first", BACKEND, EMBEDDING_CACHE_DIR=str(work / "cache"))
        try:
            row = await wait_ready(telegram, bot, started, timeout=900)
            load = Load(telegram, llm)
            await phase(load, 1, 1, 3_000_000, bot.pid, 0)
            first_answer = time.monotonic() - started
            return row | {"first_answer_s": round(first_answer, 1), "torch_loaded": torch_loaded(bot.pid)}
        finally:
            bot.terminate()
            bot.wait(60)


async def main_async(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    try:
        index = prepare_index(work, args.index)
        llm = not args.offline_only
        delayed = (
            await run_series(
                work, index, 0.3, args.owners, args.questions, args.think, "llm-300ms", endurance=args.after
            )
            if llm and not args.only_burst
            else []
        )
        profile = RESULTS / "bot-profile.txt" if args.profile else None
        instant = (
            await run_series(work, index, 0.0, [args.burst], args.questions, 0.0, "llm-0ms", profile) if llm else []
        )
        offline = await run_series(
            work,
            index,
            0.0,
            args.owners,
            args.questions,
            args.think,
            "offline",
            profile=None if llm else profile,  # --offline-only --profile: the offline answer's profile
            offline=True,
            endurance=args.after,
        )
        first = None if args.quick or args.no_first_start else await first_start(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    profile_summary = None
    if args.profile and (RESULTS / "bot-profile.txt").exists():
        profile_summary = summarise_profile(RESULTS / "bot-profile.txt")
        print_table("Where the bot spends its time (py-spy, zero-delay run, inclusive)", profile_summary["inclusive"])
        print_table("... and what is running (self)", profile_summary["self"])
    return {
        "profile": profile_summary,
        "questions_per_owner": args.questions,
        "llm_300ms": delayed,
        "llm_0ms": instant,
        "offline": offline,
        "first_start": first,
        "targets": targets(delayed, offline, first),
    }


def targets(delayed: list[dict], offline: list[dict], first: dict | None) -> dict:
    """Each target of issue 31 with its measured value (None: not measured in this run)."""
    by_owners = {r["owners"]: r for r in delayed}
    at_50, at_1 = by_owners.get(50), by_owners.get(1)
    offline_50 = {r["owners"]: r for r in offline}.get(50)

    def most(rows: list[dict], key: str):
        values = [r[key] for r in rows if r.get(key) is not None]
        return max(values) if values else None

    def least(rows: list[dict], key: str):
        values = [r[key] for r in rows if r.get(key) is not None]
        return min(values) if values else None

    def of(row: dict | None, key: str):
        return row[key] if row else None

    rows = {
        "rss_mb_at_ready_offline": (most(offline, "rss_mb_at_ready"), 350, "max"),
        "rss_mb_after_answers_offline": (most(offline, "rss_mb_after"), 350, "max"),
        "rss_mb_at_ready_llm": (most(delayed, "rss_mb_at_ready"), 400, "max"),
        "rss_mb_after_answers_llm": (most(delayed, "rss_mb_after"), 400, "max"),
        "start_to_ready_s_offline": (least(offline, "start_to_ready_s"), 2.5, "max"),
        "start_to_ready_s_llm": (least(delayed, "start_to_ready_s"), 3.5, "max"),
        "cpu_ms_per_answer_at_50_llm": (of(at_50, "bot_cpu_ms_per_answer"), 54, "max"),
        "cpu_ms_per_answer_at_50_offline": (of(offline_50, "bot_cpu_ms_per_answer"), 30, "max"),
        "overhead_p95_ms_at_50_offline": (of(offline_50, "overhead_p95_ms"), 100, "max"),
        "overhead_p50_ms_streamed_at_1": (of(at_1, "overhead_p50_ms"), 20, "max"),
        "overhead_p95_ms_streamed_at_1": (of(at_1, "overhead_p95_ms"), 40, "max"),
        "first_start_to_first_answer_s": (first["first_answer_s"] if first else None, 90, "max"),
        "first_start_torch": (first["torch_loaded"] if first else None, False, "equal"),
        "lost": (sum(r["lost"] + r.get("lost_after", 0) for r in delayed + offline), 0, "max"),
    }
    checks = {"max": lambda v, lim: v <= lim, "min": lambda v, lim: v >= lim, "equal": lambda v, lim: v == lim}
    return {
        name: {"value": value, "limit": limit, "met": None if value is None else checks[kind](value, limit)}
        for name, (value, limit, kind) in rows.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--owners", type=int, nargs="+", default=[1, 10, 50, 200])
    parser.add_argument("--questions", type=int, default=3, help="questions per owner")
    parser.add_argument("--think", type=float, default=5.0, help="seconds an owner reads an answer before asking again")
    parser.add_argument("--burst", type=int, default=50, help="owners for the zero-delay run")
    parser.add_argument(
        "--backend",
        default=None,
        choices=["onnx-q8+e5", "onnx+e5", "onnx-int8+e5", "onnx-q8", "onnx", "onnx-int8", "torch"],
        help="EMBEDDING_BACKEND",
    )
    parser.add_argument("--profile", action="store_true", help="sample the bot with py-spy during the zero-delay run")
    parser.add_argument("--index", type=Path, help="copy this up-to-date index of knowledge/ instead of ingesting")
    parser.add_argument("--only-burst", action="store_true", help="skip the 300 ms series (for profiling)")
    parser.add_argument("--offline-only", action="store_true", help="only the offline series (no LLM configured)")
    parser.add_argument(
        "--after", type=int, default=1000, help="varied answers after each series, then its memory is read again"
    )
    parser.add_argument("--no-first-start", action="store_true", help="skip the fresh-clone start")
    args = parser.parse_args()
    if args.quick:
        args.owners, args.questions, args.burst, args.think, args.after = [1, 3], 2, 3, 0.2, 6
    global BACKEND
    default = Settings.model_fields["embedding_backend"].default
    BACKEND = args.backend = args.backend or default
    started = time.perf_counter()
    result = asyncio.run(main_async(args))
    print_table("Bot with an LLM that answers after 300 ms (streamed)", result["llm_300ms"])
    print_table("Bot with an LLM that answers at once", result["llm_0ms"])
    print_table("Bot without an LLM (offline answers)", result["offline"])
    if result["first_start"]:
        print_table("First start: empty DATA_DIR and embedding cache", [result["first_start"]])
    print_table("Targets (issue 31)", [{"target": k, **v} for k, v in result["targets"].items()])
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["backend"] = args.backend
    name = "bot" if args.backend == default else f"bot-{args.backend}"
    write_result(f"{name}-offline" if args.offline_only else name, result, args.quick)


if __name__ == "__main__":
    main()
