"""The very first run, as a newcomer has it: a fresh copy of the repository, no data folder,
the README's run command, and questions typed in. (Other tests share a pre-built index,
which is why they could not see a first run that answered nothing.)"""

from __future__ import annotations

import os
import subprocess

from tests.helpers import fresh_copy
from tests.system.test_readme import quick_start_commands


def test_the_first_run_on_an_empty_data_folder_answers_with_sources(tmp_path, shared_index_dir):
    """`shared_index_dir`: the session's index is built first, so the vectors are in the shared
    virtual environment's cache: this run's ingest is still a first one (empty data folder, new
    index), without embedding the library again beside another test worker doing the same
    (the time of a first run on a fresh clone is bench/library_ingest_bench.py's)."""
    copy = tmp_path / "sme-advisor"
    copy.mkdir()
    fresh_copy(copy)
    assert not (copy / "data").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "INDEX_DIR", "TELEGRAM_BOT_TOKEN", "LLM_MODEL")}
    questions = "hi\nHow do I get working capital without collateral?\nShould I sell cross-border?\n"
    questions += "What is the capital of Peru?\n"  # off-topic: answered with what the fresh index covers
    result = subprocess.run(
        quick_start_commands()[0],
        shell=True,
        cwd=copy,
        env=env,
        input=questions,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    greeting, *answers = result.stdout.split("\n> ")[1:]
    assert greeting.startswith("hi\nHello! I'm SME Advisor.")
    assert "Try one of these:\n  - How can I get working capital without collateral?" in greeting  # what to ask next
    *answers, off_topic = answers
    assert len(answers) == 2
    for answer in answers:
        assert "I don't have material on that" not in answer
        assert "Sources:" in answer and "[1]" in answer, answer
    assert "credit/" in answers[0] and "trade/" in answers[1]
    assert "I don't have material on that" in off_topic and "\nI can help with:\n• " in off_topic, off_topic
    listed = off_topic.split("I can help with:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    topics = dict(line.removeprefix("• ").partition(": ")[::2] for line in listed)  # topic: its first titles
    assert {"Credit", "Trade"} <= set(topics) and all(topics.values()), off_topic
