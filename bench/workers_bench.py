"""Several webhook workers on one machine: does a second process take a share of the load?

    python bench/workers_bench.py            # 1 worker, then 2; 50 owners asking without pause (about 5 minutes)
    python bench/workers_bench.py --quick    # tiny sizes (smoke test)

The deployment of docs/deploying.md's "Several workers": a PostgreSQL cluster (a throwaway one,
`scripts/throwaway-postgres.sh`), a Chroma server (`chroma run`) holding knowledge/, and
`python -m bot run` in webhook mode, each worker on its own port. The bench plays Telegram and
the reverse proxy: it posts each owner's next question to the workers in turn and waits for the
answer at the fake Bot API; the fake LLM answers at once, so the bot is the bottleneck. One
worker, then two, on the same database and Chroma server: answers per second, and the CPU per
answer of the workers and of what they share (PostgreSQL, the Chroma server).

Issue 19's target: several processes on one machine sharing the load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
from bot_bench import ANSWER, QUESTIONS, cpu_seconds
from common import ROOT, print_table, write_result

from bot.config import Settings, load_settings
from bot.index import make_embeddings, make_index
from bot.knowledge.ingest import ingest_configured
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_server import TOKEN, FakeTelegram
from tests.helpers import free_port
from tests.helpers.workers import listening, start_chroma_server, start_worker

SECRET = "bench-secret"
BACKEND = Settings.model_fields["embedding_backend"].default  # the default backend
ANSWER_TIMEOUT = 120


def start_postgres() -> dict[str, str]:
    """A throwaway cluster: its URL (TEST_DATABASE_URL) and folder (TEST_POSTGRES_DIR)."""
    started = subprocess.run(
        ["bash", str(ROOT / "scripts" / "throwaway-postgres.sh"), "start"], capture_output=True, text=True, check=True
    )
    return dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines())


def stop_postgres(exports: dict[str, str]) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "throwaway-postgres.sh"), "stop"], env={**os.environ, **exports})


def postgres_cpu(folder: str) -> float:
    """CPU seconds the cluster has used: its postmaster, its live backends, and (in the
    postmaster's children times) every backend that has ended, e.g. a worker's overflow
    connection closed after a burst."""
    postmaster = int((Path(folder) / "data" / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    total += cpu_seconds(int(proc.name))
            except (OSError, IndexError, ValueError):  # a backend that ended meanwhile
                continue
    return total


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


class Owners:
    """Owners asking one question after another, each posted to the next worker in turn."""

    def __init__(self, telegram: FakeTelegram, ports: list[int]) -> None:
        self.telegram, self.ports = telegram, ports
        self.loop = asyncio.get_running_loop()
        self.waiting: dict[int, asyncio.Future] = {}
        self.turn = 0
        telegram.listeners.append(self._on_call)

    def _on_call(self, call) -> None:
        markup = call.params.get("reply_markup") or {}
        markup = json.loads(markup) if isinstance(markup, str) else markup
        if call.method == "sendMessage" and re.search(r"'(?:fb:up|human):", str(markup.get("inline_keyboard", ""))):
            future = self.waiting.get(int(call.params["chat_id"]))
            if future is not None:
                self.loop.call_soon_threadsafe(lambda: future.done() or future.set_result(None))

    async def owner(self, http: aiohttp.ClientSession, owner: int, questions: int, lost: list) -> None:
        for number in range(questions):
            self.waiting[owner] = future = self.loop.create_future()
            update = self.telegram.message_update(owner, f"{QUESTIONS[number % len(QUESTIONS)]} ({owner}-{number})")
            port = self.ports[self.turn % len(self.ports)]
            self.turn += 1
            headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with http.post(f"http://127.0.0.1:{port}/telegram", data=json.dumps(update), headers=headers) as r:
                assert r.status == 200, await r.text()
            try:
                await asyncio.wait_for(future, ANSWER_TIMEOUT)
            except TimeoutError:
                lost.append((owner, number))


async def run(workers: int, owners: int, questions: int, env: dict, work: Path, shared: dict) -> dict:
    """`workers` processes answer `owners` × `questions`; answers/s and CPU per answer."""
    with FakeTelegram() as telegram, FakeOpenAI(lambda body: Reply(ANSWER, piece=12)) as llm:
        ports = [free_port() for _ in range(workers)]
        run_env = env | {"TELEGRAM_API_BASE_URL": telegram.base_url, "LLM_BASE_URL": llm.base_url}
        procs = [start_worker(p, work / f"w{workers}-{n}", run_env) for n, p in enumerate(ports)]
        try:
            await telegram.wait_for(lambda: len(telegram.calls_of("setWebhook")) == workers, 300, "the workers")
            for port in ports:
                while not await listening(port):
                    await asyncio.sleep(0.1)
            load = Owners(telegram, ports)
            async with aiohttp.ClientSession() as http:
                warm: list = []
                # owners new to the shared database in each run (update ids start again with each fake Bot API)
                first = 100_000 * workers
                await asyncio.gather(*(load.owner(http, first + 90_000 + n, 2, warm) for n in range(workers * 2)))
                pids = [p.pid for p in procs]
                before = {"workers": cpu_of(pids), **{name: cpu() for name, cpu in shared.items()}}
                before["fakes"] = cpu_seconds(os.getpid())  # the fake Bot API, LLM and owners: this process
                lost: list = []
                started = time.monotonic()
                await asyncio.gather(*(load.owner(http, first + n, questions, lost) for n in range(owners)))
                wall = time.monotonic() - started
                after = {"workers": cpu_of(pids), **{name: cpu() for name, cpu in shared.items()}}
                after["fakes"] = cpu_seconds(os.getpid())
                spent = {name: after[name] - before[name] for name in before}
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    answers = owners * questions - len(lost)
    return {
        "workers": workers,
        "owners": owners,
        "answers": answers,
        "lost": len(lost),
        "answers_per_s": round(answers / wall, 1),
        "workers_cpu_ms_per_answer": round(spent["workers"] * 1000 / max(1, answers), 1),
        "postgres_cpu_ms_per_answer": round(spent["postgres"] * 1000 / max(1, answers), 1),
        "chroma_cpu_ms_per_answer": round(spent["chroma"] * 1000 / max(1, answers), 1),
        "cores_busy": round((spent["workers"] + spent["postgres"] + spent["chroma"]) / wall, 2),
        "fakes_cores_busy": round(spent["fakes"] / wall, 2),
    }


async def main_async(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    postgres = start_postgres()
    started = start_chroma_server(work / "chroma")
    if started is None:
        stop_postgres(postgres)
        raise SystemExit("the Chroma server did not start")
    chroma, chroma_url = started
    try:
        settings = load_settings(
            knowledge_dir=ROOT / "knowledge",
            data_dir=work / "ingest",
            chroma_url=chroma_url,
            embedding_backend=BACKEND,
            embedding_cache=True,  # the vectors, not the ingest, are what this bench needs
            _env_file=None,
        )
        ingest_configured(settings, make_index(settings), make_embeddings(settings))
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_URL": "https://advisor.example.com/telegram",
            "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_MAX_MESSAGES_PER_SECOND": "0",
            "DATABASE_URL": postgres["TEST_DATABASE_URL"],
            "CHROMA_URL": chroma_url,
            "KNOWLEDGE_DIR": str(ROOT / "knowledge"),
            "EMBEDDING_BACKEND": BACKEND,
            "LLM_MODEL": "openai:fake-model",
            "QUESTIONS_PER_MINUTE": "1000",
            "QUESTIONS_PER_DAY": "100000",
            "LOG_LEVEL": "WARNING",
        }
        shared = {
            "postgres": lambda: postgres_cpu(postgres["TEST_POSTGRES_DIR"]),
            "chroma": lambda: cpu_seconds(chroma.pid),
        }
        rows = []
        for workers in (1, 2):
            rows.append(await run(workers, args.owners, args.questions, env, work, shared))
            print_table("so far", rows[-1:])
    finally:
        chroma.terminate()
        chroma.wait(30)
        stop_postgres(postgres)
        shutil.rmtree(work, ignore_errors=True)
    speedup = round(rows[1]["answers_per_s"] / rows[0]["answers_per_s"], 2) if rows[0]["answers_per_s"] else None
    return {"backend": BACKEND, "runs": rows, "speedup_2_workers": speedup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--owners", type=int, default=50, help="owners asking at once")
    parser.add_argument("--questions", type=int, default=6, help="questions per owner, each asked when answered")
    args = parser.parse_args()
    if args.quick:
        args.owners, args.questions = 3, 2
    result = asyncio.run(main_async(args))
    print_table("Webhook workers, zero-delay LLM", result["runs"])
    print(f"\n2 workers: {result['speedup_2_workers']}× the answers per second of 1")
    write_result("workers", result, args.quick)


if __name__ == "__main__":
    main()
