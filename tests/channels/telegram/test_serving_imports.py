"""The serving process pays only for what it uses: `python -X importtime -m bot run` against the
fake Bot API, on a database already at the migrations' head and an up-to-date index, is stopped
after its first answer, and the modules it imported are read from the importtime lines.

Offline (no LLM_MODEL) neither the LLM client (langchain_openai, the openai SDK, langchain's
prompts and langsmith) nor the token encoding is loaded; in either mode the review browser
(Datasette), Alembic, the PDF and Word readers (pypdf, python-docx), Rich, BM25 (bm25s, scipy:
answers read no BM25 index) and Chroma (answers are made from the version's saved sections,
whether the index is up to date is read from its summary, and the daily sweep of owners'
documents finds none to sweep without it) stay out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time

import pytest

from bot.storage import Storage
from tests.fakes.telegram_server import TOKEN
from tests.helpers import ROOT
from tests.helpers.telegram import CREDIT_Q, OWNER, answers

NEVER_SERVING = {"datasette", "alembic", "pypdf", "docx", "rich", "bm25s", "scipy", "chromadb"}
ONLY_WITH_LLM = {"langchain_openai", "openai", "langsmith", "langchain_core.prompts", "tiktoken"}
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")


def imported(importtime: str) -> set[str]:
    """Every module (and each of its parent packages) an `-X importtime` log names."""
    names = set()
    for line in importtime.splitlines():
        if match := IMPORTED.match(line):
            parts = match.group(1).split(".")
            names.update(".".join(parts[: n + 1]) for n in range(len(parts)))
    return names


def test_imported_names_parents_too():
    log = "import time: self [us] | cumulative | imported package\n"
    log += "import time:   785 |   1219 |   langchain_core.prompts.base\n"
    assert imported(log) == {"langchain_core", "langchain_core.prompts", "langchain_core.prompts.base"}


@pytest.mark.parametrize("mode", ["offline", "llm"])
async def test_the_serving_bot_imports_only_what_it_uses(mode, tmp_path, shared_index_dir, telegram, llm):
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'transcripts.db'}")  # at the head already
    await storage.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
    env.update(
        DATA_DIR=str(tmp_path),
        INDEX_DIR=str(shared_index_dir / "index"),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        LOG_LEVEL="WARNING",
    )
    if mode == "llm":
        env.update(LLM_MODEL="openai:fake", LLM_BASE_URL=llm.base_url)
    log = tmp_path / "importtime.log"
    with open(log, "w") as stderr:
        bot = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "bot", "run"], cwd=ROOT, env=env, stderr=stderr
        )
        try:
            await telegram.wait_for(lambda: telegram.calls_of("getUpdates"), timeout=120, what="the bot to start")
            ready = time.monotonic()
            telegram.message(OWNER, CREDIT_Q)
            await telegram.wait_for(lambda: answers(telegram, OWNER), timeout=60, what="the answer")
            # past the daily jobs' first runs (the owners' documents sweep starts 5 s after ready)
            await asyncio.sleep(max(0.0, ready + 7 - time.monotonic()))
            telegram.message(OWNER, "What should my 10-year plan look like?")
            await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > 1, timeout=60, what="a second answer")
        finally:
            bot.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                bot.wait(30)
            bot.kill()
    modules = imported(log.read_text())
    assert "bot.channels.telegram.app" in modules and "onnxruntime" in modules  # the log is the serving bot's
    assert "invoice finance" in answers(telegram, OWNER)[0] or mode == "offline"
    forbidden = NEVER_SERVING | (ONLY_WITH_LLM if mode == "offline" else set())
    assert sorted(modules & forbidden) == []
    if mode == "llm":
        assert {"langchain_openai", "tiktoken"} <= modules  # the model's client and its prompts' token counter
