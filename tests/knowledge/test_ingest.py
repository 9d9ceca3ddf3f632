"""Incremental ingest into a real Chroma folder with the real embedding model."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from bot.index import make_index
from bot.index.fusion import Fusion
from bot.index.versions import Manifest, current_version
from bot.knowledge import runner as ingest_runner
from tests.helpers import ROOT, SAMPLE_CREDIT, SAMPLE_TRADE, default_minilm, retriever_for, run_cli, run_ingest, write


def chunk_ids(index) -> set[str]:
    return set(index.collection.get()["ids"])


def paths_in(index) -> set[str]:
    return set(index.file_states())


def test_add_change_delete_and_no_op(settings, kdir, embedder):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    report, index = run_ingest(settings, embedder)
    assert (report.added, report.updated, report.removed, report.unchanged) == (2, 0, 0, 0)
    assert report.chunks_written == index.count() > 0
    assert paths_in(index) == {"credit/collateral.md", "trade/export.md"}
    trade_ids = {i for i in chunk_ids(index) if i.startswith("trade/")}

    # change one file: its old chunks are replaced, the other file is untouched
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT.replace("Invoice finance advances", "Factoring advances"))
    report, index = run_ingest(settings, embedder)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    texts = " ".join(index.collection.get(where={"path": "credit/collateral.md"})["documents"])
    assert "Factoring advances" in texts and "Invoice finance advances" not in texts
    assert {i for i in chunk_ids(index) if i.startswith("trade/")} == trade_ids

    # delete a file: its chunks leave the index
    (kdir / "trade/export.md").unlink()
    report, index = run_ingest(settings, embedder)
    assert (report.removed, report.unchanged) == (1, 1)
    assert paths_in(index) == {"credit/collateral.md"}


@pytest.mark.parametrize("marked", [True, False], ids=["same-data-dir", "other-data-dir"])
def test_a_kill_between_adding_new_chunks_and_removing_old_ones_is_repaired(settings, kdir, embedder, tmp_path, marked):
    """A file's new chunks go in before its old ones go out (readers of a Chroma server always
    find it). Killed in between, the index holds both versions: answers cite each text once,
    and the next ingest sees the file as unfinished and removes the old version, also when it
    runs with another DATA_DIR (no dirty mark), as the bot's own ingest at start may."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    _, index = run_ingest(settings, embedder)
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT.replace("Invoice finance advances", "Factoring advances"))
    _, elsewhere = run_ingest(settings.model_copy(update={"data_dir": tmp_path / "elsewhere"}), embedder)
    new = elsewhere.collection.get(include=["embeddings", "documents", "metadatas"])
    with contextlib.suppress(KeyboardInterrupt), index.writing() if marked else contextlib.nullcontext():
        index.collection.add(new["ids"], new["embeddings"], new["metadatas"], new["documents"])
        raise KeyboardInterrupt  # killed after the new chunks went in, before the old ones went out

    found = [p.text for p in retriever_for(settings, embedder).retrieve("Can I borrow without collateral?", 20)]
    assert len(found) == len(set(found)) == len(set(index.collection.get()["documents"]))

    report, index = run_ingest(settings, embedder)
    assert report.updated == 1 and not index.dirty
    texts = " ".join(index.collection.get()["documents"])
    assert "Factoring advances" in texts and "Invoice finance advances" not in texts
    assert index.count() == index.file_states()["credit/collateral.md"].chunks


def test_no_change_run_never_loads_the_model(settings, kdir, embedder):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    run_ingest(settings, embedder)
    fresh = default_minilm()  # never used before: loading it would show in `loaded`
    report, _ = run_ingest(settings, fresh)
    assert (report.unchanged, report.chunks_written) == (1, 0)
    assert not fresh.loaded


def test_dry_run_writes_nothing(settings, kdir, embedder):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    fresh = default_minilm()
    report, index = run_ingest(settings, fresh, dry_run=True)
    assert report.added == 1 and report.chunks_written > 0
    assert index.count() == 0
    assert not fresh.loaded


def test_rebuild_embeds_everything_again(settings, kdir, embedder):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    _, index = run_ingest(settings, embedder)
    before = index.count()
    report, index = run_ingest(settings, embedder, rebuild=True)
    assert report.added == 1 and report.unchanged == 0
    assert index.count() == before


