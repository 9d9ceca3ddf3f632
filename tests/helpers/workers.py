"""Processes a deployment of several bot workers runs beside the fakes: `python -m bot run` in
webhook mode on its own port, and a Chroma server. Shared by the workers test
(tests/system/test_workers.py), the Chroma server fixture and bench/workers_bench.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.config import Settings
from tests.helpers import ROOT, free_port


def start_worker(port: int, data_dir: Path, env: dict) -> subprocess.Popen:
    """`python -m bot run` in webhook mode, listening on its own port, as behind a reverse proxy;
    its log goes to DATA_DIR/worker.log (a pipe nobody reads could fill up and stall it)."""
    worker_env = {k: v for k, v in os.environ.items() if k.upper() not in {f.upper() for f in Settings.model_fields}}
    worker_env.update(env, DATA_DIR=str(data_dir), TELEGRAM_WEBHOOK_PORT=str(port))
    data_dir.mkdir(parents=True)
    with open(data_dir / "worker.log", "w") as log:
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=worker_env, stderr=log)


async def listening(port: int) -> bool:
    with contextlib.suppress(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        return True
    return False


def start_chroma_server(folder: Path, timeout: float = 60) -> tuple[subprocess.Popen, str] | None:
    """A real Chroma server (`chroma run`, from the chromadb package) on 127.0.0.1 storing in
    `folder`, and its URL; None (the server stopped) when it does not answer within `timeout`."""
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    port = free_port()
    server = subprocess.Popen(
        [str(chroma), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            return server, url
        except OSError:
            time.sleep(0.2)
    server.kill()
    return None
