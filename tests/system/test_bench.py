"""Smoke test: every benchmark still runs end to end at a tiny size, so none of them rots.

The figures of these runs mean nothing (sizes far too small); the recorded ones are in
bench/results/ and docs/performance.md. Here we only check that each script finishes, prints its
table and writes a JSON record with the figures the docs quote.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys

import pytest

from tests.helpers import ROOT

BENCHES = {
    "ingest_bench.py": ("ingest", ["throughput", "reingest"]),
    "library_ingest_bench.py": ("library_ingest", ["first", "changed"]),
    "retrieval_bench.py": ("retrieval", ["sizes"]),
    "bot_bench.py": ("bot", ["llm_300ms", "llm_0ms", "offline", "targets"]),
    "memory_bench.py": ("memory", ["runs"]),
    "embedding_bench.py": ("embedding", ["backends"]),
    "languages_bench.py": ("languages", ["backends"]),
    "workers_bench.py": ("workers", ["runs"]),
    "scale_bench.py": ("scale", ["computations", "database", "gap_candidates"]),
    "kb_scale_bench.py": ("kb_scale", ["sizes", "growth"]),
}


@pytest.mark.parametrize("script", sorted(BENCHES))
def test_benchmark_runs_at_a_tiny_size(script, tmp_path, shared_index_dir):
    name, keys = BENCHES[script]
    extra = ["--index", str(shared_index_dir / "index")] if name in ("bot", "scale") else []  # no second ingest
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path)}
    env = {k: v for k, v in env.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--quick", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    record = json.loads((tmp_path / f"{name}.quick.json").read_text())
    assert record["machine"]["cores"] and record["date"]
    assert all(record[key] for key in keys), record
    if name == "bot":
        assert record["targets"]["lost"]["value"] == 0  # every question answered, even in a smoke run
    if name == "workers":
        assert [run["workers"] for run in record["runs"]] == [1, 2] and not any(r["lost"] for r in record["runs"])
    if name == "scale":  # every computation timed at both sizes, the file measured as it grew
        assert len(record["computations"]) == 5 and record["database"]["mb_per_100k_turns"] > 0
    if name == "kb_scale":  # both sizes ingested, served and answered; the larger one holds more
        small, large = record["sizes"]
        assert record["complete"] and not small["lost"] and not large["lost"]
        assert large["files"] > small["files"] and large["passages"] > small["passages"]


def test_the_readmes_screenshot_command_photographs_both_review_pages(tmp_path, shared_index_dir):
    """`python bench/review_screenshots.py`, as docs/reviewing.md shows it (on the shared index)."""
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (`.ci/run` installs it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
    result = subprocess.run(
        [sys.executable, "bench/review_screenshots.py", "--index", str(shared_index_dir / "index")],
        cwd=ROOT,
        env={**env, "BENCH_RESULTS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for name in ("review-conversation.png", "review-dashboard.png"):
        shot = tmp_path / name
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000, name


def test_the_readmes_picture_script_makes_a_small_png_of_the_conversation_view(tmp_path, shared_index_dir):
    """`python bench/docs_picture.py`, which makes the README's picture, writing to tmp (never over
    the committed docs/images/conversation.png): a PNG under 200 KB, as wide as the committed one."""
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (`.ci/run` installs it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LLM_"))}
    out = tmp_path / "conversation.png"
    committed = (ROOT / "docs" / "images" / "conversation.png").read_bytes()
    result = subprocess.run(
        [sys.executable, "bench/docs_picture.py", "--index", str(shared_index_dir / "index"), "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    picture = out.read_bytes()
    assert picture.startswith(b"\x89PNG\r\n\x1a\n") and 20_000 < len(picture) < 200_000, len(picture)
    width = struct.unpack(">I", picture[16:20])[0]
    assert width == struct.unpack(">I", committed[16:20])[0]
    assert (ROOT / "docs" / "images" / "conversation.png").read_bytes() == committed