def test_bad_files_are_reported_and_the_rest_ingested(settings, kdir, embedder, tmp_path):
    write(kdir, "credit/good.md", SAMPLE_CREDIT)
    write(kdir, "bad/binary.md", b"\x00\x01\x02\x03binary")
    write(kdir, "bad/empty.md", "")
    write(kdir, "bad/latin1.txt", "Caf\xe9".encode("latin-1"))
    write(kdir, "bad/huge.md", "x" * (settings.max_file_bytes + 1))
    write(kdir, "bad/front.md", "---\ntitle: [oops\n---\n# T\n\ntext")
    write(kdir, "bad/fake.pdf", b"%PDF-1.4 garbage")
    (kdir / "bad/dangling.md").symlink_to(kdir / "bad/missing-target.md")
    outside = write(tmp_path, "elsewhere/secret.md", "# Secret\n\nThe outside secret is 42.")
    (kdir / "bad/escape.md").symlink_to(outside)
    report, index = run_ingest(settings, embedder)
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {
        "bad/binary.md",
        "bad/empty.md",
        "bad/latin1.txt",
        "bad/huge.md",
        "bad/front.md",
        "bad/fake.pdf",
        "bad/dangling.md",
        "bad/escape.md",
    }
    assert "binary" in reasons["bad/binary.md"]
    assert "empty" in reasons["bad/empty.md"]
    assert "UTF-8" in reasons["bad/latin1.txt"]
    assert "too large" in reasons["bad/huge.md"]
    assert "front matter" in reasons["bad/front.md"]
    assert "outside the knowledge dir" in reasons["bad/escape.md"]
    assert paths_in(index) == {"credit/good.md"}
    assert "outside secret" not in " ".join(index.collection.get()["documents"])


