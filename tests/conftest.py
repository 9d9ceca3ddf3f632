"""Shared test parts: real settings on temporary folders and the real embedding model.

The embedding model is loaded once per test session and shared, because
loading it is the slowest thing the suite does.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.index import Embedder, make_index
from bot.ingestion import ingest_configured
from bot.retrieval import Retriever

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch):
    """Tests never pick up a developer's .env or exported settings."""
    for name in list(os.environ):
        if name in {f.upper() for f in Settings.model_fields}:
            monkeypatch.delenv(name)
    monkeypatch.setitem(Settings.model_config, "env_file", None)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    model = Embedder()
    model.embed(["warm up"])
    return model


@pytest.fixture
def kdir(tmp_path) -> Path:
    path = tmp_path / "knowledge"
    path.mkdir()
    return path


@pytest.fixture
def settings(tmp_path, kdir) -> Settings:
    return load_settings(knowledge_dir=kdir, data_dir=tmp_path / "data")


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def run_ingest(settings: Settings, embedder: Embedder, **kwargs):
    index = make_index(settings)
    report = ingest_configured(
        settings,
        index,
        embedder,
        **kwargs,
    )
    return report, index


def retriever_for(settings: Settings, embedder: Embedder) -> Retriever:
    return Retriever(make_index(settings), embedder)


def invoke(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run `python -m bot ...` in this process with click's runner: the same code as the
    command line, without a new interpreter and model import each time. (Tests of what only
    a real process shows, such as clean stdout or exit without a traceback, use `run_cli`.)"""
    from click.testing import CliRunner

    from bot.cli import cli

    result = CliRunner().invoke(cli, list(args), env=env or {}, input=input, catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def run_cli(*args: str, env: dict | None = None, input: str | None = None, cwd: Path = ROOT, timeout: int = 300):
    """Run `python -m bot ...` (or a script) as a user would, in a fresh process."""
    full_env = {k: v for k, v in os.environ.items() if k.upper() not in {f.upper() for f in Settings.model_fields}}
    full_env.update(env or {})
    cmd = [sys.executable, *args] if args[0].endswith(".py") else [sys.executable, "-m", "bot", *args]
    return subprocess.run(cmd, env=full_env, input=input, capture_output=True, text=True, cwd=cwd, timeout=timeout)


SAMPLE_CREDIT = """---
title: Credit without collateral
topic: credit
tags: [credit, invoice finance]
audience: [owners]
region: global
updated: 2026-11-26
---

# Credit without collateral

Lenders can judge a small business on data instead of assets.

## How data-driven lenders decide

Data-driven lenders judge a small business on its transaction history and customer ratings
instead of collateral. Steady, traceable sales make small loans possible within minutes.

## Invoice finance

Invoice finance advances cash against unpaid customer invoices, so a firm with slow-paying
customers can cover wages without pledging property.
"""

SAMPLE_TRADE = """---
title: Selling across borders
topic: trade
tags: [export, marketplaces]
---

# Selling across borders

## Picking a first export market

Pick one foreign market where customers already search for your kind of product, test demand
with a small cross-border marketplace listing, and learn the duties and delivery times before
scaling up.
"""


@pytest.fixture(scope="session")
def shared_index_dir(tmp_path_factory, embedder) -> Path:
    """A data dir whose index holds the repository's own knowledge/, ingested once per session."""
    data_dir = tmp_path_factory.mktemp("repo-data")
    settings = load_settings(knowledge_dir=ROOT / "knowledge", data_dir=data_dir, _env_file=None)
    report, _ = run_ingest(settings, embedder)
    assert not report.skipped, report.skipped
    return data_dir


@pytest.fixture
def indexed(settings, kdir, embedder):
    """Settings whose index holds the credit and trade samples."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    run_ingest(settings, embedder)
    return settings


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A PostgreSQL server's URL: TEST_DATABASE_URL (`.ci/run` starts a throwaway cluster and
    sets it), else a throwaway cluster of our own when the server binaries are installed."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    if not (shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))):
        pytest.skip("PostgreSQL binaries (initdb) not found: install Debian's postgresql or set TEST_DATABASE_URL")
    script = ROOT / "scripts" / "throwaway-postgres.sh"
    started = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines())
    yield exports["TEST_DATABASE_URL"]
    subprocess.run(["bash", str(script), "stop"], env={**os.environ, **exports}, timeout=120)


@pytest.fixture
async def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the PostgreSQL server, dropped after the test."""
    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(postgres_server)
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield server.set(database=name).render_as_string(hide_password=False)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each storage test runs on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'transcripts.db'}"
    return request.getfixturevalue("postgres_url")


# --------------------------------------------------------------------------- servers on 127.0.0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path) -> str:
    """A real Chroma server (`chroma run`, from the chromadb package) on 127.0.0.1, empty; its URL.
    TEST_CHROMA_URL (`.ci/run` starts a throwaway server and sets it) is emptied and used;
    otherwise the test starts a server of its own."""
    if url := os.environ.get("TEST_CHROMA_URL"):
        _empty_chroma(url)
        yield url
        return
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    port = free_port()
    proc = subprocess.Popen(
        [str(chroma), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "chroma-server")],
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


def _empty_chroma(url: str) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    address = urllib.parse.urlparse(url)
    client = chromadb.HttpClient(
        host=address.hostname, port=address.port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    for collection in client.list_collections():
        client.delete_collection(collection.name)
