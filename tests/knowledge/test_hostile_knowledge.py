"""Knowledge dirs as a careless or hostile world leaves them: unreadable folders, files that
crash readers or hang them, half of the files gone, text that repeats itself, odd encodings
and names. Nothing indexed is lost, every bad file is named, and the good ones get in."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.index import make_index, make_retriever
from bot.index.versions import current_version
from bot.knowledge import runner
from bot.knowledge.ingest import IndexShrinkError
from tests.helpers import ROOT, SAMPLE_CREDIT, SAMPLE_TRADE, invoke, retriever_for, run_cli, run_ingest, write

pytestmark = pytest.mark.hostile

GROWTH = SAMPLE_TRADE.replace("Selling across borders", "Growing through platforms").replace("trade", "growth")
STRATEGY = SAMPLE_CREDIT.replace("Credit without collateral", "Ten-year strategy").replace("credit", "strategy")


def files_in(settings) -> set[str]:
    return set(make_index(settings).file_states())


def env_for(settings) -> dict:
    return {"KNOWLEDGE_DIR": str(settings.knowledge_dir), "DATA_DIR": str(settings.data_dir)}


@pytest.fixture
def four_files(settings, kdir):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    write(kdir, "growth/platforms.md", GROWTH)
    write(kdir, "strategy/ten-years.md", STRATEGY)
    runner.run_ingest(settings)
    assert len(files_in(settings)) == 4
    return settings


@pytest.mark.parametrize(
    "mode, sub_folder",
    [(0o000, False), (0o444, False), (0o444, True)],
    ids=["unlisted", "listed-not-entered", "listed-not-entered-with-a-sub-folder"],
)
def test_an_unreadable_folder_keeps_its_indexed_files_and_is_named(four_files, kdir, mode, sub_folder):
    """A folder that cannot be listed, or can be listed (read) but not entered (no execute
    permission: nothing in it, file or sub-folder, can be looked at) is named; its indexed files are kept."""
    if sub_folder:
        write(kdir, "credit/loans/microcredit.md", SAMPLE_CREDIT)
    (kdir / "credit").chmod(mode)
    try:
        result = run_cli("ingest.py", env=env_for(four_files), unprivileged=True)
    finally:
        (kdir / "credit").chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert "credit: folder cannot be read (permission denied)" in result.stderr
    assert "credit/collateral.md" in files_in(four_files)
    assert current_version(four_files.index_path) == 1  # nothing changed, nothing published


def test_an_unreadable_knowledge_dir_publishes_nothing(four_files, kdir):
    kdir.chmod(0)
    try:
        result = run_cli("ingest.py", env=env_for(four_files), unprivileged=True)
    finally:
        kdir.chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert "folder cannot be read (permission denied)" in result.stderr
    assert len(files_in(four_files)) == 4 and current_version(four_files.index_path) == 1


def test_removing_more_than_half_of_the_files_needs_allow_shrink(four_files, kdir):
    for rel in ("credit/collateral.md", "trade/export.md", "growth/platforms.md"):
        (kdir / rel).unlink()
    with pytest.raises(IndexShrinkError, match="remove 3 of the 4 files"):
        runner.run_ingest(four_files)
    assert len(files_in(four_files)) == 4

    refused = run_cli("ingest.py", env=env_for(four_files))
    assert refused.returncode == 2 and "--allow-shrink" in refused.stderr and "Traceback" not in refused.stderr
    assert len(files_in(four_files)) == 4 and current_version(four_files.index_path) == 1

    allowed = run_cli("ingest.py", "--allow-shrink", env=env_for(four_files))
    assert allowed.returncode == 0, allowed.stderr
    assert files_in(four_files) == {"strategy/ten-years.md"}


def broken_docx() -> bytes:
    """A Word file whose document XML is cut in half (python-docx raises lxml's XMLSyntaxError)."""
    from docx import Document

    buffer = io.BytesIO()
    document = Document()
    document.add_paragraph("Cash flow forecasting for small firms.")
    document.save(buffer)
    source, out = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, data[: len(data) // 2] if item.filename == "word/document.xml" else data)
    return out.getvalue()


def cyclic_pdf() -> bytes:
    """A PDF whose page tree contains itself."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, NumberObject

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    pages = writer._root_object["/Pages"]
    pages["/Kids"].append(writer._root_object.raw_get("/Pages"))
    pages[NameObject("/Count")] = NumberObject(2)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_files_that_crash_or_hang_readers_are_skipped_and_the_rest_ingested(settings, kdir):
    write(kdir, "credit/good.md", SAMPLE_CREDIT)
    write(kdir, "bad/broken.docx", broken_docx())
    write(kdir, "bad/cyclic.pdf", cyclic_pdf())
    (kdir / "bad" / "loop-a.md").symlink_to(kdir / "bad" / "loop-b.md")
    (kdir / "bad" / "loop-b.md").symlink_to(kdir / "bad" / "loop-a.md")
    os.mkfifo(kdir / "bad" / "x.md")  # opened for reading, a named pipe waits for a writer forever
    unicode = "# Unicode\n\nSaved by a Windows editor as 'Unicode'."
    write(kdir, "bad/unicode.md", unicode.encode("utf-16"))
    write(kdir, "bad/unicode-without-bom.md", unicode.encode("utf-16-le"))  # what a script may write
    write(kdir, "bad/unicode-damaged.md", unicode.encode("utf-16")[:-1])  # cut in the middle of a character

    result = run_cli("ingest.py", env=env_for(settings), timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    out = " ".join(result.stderr.split())
    assert "bad/broken.docx: is not a readable Word (.docx) file (XMLSyntaxError" in out
    assert "bad/cyclic.pdf: is not a readable PDF" in out
    assert "bad/loop-a.md: is a symlink loop; not read" in out
    assert "bad/x.md: is not a regular file (a named pipe, socket or device); not read" in out
    assert "bad/unicode-without-bom.md: looks like UTF-16 text without a byte-order mark; save it as UTF-8" in out
    assert "bad/unicode-damaged.md: is damaged UTF-16 text; save it as UTF-8" in out
    assert files_in(settings) == {"credit/good.md", "bad/unicode.md"}


def test_the_bot_starts_and_answers_from_the_last_good_index_when_the_start_up_ingest_fails(four_files, kdir):
    for rel in ("credit/collateral.md", "trade/export.md", "growth/platforms.md"):
        (kdir / rel).unlink()  # the start-up ingest refuses to remove 3 of 4 files
    result = run_cli("run", env=env_for(four_files), input="How can a small business borrow without collateral?\n")
    assert result.returncode == 0, result.stderr
    assert "answering from the last good index" in result.stderr
    assert "Credit without collateral" in result.stdout and "Traceback" not in result.stderr


def test_the_start_up_ingest_embeds_in_a_child_process_so_the_bot_stays_small(settings, kdir):
    """Embedding in batches left the serving process ~0.6 GB bigger for its lifetime: a first
    start's ingest runs in a child, and a start with nothing to embed loads no model at all."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    code = (
        "import sys; from bot.config import load_settings; from bot.channels.cli.start_up import ingest_at_start\n"
        f"ingest_at_start(load_settings(knowledge_dir={str(kdir)!r}, data_dir={str(settings.data_dir)!r},"
        f" embedding_cache_dir={str(kdir.parent / 'cache')!r}, _env_file=None))\n"  # cached vectors load no model
        "print('models loaded here:', sorted(m for m in ('onnxruntime', 'torch') if m in sys.modules))"
    )
    for start in ("first", "again"):
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert result.stdout.strip().endswith("models loaded here: []"), (start, result.stdout)
        assert files_in(settings) == {"credit/collateral.md"}
    assert current_version(settings.index_path) == 1  # the second start found nothing to do


def test_ctrl_c_stops_a_first_starts_ingest_within_seconds(tmp_path):
    """Ctrl-C (here: SIGINT to the bot alone) during a first start's ingest waited for the child's
    embedding batch, a minute with e5; now the child gets a few seconds to stop, then is killed,
    which an ingest survives: nothing half-made is live."""
    import signal
    import time

    code = (
        # Ctrl-C as in a terminal, whatever this test inherited (a job started in the background with
        # `&` ignores SIGINT, and so would the bot)
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from bot.config import load_settings; from bot.channels.cli.start_up import ingest_at_start\n"
        f"ingest_at_start(load_settings(knowledge_dir={str(ROOT / 'knowledge')!r}, data_dir={str(tmp_path)!r},"
        f" embedding_cache_dir={str(tmp_path / 'cache')!r}, _env_file=None))\n"  # nothing cached: a long embed
    )
    bot = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (ingests := ingest_children(bot.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    [child] = ingests
    while cpu_seconds(child) < 4 and time.monotonic() < deadline:  # it has loaded its models and is embedding
        time.sleep(0.2)
    os.kill(bot.pid, signal.SIGINT)
    stopped = time.monotonic()
    _, stderr = bot.communicate(timeout=60)
    assert bot.returncode == 130, stderr.decode()[-2000:]
    assert time.monotonic() - stopped < runner_grace() + 10
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert current_version(tmp_path / "index") is None  # nothing published from the interrupted ingest


def ingest_children(pid: int) -> list[int]:
    """The processes `pid` spawned to ingest (not multiprocessing's resource tracker)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runner_grace() -> float:
    from bot.channels.cli.start_up import STOP_GRACE

    return STOP_GRACE


def test_a_file_of_one_repeated_word_cannot_hijack_search(settings, kdir, embedder):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "credit/spam.md", "# Collateral\n\n" + "collateral " * 100_000)
    write(kdir, "trade/export.md", SAMPLE_TRADE + "\n\n" + "duty duty duty duty " * 50)
    report, _ = run_ingest(settings, embedder)
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("credit/spam.md", "its text only repeats itself (the same words over and over)")
    ]
    assert list(report.degenerate) == ["trade/export.md"]
    found = retriever_for(settings, embedder).retrieve("Can I borrow without collateral?", 5)
    assert found[0].path == "credit/collateral.md" and {p.path for p in found} <= {
        "credit/collateral.md",
        "trade/export.md",
    }


FOOTER = """## About this guide

Written by the Harbour Export Desk. Questions about export finance, letters of credit or getting paid
by buyers abroad? Write to the desk and an adviser will help you with export finance."""

LETTERS_OF_CREDIT = """---
title: Letters of credit
topic: trade
---
# Letters of credit

## How a letter of credit gets you paid

A letter of credit is a promise from the buyer's bank to pay you once you present the shipping
documents it lists. Check every document against the credit before you ship: most refusals are
typing errors in the bill of lading or the invoice.
"""


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_a_footer_repeated_in_every_file_does_not_crowd_out_the_answer(settings, kdir, mode):
    """The same 'about this guide' section in four files matched the question better than the section
    that answers it, in one file after another; found as boilerplate at ingest, it falls behind."""
    for name, title in [("currency", "Currency risk"), ("incoterms", "Incoterms"), ("insurance", "Cargo insurance")]:
        body = f"# {title}\n\n## Basics\n\n{title} matters when you sell abroad; plan it before you quote.\n\n"
        write(kdir, f"trade/{name}.md", f"---\ntitle: {title}\ntopic: trade\n---\n{body}{FOOTER}\n")
    write(kdir, "trade/letters-of-credit.md", LETTERS_OF_CREDIT + "\n" + FOOTER + "\n")
    runner.run_ingest(settings)
    retriever = make_retriever(settings.model_copy(update={"retrieval_mode": mode}))
    found = retriever.retrieve("letter of credit export finance help", 3)
    assert (found[0].path, found[0].section) == ("trade/letters-of-credit.md", "How a letter of credit gets you paid")
    assert found[0].score >= settings.min_score  # still covered: the answer, not the footer, carries it


def test_ingesting_twice_without_changes_leaves_the_live_version_alone(settings, kdir):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "credit/broken.md", "---\ntitle: [oops\n---\n# T\n\ntext")  # fails every time
    runner.run_ingest(settings)
    runner.run_ingest(settings)
    assert current_version(settings.index_path) == 1
    assert sorted(p.name for p in (settings.index_path / "versions").iterdir()) == ["1"]


def test_markup_and_control_characters_in_file_names_are_shown_as_text(settings, kdir):
    write(kdir, "credit/[/]odd [bold]name.md", SAMPLE_CREDIT)
    write(kdir, "credit/[/]bad.md", "")
    tagged = SAMPLE_TRADE.replace("tags: [export, marketplaces]", 'tags: ["[/]", "[bold]export"]\nlanguage: "[/]"')
    write(kdir, "trade/tagged.md", tagged)  # front matter text in a reason: markup, as text
    write(kdir, "trade/\x1b]0;pwned\x07\x1b[2Jclear.md", "")  # ESC in a name: no escape sequence reaches the terminal
    write(kdir, "trade/\x1b[31mbroken.docx", broken_docx())  # a reader failing on it, named in the report
    result = run_cli("ingest.py", env=env_for(settings))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    out = " ".join(result.stderr.split())
    assert "credit/[/]bad.md: is empty" in out
    assert "trade/tagged.md: front matter 'language' must be a two-letter code like en or es, not '[/]'" in out
    assert "trade/]0;pwned[2Jclear.md: is empty" in out
    assert "trade/[31mbroken.docx: is not a readable Word (.docx) file" in out
    assert files_in(settings) == {"credit/[/]odd [bold]name.md"}

    write(kdir, "trade/tagged.md", tagged.replace('language: "[/]"\n', ""))
    result = run_cli("ingest.py", env=env_for(settings))
    assert "Traceback" not in result.stderr and "trade/tagged.md" not in result.stderr
    [tags] = {m["tags"] for m in make_index(settings).collection.get(where={"path": "trade/tagged.md"})["metadatas"]}
    assert tags == "[/], [bold]export"


@pytest.mark.parametrize("turns_into", ["symlink loop", "named pipe"])
def test_an_indexed_file_that_turns_unreadable_keeps_its_last_good_version(four_files, kdir, turns_into):
    """A file the listing refuses (a link loop, a pipe) is not a deleted one: like a file whose
    text turned bad, it is named and its indexed chunks stay."""
    target = kdir / "credit" / "collateral.md"
    target.unlink()
    if turns_into == "symlink loop":
        target.symlink_to(kdir / "credit" / "loop.md")
        (kdir / "credit" / "loop.md").symlink_to(target)
    else:
        os.mkfifo(target)
    report = runner.run_ingest(four_files)
    assert "credit/collateral.md" in {s.path for s in report.skipped}
    assert report.removed == 0
    assert "credit/collateral.md" in files_in(four_files) and current_version(four_files.index_path) == 1


WINDOWS = """---
title: Window cleaning
---
# Window cleaning

## How do I get window cleaning customers?

**Asked:**

- how to get window cleaning customers
- building a round of houses for window cleaning

A window cleaning round is built street by street: knock on doors in one street, clean the
first house free and leave a card with your day for that street.

## How do I price window cleaning?

Asked:

Price by the window, with a minimum per visit.

## How do I price window cleaning?

Asked:
- window cleaning prices per house

Conservatories and skylights cost extra.

## How do I show the format?

Here is an example of the format:

```markdown
Asked:
- cheapest way to heat a polytunnel
```

Keep each way short.
"""


def test_asked_blocks_as_consultants_write_them_never_reach_an_owner(settings, kdir):
    """A bold label with a blank line after it, a label with nothing under it, two sections
    under one heading and an example in a code fence: owners read the advice, never the list of
    ways, and a file with nothing but a title and ways of asking is named as skipped."""
    write(kdir, "operations/windows.md", WINDOWS)
    write(kdir, "operations/honey.md", "# Honey\n\n## How do I sell honey?\n\nAsked:\n- selling honey from my bees\n")
    env = env_for(settings)
    ingest = invoke("ingest", env=env)
    assert ingest.returncode == 1
    assert "operations/honey.md: has no text to answer from (only headings or ways of asking)" in " ".join(
        ingest.stderr.split()
    )
    for question, advice in [
        ("how to get window cleaning customers", "street by street"),
        ("window cleaning prices per house", "minimum per visit"),
    ]:
        shown = json.loads(invoke("ask", "--json", question, env=env).stdout)
        assert advice in shown["answer"], shown["answer"]
        excerpts = " ".join(source["excerpt"] for source in shown["sources"])
        assert "Asked" not in shown["answer"] + excerpts
        assert "building a round" not in shown["answer"] + excerpts
    chunks = make_index(settings).section_chunks("operations/windows.md", "Window cleaning > How do I show the format?")
    assert "- cheapest way to heat a polytunnel\n```" in " ".join(text for text, _ in chunks)
