"""Helpers the tests share: files in a knowledge dir, ingest and retrieval on real parts,
the command line run in-process or as a user runs it, sample knowledge, and free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from bot.advisor import Answer, Source
from bot.config import Settings, load_settings
from bot.index import Embedder, Retriever, make_embedder, make_index
from bot.knowledge.ingest import ingest_configured

ROOT = Path(__file__).resolve().parents[2]


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def default_minilm() -> Embedder:
    """MiniLM as the default EMBEDDING_BACKEND runs it (ONNX, 8-bit blocks), not loaded yet and
    without the vector cache: an index a test builds with it is the one `ingest.py` would build."""
    return make_embedder(load_settings(embedding_cache=False, _env_file=None))


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

    from bot.channels.cli import cli

    result = CliRunner().invoke(cli, list(args), env=env or {}, input=input, catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def run_cli(
    *args: str,
    env: dict | None = None,
    input: str | None = None,
    cwd: Path = ROOT,
    timeout: int = 300,
    unprivileged: bool = False,
):
    """Run `python -m bot ...` (or a script) as a user would, in a fresh process. `unprivileged`:
    as root (CI), without the powers that ignore file permissions, so a chmod 000 means what it
    means for any other user."""
    full_env = {k: v for k, v in os.environ.items() if k.upper() not in {f.upper() for f in Settings.model_fields}}
    full_env.update(env or {})
    cmd = [sys.executable, *args] if args[0].endswith(".py") else [sys.executable, "-m", "bot", *args]
    if unprivileged:
        cmd = [*WITHOUT_ROOT_POWERS, *cmd]
    return subprocess.run(cmd, env=full_env, input=input, capture_output=True, text=True, cwd=cwd, timeout=timeout)


# Root reads any file; dropping these capabilities (util-linux's setpriv) makes it obey permissions.
WITHOUT_ROOT_POWERS = (
    ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
    if os.geteuid() == 0
    else []
)


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

## How do data-driven lenders decide?

Asked:
- can I borrow without collateral
- how can I get credit without collateral
- a loan without putting up my house
- do lenders look at my sales instead of my assets
- no property to pledge, can I still get a loan

Data-driven lenders judge a small business on its transaction history and customer ratings
instead of collateral. Steady, traceable sales make small loans possible within minutes.

## How does invoice finance work?

Asked:
- can invoices get me cash
- customers pay slowly, can I get the money now
- borrowing against unpaid invoices
- is invoice factoring worth it
- I wait 60 days for my customers to pay, what can I do

Invoice finance advances cash against unpaid customer invoices, so a firm with slow-paying
customers can cover wages without pledging property.
"""


SAMPLE_TRADE = """---
title: Selling across borders
topic: trade
tags: [export, marketplaces]
---

# Selling across borders

## How do I pick a first export market?

Asked:
- which country should I sell to first
- first country to export to
- where do I start selling abroad
- how to choose an export market for my products
- which foreign market first

Pick one foreign market where customers already search for your kind of product, test demand
with a small cross-border marketplace listing, and learn the duties and delivery times before
scaling up.
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def llm_advisor(settings: Settings, embedder: Embedder, server, **overrides):
    """An advisor on `settings`' index whose chat model is the fake OpenAI `server`."""
    from bot.advisor import Advisor
    from bot.advisor.chat_model import make_chat_model

    settings = settings.model_copy(
        update={"llm_model": "openai:fake-model", "llm_base_url": server.base_url, "llm_timeout": 5.0, **overrides}
    )
    return Advisor(retriever_for(settings, embedder), settings, make_chat_model(settings))


def answer(question: str, text: str = "Use invoice finance [1].", **extra) -> Answer:
    """An Answer as the advisor returns it (the storage layer's input)."""
    source = Source(1, "credit/invoice-finance.md", "Invoice finance", "Invoice finance > How", 0.61, "…")
    fields = {"covered": True, "mode": "offline", "sources": [source], "standalone_question": question}
    fields["best_score"] = 0.61
    fields.update(extra)
    return Answer(question=question, text=text, **fields)


def fresh_copy(target) -> None:
    """The repository's files as a clone has them (tracked, and new ones not ignored), with the
    already set-up virtual environment, so `make run` finds its setup done. The setup is brought
    up to date here first (a no-op when it is): a copy finding it stale (setup.sh or
    pyproject.toml changed since) would reinstall the shared environment from itself, and leave
    it pointing at a temporary folder once the test is over."""
    subprocess.run(["bash", "scripts/setup.sh"], cwd=ROOT, check=True, capture_output=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    (target / ".venv").symlink_to(ROOT / ".venv")