def test_unreadable_file_is_reported(settings, kdir, tmp_path):
    write(kdir, "credit/good.md", SAMPLE_CREDIT)
    locked = write(kdir, "credit/locked.md", "# Locked\n\ntext")
    locked.chmod(0)
    env = {"KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(tmp_path / "data")}
    result = run_cli("ingest.py", env=env, unprivileged=True)
    assert result.returncode == 1, result.stderr
    assert "credit/locked.md: cannot be read: permission denied" in result.stderr
    assert paths_in(make_index(settings)) == {"credit/good.md"}


def test_a_file_that_turns_bad_keeps_its_last_good_version(settings, kdir, embedder):
    write(kdir, "credit/good.md", SAMPLE_CREDIT)
    run_ingest(settings, embedder)
    write(kdir, "credit/good.md", "---\ntitle: [broken\n---\n" + SAMPLE_CREDIT)
    report, index = run_ingest(settings, embedder)
    assert [s.path for s in report.skipped] == ["credit/good.md"]
    assert paths_in(index) == {"credit/good.md"}


def test_cli_exit_code_and_summary(tmp_path, kdir):
    write(kdir, "credit/good.md", SAMPLE_CREDIT)
    env = {"KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(tmp_path / "data")}
    ok = run_cli("ingest.py", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "added" in ok.stderr and "Traceback" not in ok.stderr
    write(kdir, "bad.md", b"\x00\x00")
    bad = run_cli("ingest.py", "--dry-run", env=env)
    assert bad.returncode == 1
    assert "bad.md: looks like a binary file" in bad.stderr


@pytest.mark.parametrize("rebuild", [False, True], ids=["ingest", "rebuild"])
def test_killed_ingest_is_finished_by_the_next_run(tmp_path, kdir, embedder, settings, rebuild):
    """Kill -9 in the middle of embedding, then run again: the index ends up complete, and
    the half-built version was never live. A rebuild is resumed by the next rebuild too."""
    for i in range(40):
        write(kdir, f"topic{i % 4}/file{i}.md", SAMPLE_CREDIT.replace("Credit without collateral", f"Credit note {i}"))
    if rebuild:
        ingest_runner.run_ingest(settings)
    live = current_version(settings.index_path)
    env = {**os.environ, "KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(tmp_path / "data"), "EMBEDDING_BATCH_SIZE": "1"}
    args = [sys.executable, "ingest.py", *(["--rebuild"] if rebuild else [])]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    # Wait until some, but not all, chunks are stored, reading Chroma's SQLite file directly
    # (a Chroma client in this process would keep its own, stale view).
    building = tmp_path / "data" / "index" / "versions" / str((live or 0) + 1)
    stored = 0
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None and stored == 0:
        time.sleep(0.05)
        stored = stored_embeddings(building / "chroma.sqlite3")
    assert proc.poll() is None, "ingest finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (building / ".knowledge.ingest-in-progress").exists()  # the next run checks every chunk
    assert current_version(settings.index_path) == live  # a reader never sees the half-built version

    report = ingest_runner.run_ingest(settings, rebuild=rebuild)
    assert current_version(settings.index_path) == (live or 0) + 1  # resumed and published, not started over
    assert report.added + report.updated + report.unchanged == 40
    assert report.unchanged > 0 and report.added + report.updated > 0  # it really was cut half-way
    index = make_index(settings)
    assert not index.dirty
    states = index.file_states()
    assert len(states) == 40 and all(s.complete for s in states.values())
    assert index.count() == sum(s.chunks for s in states.values())


def test_each_ingest_that_changes_something_publishes_a_version(tmp_path, kdir, settings):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    ingest_runner.run_ingest(settings)
    assert current_version(settings.index_path) == 1
    ingest_runner.run_ingest(settings)  # nothing changed: nothing published
    assert current_version(settings.index_path) == 1
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    ingest_runner.run_ingest(settings)
    manifest = Manifest.read(settings.index_path / "versions" / "2")
    assert current_version(settings.index_path) == 2 and (manifest.files, manifest.version) == (2, 2)
    assert manifest.chunks == make_index(settings).count()
    for _ in range(3):
        (kdir / "trade" / "export.md").write_text(SAMPLE_TRADE + f"\n\nNote {_}.\n", encoding="utf-8")
        ingest_runner.run_ingest(settings)
    kept = sorted(int(p.name) for p in (settings.index_path / "versions").iterdir())
    assert kept == [3, 4, 5]  # older versions are deleted; a bot may still be closing the last two


def stored_embeddings(database, collection: str = "knowledge") -> int:
    """Chunks stored in a collection (the first space's: a file counts as written once it is there)."""
    import sqlite3

    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1) as conn:
            query = (
                "SELECT count(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id WHERE c.name = ?"
            )
            return conn.execute(query, (collection,)).fetchone()[0]
    except sqlite3.Error:
        return 0


def test_changing_chunk_settings_re_embeds_without_rebuild(settings, kdir, embedder):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    run_ingest(settings, embedder)
    smaller = settings.model_copy(update={"chunk_size": 60, "chunk_overlap": 10})
    report, index = run_ingest(smaller, embedder)
    assert (report.updated, report.unchanged) == (2, 0)
    again, _ = run_ingest(smaller, embedder)
    assert again.unchanged == 2
    assert {s.recipe.split(":")[0] for s in index.file_states().values()} == {"60"}


def test_index_state_is_read_page_by_page(settings, kdir, embedder):
    for i in range(3):
        write(kdir, f"credit/file{i}.md", SAMPLE_CREDIT.replace("Credit without collateral", f"Credit {i}"))
    _, index = run_ingest(settings, embedder)
    whole = index.file_states()
    index.page_size = 2  # far fewer than the chunks stored: several pages
    assert index.file_states() == whole and len(whole) == 3
    assert all(state.complete for state in whole.values())
    assert len(index.topics()["credit"]) == 3


def lexical_ids(folder) -> set[str]:
    from bot.index.lexical import LexicalIndex

    return set(LexicalIndex.load(folder).ids)


def test_a_crash_between_vectors_and_lexical_never_publishes_them_out_of_step(settings, kdir, monkeypatch):
    """The BM25 index is written into the version folder after its vectors, before the switch:
    killed in between, the live version keeps its own matching pair, and the next run publishes
    a version whose lexical part holds exactly its chunks."""
    import bm25s

    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    ingest_runner.run_ingest(settings)
    write(kdir, "trade/export.md", SAMPLE_TRADE.replace("Pick one", "Zyxorbank: pick one"))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the vectors went in, before the BM25 index

    with monkeypatch.context() as patch:
        patch.setattr(bm25s.BM25, "save", killed)
        with pytest.raises(KeyboardInterrupt):
            ingest_runner.run_ingest(settings)
    assert current_version(settings.index_path) == 1
    live = make_index(settings)
    assert lexical_ids(live.folder) == chunk_ids(live) and paths_in(live) == {"credit/collateral.md"}
    live.close()

    ingest_runner.run_ingest(settings)
    assert current_version(settings.index_path) == 2
    live = make_index(settings)
    assert lexical_ids(live.folder) == chunk_ids(live) and len(paths_in(live)) == 2
    retriever = retriever_for(settings, default_minilm())
    retriever.fusion = Fusion(mode="lexical")
    assert [p.path for p in retriever.retrieve("Zyxorbank", 2)] == ["trade/export.md"]


@pytest.mark.hostile
@pytest.mark.parametrize("damage", ["truncated rows", "rows beside a shorter array"])
def test_a_damaged_saved_copy_of_the_live_sections_is_read_again_from_the_index(kdir, settings, damage):
    """The next version takes unchanged files' vectors from the live version's saved sections
    (`sections/rows.json`); a damaged copy there (a disk that filled up, a hand edit) must not stop
    the ingest nor bring wrong vectors along: the sections are read from the index instead."""
    from bot.index import versions
    from bot.index.sections import SectionIndex

    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    ingest_runner.run_ingest(settings)
    saved = versions.live_folder(settings.index_path) / "sections"
    if damage == "truncated rows":
        (saved / "rows.json").write_text((saved / "rows.json").read_text()[:50])
    else:
        import numpy as np

        np.save(saved / "minilm.chunks.npy", np.load(saved / "minilm.chunks.npy")[:1])
    write(kdir, "trade/export.md", SAMPLE_TRADE + "\n\nOne more line.\n")
    ingest_runner.run_ingest(settings)
    folder = versions.live_folder(settings.index_path)
    built = SectionIndex.read(folder)
    full = SectionIndex.load(make_index(settings), {None: "minilm", "e5": "e5"})
    for name in full.spaces:
        assert built.spaces[name].chunks.shape == full.spaces[name].chunks.shape
        rows = [sorted(map(tuple, index.spaces[name].chunks.round(5))) for index in (built, full)]
        assert rows[0] == rows[1]
