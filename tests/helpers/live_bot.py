"""The real bot in its own process, a fake Telegram, and `python ingest.py` run next to it.

Shared by the live-update tests: the local, versioned index (tests/index/test_live_update.py)
and a Chroma server updated in place (tests/index/test_chroma_server.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from tests.fakes.telegram_server import TOKEN, FakeTelegram
from tests.helpers import ROOT

ADMIN = 1
KOMBUCHA = """---
title: Licensing a kombucha brewery
topic: operations
---

# Licensing a kombucha brewery

A kombucha brewery needs a food business licence and a fermentation log kept for every batch.
Inspectors ask for the fermentation log first, so keep it beside the brewing tanks.
"""
NEW_QUESTION = "What licence does a kombucha brewery need?"
OLD_QUESTION = "How can a small business get credit without collateral?"


def bot_env(settings, **extra: str) -> dict:
    """The environment of a bot and an ingest that share `settings`' folders, for one owner
    who asks non-stop (no rate limit gets in the way) and admin ADMIN."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
    env.update(KNOWLEDGE_DIR=str(settings.knowledge_dir), DATA_DIR=str(settings.data_dir))
    env.update(QUESTIONS_PER_MINUTE="1000", QUESTIONS_PER_DAY="100000", ADMIN_USER_IDS=str(ADMIN))
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def running_bot(env: dict, log: Path) -> AsyncIterator[FakeTelegram]:
    """`python -m bot run` polling a fake Telegram, yielded once it asks for updates.
    Its log goes to `log` (a pipe nobody reads could fill up and stall the bot)."""
    with FakeTelegram() as telegram, open(log, "w") as log_file:
        env = {**env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": telegram.base_url}
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stderr=log_file)
        try:
            await telegram.wait_for(lambda: telegram.calls_of("getUpdates"), timeout=120, what="the bot to start")
            yield telegram
        finally:
            bot.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                bot.wait(30)
            bot.kill()


async def ask(telegram: FakeTelegram, chat: int, text: str) -> str:
    """What the bot answers `text` in `chat` (one message)."""
    before = len(telegram.texts(chat))
    telegram.message(chat, text)
    await telegram.wait_for(lambda: len(telegram.texts(chat)) > before, timeout=30, what=f"an answer to {text!r}")
    return telegram.texts(chat)[before]


async def answers_during_ingest(telegram: FakeTelegram, chat: int, question: str, env: dict) -> tuple[list[str], float]:
    """Ask `question` in `chat` again and again while `python ingest.py` runs: every answer
    given during the ingest, and when (time.monotonic) the ingest finished."""
    answers: list[str] = []
    ingesting = True

    async def keep_asking() -> None:
        while ingesting:
            answers.append(await ask(telegram, chat, question))

    asker = asyncio.create_task(keep_asking())
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "ingest.py"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    finished = time.monotonic()
    ingesting = False
    await asker
    assert result.returncode == 0, result.stderr
    return answers, finished


async def wait_for_answer(telegram: FakeTelegram, chat: int, question: str, expected: str, since: float) -> None:
    """Ask until the answer holds `expected`; fail if that takes 5 s or more after `since`."""
    while True:
        answer = await ask(telegram, chat, question)
        if expected in answer:
            break
        assert time.monotonic() - since < 5, f"still not answered from the new content: {answer}"
        await asyncio.sleep(0.3)
    assert time.monotonic() - since < 5
