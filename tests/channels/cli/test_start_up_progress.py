"""What a first start tells the owner while it indexes (issue 30, item 15): what it is about to
do and about how long that takes, progress lines that read well in a pipe or a log file (no
carriage-return bar), and none of the libraries' DEBUG lines."""

from __future__ import annotations

import re

from bot.channels.cli.progress import plan_line
from tests.helpers import SAMPLE_CREDIT, SAMPLE_TRADE, run_cli, write

LIBRARY_DEBUG = re.compile(r"^\S+ \S+ DEBUG (?!bot\b)", re.MULTILINE)  # "2026-12-07 08:02:07,435 DEBUG bm25s: ..."


def test_the_library_estimate_reads_as_the_owner_needs_it():
    assert (
        plan_line(112, 2065, first_time=True) == "Indexing 112 files, 2,065 passages — about 3 minutes the first time"
    )
    assert plan_line(1, 4, first_time=True) == "Indexing 1 file, 4 passages — less than a minute the first time"
    assert "the first time" not in plan_line(112, 2065, first_time=False)


def test_a_first_start_says_what_it_indexes_and_how_far_it_is(tmp_path, kdir):
    """`python -m bot run` (what `make run` starts) with no Telegram token, stdin and stderr
    pipes: the start-up ingest, in its child process, on a fresh data dir and an empty vector
    cache, then a changed file with the vectors of the others cached."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    env = {
        "KNOWLEDGE_DIR": str(kdir),
        "DATA_DIR": str(tmp_path / "data"),
        "EMBEDDING_CACHE_DIR": str(tmp_path / "vectors"),  # nothing cached: a fresh clone
    }
    first = run_cli("run", env=env, input="quit\n")
    assert first.returncode == 0, first.stderr
    assert "Indexing 2 files, 4 passages — less than a minute the first time" in first.stderr
    assert "indexing: 4/4 passages (100%)" in first.stderr
    assert not LIBRARY_DEBUG.search(first.stderr), first.stderr  # bm25s: "DEBUG bm25s: Building index from tokens"
    assert "\r" not in first.stderr

    write(
        kdir,
        "growth/hiring.md",
        "# Hiring\n\n## When should I hire?\n\nHire when the work you turn away pays a wage.\n",
    )
    again = run_cli("run", env=env, input="quit\n")
    assert again.returncode == 0, again.stderr
    assert "Indexing 1 file, 1 passage — vectors computed before are reused" in again.stderr
    assert "the first time" not in again.stderr
    assert "indexing: 1/1 passages (100%)" in again.stderr
    assert not LIBRARY_DEBUG.search(again.stderr), again.stderr
