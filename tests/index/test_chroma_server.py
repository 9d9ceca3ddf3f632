"""CHROMA_URL: ingest into and answer from a real Chroma server on 127.0.0.1."""

from __future__ import annotations

import re

from bot.index import make_index
from tests.fakes.slow_writes import SlowWrites
from tests.helpers import SAMPLE_CREDIT, SAMPLE_TRADE, run_cli, write
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

EVAL = """
- question: "Can I borrow without collateral?"
  files: [credit/collateral.md]
- question: "How do I choose my first export market?"
  files: [trade/export.md]
"""
SUPPLIER_CREDIT = """
## Supplier credit

Suppliers often let a small business pay 30 days after delivery. Ask for these trade terms
once you have paid a few orders on time.
"""
SUPPLIER_QUESTION = "Will my suppliers let me pay later?"


def ingest_summary(stderr: str) -> dict[str, str]:
    """The table `python ingest.py` ends with, as {column: value}."""
    header, row = (
        [cell.strip() for cell in line.strip("┃│").split(line[0])]
        for line in stderr.splitlines()
        if line.startswith(("┃", "│"))
    )
    return dict(zip(header, row, strict=True))


def sources(answer: str) -> list[str]:
    """The sources a Telegram answer lists, without their numbers."""
    return re.findall(r"^\d+\. (.+)$", answer.partition("Sources")[2], re.MULTILINE)


def test_ingest_ask_and_eval_on_the_command_line(chroma_server, tmp_path, kdir):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    write(kdir, "eval/questions.yaml", EVAL)
    env = {"KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(tmp_path / "data"), "CHROMA_URL": chroma_server}

    ingest = run_cli("ingest.py", env=env)
    assert ingest.returncode == 0, ingest.stderr
    assert ingest_summary(ingest.stderr)["added"] == "2"
    again = run_cli("ingest.py", env=env)
    assert again.returncode == 0, again.stderr
    assert (ingest_summary(again.stderr)["unchanged"], ingest_summary(again.stderr)["chunks"]) == ("2", "0")
    assert not (tmp_path / "data" / "index").exists()  # nothing went to a local folder

    answer = run_cli("ask", "Can I borrow without collateral?", env=env)
    assert answer.returncode == 0, answer.stderr
    assert re.search(r"\[1\] .+ \(credit/collateral\.md, match \d\.\d\d\)", answer.stdout), answer.stdout

    evaluation = run_cli("eval", "--min-recall", "1", env=env)
    assert evaluation.returncode == 0, evaluation.stderr
    assert re.search(r"2 \+ 0 not covered │\s+1\.000 │\s+1\.000 │", evaluation.stdout), evaluation.stdout


async def test_the_bot_answers_throughout_an_ingest_into_the_server(chroma_server, tmp_path, kdir, settings):
    """A file added and one changed in place on the server while an owner asks non-stop:
    every answer is right and cites each source once, and the new content is answered
    within seconds. The ingest reaches the server over a slow link (SlowWrites), so the
    moments between its writes last long enough for the owner's questions to land in them."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    env = bot_env(settings, CHROMA_URL=chroma_server)
    index = make_index(settings.model_copy(update={"chroma_url": chroma_server}))
    async with running_bot(env, tmp_path / "bot.log") as telegram:  # the bot ingests as it starts
        assert "kombucha" not in (await ask(telegram, 200, NEW_QUESTION)).lower()

        write(kdir, "operations/kombucha.md", KOMBUCHA)
        write(kdir, "credit/collateral.md", SAMPLE_CREDIT + SUPPLIER_CREDIT)
        with SlowWrites(chroma_server) as slow_link:  # each write's answer comes 0.5 s late
            ingest_env = {**env, "CHROMA_URL": slow_link.url}
            during, finished = await answers_during_ingest(telegram, 100, OLD_QUESTION, ingest_env)
        wrong = [text for text in during if "1. Credit without collateral" not in text]  # answered from its file
        twice = [text for text in during if len(set(sources(text))) < len(sources(text))]
        assert during and not wrong, wrong  # e.g. "I don't have material on that" while a file was away
        assert not twice, twice  # a file's two versions, both in the index for a moment, cited once
        await wait_for_answer(telegram, 300, NEW_QUESTION, "fermentation log", since=finished)
        await wait_for_answer(telegram, 301, SUPPLIER_QUESTION, "30 days", since=finished)

        assert f"Index: {index.count()} chunks (Chroma server)" in await ask(telegram, ADMIN, "/stats")
