"""CHROMA_URL: ingest into and answer from a real Chroma server on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import SAMPLE_CREDIT, run_ingest, write

from bot.advisor import Advisor
from bot.config import load_settings
from bot.index import make_index
from bot.retrieval import Retriever


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    port = free_port()
    proc = subprocess.Popen(
        [str(chroma), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "server")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


async def test_ingest_and_answer_through_a_chroma_server(chroma_server, tmp_path, kdir, embedder):
    settings = load_settings(knowledge_dir=kdir, data_dir=tmp_path / "data", chroma_url=chroma_server)
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    report, _ = run_ingest(settings, embedder)
    assert report.added == 1
    assert not (tmp_path / "data" / "index").exists()  # nothing went to a local folder

    again, _ = run_ingest(settings, embedder)
    assert again.unchanged == 1 and again.chunks_written == 0

    advisor = Advisor(Retriever(make_index(settings), embedder), settings)
    answer = await advisor.answer("Can I borrow without collateral?")
    assert answer.covered and answer.sources[0].path == "credit/collateral.md"
