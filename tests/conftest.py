"""Shared test parts: real settings on temporary folders and the real embedding model.

The embedding model is loaded once per test session and shared, because
loading it is the slowest thing the suite does.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.index import Embedder
from bot.knowledge import runner as ingest_runner
from tests.helpers import ROOT, SAMPLE_CREDIT, SAMPLE_TRADE, default_minilm, run_ingest, write
from tests.helpers.workers import start_chroma_server

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    """The system tests (benchmarks, the README, workers: a minute or two each) run first. The
    two xdist workers take tests in this order, and these, collected last, used to start when
    the rest was nearly done, leaving one worker idle for minutes at the end."""
    items.sort(key=lambda item: not item.nodeid.startswith("tests/system/"))


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch):
    """Tests never pick up a developer's .env or exported settings."""
    for name in list(os.environ):
        if name in {f.upper() for f in Settings.model_fields}:
            monkeypatch.delenv(name)
    monkeypatch.setitem(Settings.model_config, "env_file", None)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """MiniLM as the default backend runs it, loaded once: the indexes tests build with it are
    the ones the bot and the command line, on default settings, search."""
    model = default_minilm()
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


@pytest.fixture(scope="session")
def shared_index_dir(tmp_path_factory) -> Path:
    """A data dir whose index holds the repository's own knowledge/, ingested once per session
    with the default backend's two spaces (MiniLM and e5), so the bot processes tests start on
    it find nothing to re-embed.

    On a clean clone the embedding cache is empty: one test worker embeds the library while
    the others wait for it (both at once took twice as long, each contending for both
    cores), then each fills its own index from the cache in seconds."""
    data_dir = tmp_path_factory.mktemp("repo-data")
    settings = load_settings(knowledge_dir=ROOT / "knowledge", data_dir=data_dir, _env_file=None)
    assert settings.embedding_cache  # the bot processes' cache, so their ingests reuse these vectors
    with open(tmp_path_factory.getbasetemp().parent / "repo-data.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        report = ingest_runner.run_ingest(settings)
    assert not report.skipped, report.skipped
    return data_dir


@pytest.fixture
def indexed(settings, kdir, embedder):
    """Settings whose index holds the credit and trade samples."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    run_ingest(settings, embedder)
    return settings


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


@pytest.fixture
def chroma_server(tmp_path) -> str:
    """A real Chroma server (`chroma run`, from the chromadb package) on 127.0.0.1, empty; its URL.
    TEST_CHROMA_URL (`.ci/run` starts a throwaway server and sets it) is emptied and used
    when no other test is using it (the two xdist workers once shared it, and one emptied the
    server under the other's ingest); otherwise the test starts a server of its own."""
    url = os.environ.get("TEST_CHROMA_URL")
    with _shared_server_lock(url) as shared:
        if shared:
            _empty_chroma(url)
            yield url
            return
    started = start_chroma_server(tmp_path / "chroma-server")
    if started is None:
        pytest.fail("chroma server did not start")
    proc, url = started
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@contextlib.contextmanager
def _shared_server_lock(url: str | None):
    """True while this test holds the shared server alone (an exclusive lock taken without
    waiting), False when there is none or another test has it."""
    if not url:
        yield False
        return
    name = urllib.parse.quote(url, safe="")
    with open(Path(tempfile.gettempdir()) / f"sme-advisor-chroma-{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _empty_chroma(url: str) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    address = urllib.parse.urlparse(url)
    client = chromadb.HttpClient(
        host=address.hostname, port=address.port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    for collection in client.list_collections():
        client.delete_collection(collection.name)
