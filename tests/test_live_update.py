"""Ingest while the bot answers: no failed answers during it, the new content within seconds after."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time

from conftest import ROOT, SAMPLE_CREDIT, write
from fakes.telegram_server import TOKEN, FakeTelegram

from bot import ingest_runner
from bot.index_versions import current_version

KOMBUCHA = """---
title: Licensing a kombucha brewery
topic: operations
---

# Licensing a kombucha brewery

A kombucha brewery needs a food business licence and a fermentation log kept for every batch.
Inspectors ask for the fermentation log first, so keep it beside the brewing tanks.
"""
NEW_QUESTION = "What licence does a kombucha brewery need?"
ADMIN = 1
OLD_QUESTION = "How can a small business get credit without collateral?"


async def ask(telegram: FakeTelegram, chat: int, text: str) -> str:
    before = len(telegram.texts(chat))
    telegram.message(chat, text)
    await telegram.wait_for(lambda: len(telegram.texts(chat)) > before, timeout=30, what=f"an answer to {text!r}")
    return telegram.texts(chat)[before]


async def test_an_ingest_next_to_the_running_bot_is_answered_from_within_seconds(tmp_path, kdir, settings):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    ingest_runner.run_ingest(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
    env.update(KNOWLEDGE_DIR=str(kdir), DATA_DIR=str(settings.data_dir), INDEX_CHECK_SECONDS="1")
    env.update(QUESTIONS_PER_MINUTE="1000", QUESTIONS_PER_DAY="100000")  # one owner asks non-stop
    env.update(ADMIN_USER_IDS=str(ADMIN))
    with FakeTelegram() as telegram:
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=telegram.base_url)
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stderr=subprocess.PIPE)
        try:
            await telegram.wait_for(lambda: telegram.calls_of("getUpdates"), timeout=120, what="the bot to start")
            assert "kombucha" not in (await ask(telegram, 200, NEW_QUESTION)).lower()

            # An owner keeps asking while a consultant adds a file and ingests it.
            during: list[str] = []
            ingesting = True

            async def keep_asking() -> None:
                while ingesting:
                    during.append(await ask(telegram, 100, OLD_QUESTION))

            asker = asyncio.create_task(keep_asking())
            write(kdir, "operations/kombucha.md", KOMBUCHA)
            result = await asyncio.to_thread(
                subprocess.run, [sys.executable, "ingest.py"], cwd=ROOT, env=env, capture_output=True, text=True
            )
            finished = time.monotonic()
            ingesting = False
            await asker
            assert result.returncode == 0, result.stderr
            assert current_version(settings.index_path) == 2

            wrong = [text for text in during if "Data-driven lenders" not in text and "Invoice finance" not in text]
            assert during and not wrong, wrong
            while True:
                answer = await ask(telegram, 300, NEW_QUESTION)
                if "fermentation log" in answer:
                    break
                assert time.monotonic() - finished < 5, f"still not answered from the new file: {answer}"
                await asyncio.sleep(0.3)
            assert time.monotonic() - finished < 5

            stats = await ask(telegram, ADMIN, "/stats")
            assert "Index: version 2, 2 files, " in stats and " chunks, built 20" in stats
            assert (await ask(telegram, ADMIN, "/reload")).startswith("Already up to date. Index: version 2")
        finally:
            bot.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                bot.wait(30)
            bot.kill()
