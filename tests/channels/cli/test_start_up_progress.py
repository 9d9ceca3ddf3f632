"""What a first start tells the owner while it indexes (issue 30, item 15): what it is about to
do and about how long that takes, progress lines that read well in a pipe or a log file (no
carriage-return bar), and none of the libraries' DEBUG lines."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bot.channels.cli.progress import plan_line, plan_seconds
from bot.index.versions import current_version
from bot.knowledge.runner import STAGE_BYTES
from tests.helpers import ROOT, SAMPLE_CREDIT, SAMPLE_TRADE, run_cli, write
from tests.helpers.terminal_chat import TerminalChat, zombie

LIBRARY_DEBUG = re.compile(r"^\S+ \S+ DEBUG (?!bot\b)", re.MULTILINE)  # "2026-12-07 08:02:07,435 DEBUG bm25s: ..."


def test_the_library_estimate_reads_as_the_owner_needs_it(settings):
    both = plan_seconds(settings, 2065)  # the default's two models
    assert plan_line(112, 2065, both) == "Indexing 112 files, 2,065 passages — about 3 minutes the first time"
    minilm = settings.model_copy(update={"embedding_backend": "onnx-q8"})  # a first start's first stage
    assert plan_line(112, 2065, plan_seconds(minilm, 2065)) == (
        "Indexing 112 files, 2,065 passages — about 1 minute the first time"
    )
    assert plan_seconds(settings, 2065, cached=["onnx-q8"]) > plan_seconds(minilm, 2065)  # e5, the slower
    assert plan_line(1, 4, plan_seconds(settings, 4)) == (
        "Indexing 1 file, 4 passages — less than a minute the first time"
    )
    assert "the first time" not in plan_line(112, 2065, None)


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


LEARNING = "todavía estoy aprendiendo a leer preguntas en tu idioma"  # the "come back" reply, in Spanish
SPANISH = "¿Cómo puedo conseguir capital de trabajo sin garantía?"


def test_a_big_first_start_answers_english_first_and_builds_the_other_languages_behind_the_bot(tmp_path):
    """A first start embeds with MiniLM alone (a minute for `knowledge/` instead of three), then
    answers while a child builds e5's space: an English question is answered, one in Spanish is
    asked to come back, and once the child has published the whole index it is answered. Quitting
    before then stops the child; the next start answers at once and builds behind the bot again."""
    kdir = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge" / "strategy", kdir / "strategy")  # ~160 KB
    for name in sorted(p.name for p in (ROOT / "knowledge" / "trade").glob("*.md"))[:4]:
        (kdir / "trade").mkdir(exist_ok=True)
        shutil.copy(ROOT / "knowledge" / "trade" / name, kdir / "trade" / name)
    assert sum(p.stat().st_size for p in kdir.rglob("*.md")) > STAGE_BYTES
    env = {"KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(tmp_path / "data")}
    env["EMBEDDING_CACHE_DIR"] = str(tmp_path / "cache")  # nothing cached: e5's space takes a while

    with TerminalChat(env) as chat:
        assert "the first time" in chat.wait_log("Indexing")  # the first stage says what it embeds
        english = chat.ask("How often should a small business review its long-term strategy?")
        assert "(offline answer" in english and LEARNING not in english
        assert "built behind the bot" in chat.log
        assert LEARNING in chat.ask(SPANISH)  # e5's space is still being built (~30 s of work)
        # text in no language (a long paste's end, cut after "…") is not told it is in another one
        assert "in your language" not in chat.ask("…" + "x" * 60)
        child = chat.children()
        assert child, "the other languages' index is built in a child process"
    assert chat.returncode == 0, chat.log
    assert not any(Path(f"/proc/{pid}").exists() and not zombie(pid) for pid in child)  # stopped with the bot
    assert current_version(tmp_path / "data" / "index") == 1  # the first stage's; nothing half-made published
    assert "Traceback" not in chat.log

    with TerminalChat(env) as chat:  # the second start answers at once from version 1
        assert LEARNING in chat.ask(SPANISH)
        chat.wait_log("answers questions in every language", timeout=300)
        assert LEARNING not in chat.ask(SPANISH)  # the new version is followed before the search
        assert "now answering from index version 2" in chat.log
    assert chat.returncode == 0, chat.log
    assert "Indexing" not in chat.log  # no first stage to make: it answers at once
    assert "Traceback" not in chat.log
