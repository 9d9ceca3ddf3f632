"""Ingest while the bot answers: no failed answers during it, the new content within seconds after."""

from __future__ import annotations

from bot.index.versions import current_version
from bot.knowledge import runner as ingest_runner
from tests.helpers import SAMPLE_CREDIT, write
from tests.helpers.live_bot import (
    ADMIN,
    KOMBUCHA,
    NEW_QUESTION,
    OLD_QUESTION,
    answers_during_ingest,
    ask,
    bot_env,
    running_bot,
    wait_for_answer,
)


async def test_an_ingest_next_to_the_running_bot_is_answered_from_within_seconds(tmp_path, kdir, settings):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    ingest_runner.run_ingest(settings)
    env = bot_env(settings, INDEX_CHECK_SECONDS="1")
    async with running_bot(env, tmp_path / "bot.log") as telegram:
        assert "kombucha" not in (await ask(telegram, 200, NEW_QUESTION)).lower()

        # An owner keeps asking while a consultant adds a file and ingests it.
        write(kdir, "operations/kombucha.md", KOMBUCHA)
        during, finished = await answers_during_ingest(telegram, 100, OLD_QUESTION, env)
        assert current_version(settings.index_path) == 2

        wrong = [text for text in during if "1. Credit without collateral" not in text]  # answered from its file
        assert during and not wrong, wrong
        await wait_for_answer(telegram, 300, NEW_QUESTION, "fermentation log", since=finished)

        stats = await ask(telegram, ADMIN, "/stats")
        assert "Index: version 2, 2 files, " in stats and " chunks, built 20" in stats
        assert (await ask(telegram, ADMIN, "/reload")).startswith("Already up to date. Index: version 2")
