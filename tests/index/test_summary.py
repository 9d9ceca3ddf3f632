"""A published index version's summary: what a serving bot asks of its index (which files it
holds, which models made it, what it covers) without opening Chroma, and the same answers Chroma
gives."""

from __future__ import annotations

import json
import os

from bot.index.chroma import KnowledgeIndex
from bot.index.opening import make_index
from bot.index.retriever import make_retriever
from bot.index.summary import SUMMARY
from bot.index.versions import current_version, live_folder
from bot.knowledge import runner as ingest_runner
from tests.helpers import SAMPLE_CREDIT, SAMPLE_TRADE, write


def _chroma_says(settings):
    """File states, catalog and count read from the collections themselves."""
    index = make_index(settings)
    index.__dict__["_summary"] = None  # as for a version published before summaries
    try:
        return index.file_states(), index.catalog(), index.count()
    finally:
        index.close()


def test_a_published_version_answers_from_its_summary_without_opening_chroma(settings, kdir):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    ingest_runner.run_ingest(settings)
    assert (live_folder(settings.index_path, current_version(settings.index_path)) / SUMMARY).exists()

    index = make_index(settings)
    states, catalog, count = index.file_states(), index.catalog(), index.count()
    assert not index.opened  # nothing above needed Chroma
    assert (states, catalog, count) == _chroma_says(settings)
    assert set(states) == {"credit/collateral.md", "trade/export.md"} and count > 2

    assert not ingest_runner.will_write(settings)  # the start-up check, with nothing to do
    retriever = make_retriever(settings)
    retriever.warm_up()
    assert retriever.sections("How can I borrow without collateral?").matches
    assert not retriever.index.opened
    assert retriever.retrieve("How can I borrow without collateral?")  # searching chunks opens it
    assert retriever.index.opened


def test_a_version_without_a_summary_gets_one_at_the_next_ingest(settings, kdir):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    ingest_runner.run_ingest(settings)
    first = current_version(settings.index_path)
    (live_folder(settings.index_path, first) / SUMMARY).unlink()  # as published by an older release
    assert make_index(settings).summary is None
    assert ingest_runner.will_write(settings)

    ingest_runner.run_ingest(settings)
    assert current_version(settings.index_path) == first + 1
    index = make_index(settings)
    assert index.summary is not None and set(index.file_states()) == {"credit/collateral.md"}


def test_a_damaged_summary_is_ignored_and_the_index_read_instead(settings, kdir, caplog):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    ingest_runner.run_ingest(settings)
    summary = live_folder(settings.index_path, current_version(settings.index_path)) / SUMMARY
    summary.write_text('{"layout": 1, "files": ')

    index = make_index(settings)
    assert set(index.file_states()) == {"credit/collateral.md"}
    assert index.opened and "ignoring the index summary" in caplog.text


def test_the_next_version_does_not_trust_the_copy_of_the_live_summary(settings, kdir):
    """The next version starts as a copy of the live one, summary included: until it is published
    (its manifest written), its states come from its collections, which the ingest changes."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    ingest_runner.run_ingest(settings)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    ingest_runner.run_ingest(settings)
    summary = json.loads((live_folder(settings.index_path, 2) / SUMMARY).read_text())
    assert set(summary["files"]) == {"credit/collateral.md", "trade/export.md"}
    assert summary["chunks"] == make_index(settings).collection.count()


def test_collections_that_fail_to_open_are_tried_again_at_the_next_use(settings, kdir):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    ingest_runner.run_ingest(settings)
    folder = live_folder(settings.index_path, current_version(settings.index_path))
    chroma_file = folder / "chroma.sqlite3"
    saved = chroma_file.read_bytes()
    chroma_file.write_bytes(b"not a database" * 100)

    index = make_index(settings)
    assert index.file_states()  # from the summary: Chroma is not needed, so not opened
    for _ in range(2):  # every use fails in Chroma, none with a half-opened index of ours
        try:
            index.collection.count()
        except Exception as exc:  # Chroma's own error for a damaged file
            assert not isinstance(exc, KeyError) and str(exc) not in KnowledgeIndex.OPENED_ON_USE, exc
        else:
            raise AssertionError("a damaged index opened")
        assert not index.opened and "collection" not in vars(index)
    chroma_file.write_bytes(saved)


def test_an_ingest_that_waited_for_another_publishes_nothing_the_other_did(settings, kdir):
    """Two ingests of the same change: the second waits for the first's lock, then finds the
    version the first published live and nothing left to do (it had looked at the version
    before, and published a copy of the new one as a change of its own)."""
    import fcntl
    import subprocess
    import sys
    import threading
    import time

    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    ingest_runner.run_ingest(settings)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    first = subprocess.Popen(
        [sys.executable, "-m", "bot", "ingest"],
        env={**os.environ, "KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(settings.data_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = settings.index_path / ".ingest.lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the first holds the lock
        with open(lock, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
            except BlockingIOError:
                break
        time.sleep(0.02)
    second = threading.Thread(target=ingest_runner.run_ingest, args=(settings,))
    second.start()
    assert first.wait(120) == 0
    second.join(120)
    assert current_version(settings.index_path) == 2
