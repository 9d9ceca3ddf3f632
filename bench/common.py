"""What every benchmark shares: the machine it ran on, timing, a table, and a JSON record.

Each benchmark measures a figure *and* its limit in the same run (the raw
library call it is compared with), because a shared 2-core machine is noisy:
the ratio holds where the absolute number does not.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# BENCH_RESULTS_DIR: where the smoke test sends its tiny runs, away from the recorded results
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or ROOT / "bench" / "results")
sys.path.insert(0, str(ROOT))  # the project, and the fake Bot API and LLM servers in tests/fakes
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("EMBEDDING_CACHE", "false")  # benchmarks measure the models, not the vector cache


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gb = round(pages / 1024**3, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def memory_mb(pid: int) -> dict[str, int]:
    """A process's resident memory now (VmRSS) and at its peak so far (VmHWM), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": int(fields["VmRSS"].split()[0]) // 1024, "peak_rss_mb": int(fields["VmHWM"].split()[0]) // 1024}


def summary(values_ms: list[float]) -> dict:
    return {
        "n": len(values_ms),
        "p50_ms": round(percentile(values_ms, 0.5), 2),
        "p95_ms": round(percentile(values_ms, 0.95), 2),
        "mean_ms": round(statistics.fmean(values_ms), 2) if values_ms else 0.0,
    }


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


def print_table(title: str, rows: list[dict]) -> None:
    """A plain fixed-width table: readable in a terminal and in CI logs."""
    if not rows:
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(_cell(r.get(c))) for r in rows)) for c in columns}
    print(f"\n{title}")
    print("  ".join(c.rjust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(_cell(row.get(c)).rjust(widths[c]) for c in columns))


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def write_result(name: str, payload: dict, quick: bool) -> Path:
    """bench/results/<name>.json (or <name>.quick.json for smoke runs, which are not recorded)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{'.quick' if quick else ''}.json"
    record = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    path.write_text(json.dumps({**record, **payload}, indent=2) + "\n")
    print(f"\nwrote {path}")
    return path


def _letters(number: int) -> str:
    """1 → "b", 26 → "ba": a copy's mark in letters, because boilerplate detection
    (`bot.index.boilerplate`) ignores digits and would take every copied paragraph for a footer."""
    word = ""
    while True:
        number, digit = divmod(number, 26)
        word = "abcdefghijklmnopqrstuvwxyz"[digit] + word
        if not number:
            return word


def vary(text: str, copy: int) -> str:
    """A knowledge file's text made distinct per copy, so copies are real, different chunks:
    the title and headings get a variant mark, and every body line a short suffix."""
    if copy == 0:
        return text
    front, body = "", text
    if text.startswith("---"):
        end = text.index("\n---", 3) + 4
        front, body = text[:end], text[end:]
        front = "\n".join(
            f"{line} (variant {copy})" if line.startswith("title:") and '"' not in line else line
            for line in front.splitlines()
        )
    lines = []
    for line in body.splitlines():
        if line.startswith("#"):
            lines.append(f"{line} (variant {copy})")
        elif line.strip():
            lines.append(f"{line.rstrip()} Example {_letters(copy)}.")
        else:
            lines.append(line)
    return front + "\n".join(lines) + "\n"
