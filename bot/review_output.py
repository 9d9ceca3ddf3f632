"""Tables for people: how review and eval results look on a terminal (rich)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from bot.evaluation import EvalReport

PIPE_WIDTH = 160  # rich assumes 80 columns when not on a terminal; logs and files can be wider


def make_console(stderr: bool = False) -> Console:
    """A console that wraps at the terminal's width, or at a generous width when piped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else PIPE_WIDTH)


def print_eval_report(report: EvalReport, console: Console | None = None) -> None:
    console = console or make_console()
    summary = Table(title="Knowledge eval", show_header=True)
    columns = ("questions", "recall@1", "recall@5", "MRR", "not-covered acc.", "wrongly declined", "p50 ms", "p95 ms")
    for column in columns:
        summary.add_column(column, justify="right")
    summary.add_row(
        f"{len(report.covered)} + {len(report.uncovered)} off-topic",
        f"{report.recall_at(1):.3f}",
        f"{report.recall_at(5):.3f}",
        f"{report.mrr:.3f}",
        f"{report.not_covered_accuracy:.3f}",
        f"{report.false_not_covered:.3f}",
        f"{report.latency_ms(0.5):.0f}",
        f"{report.latency_ms(0.95):.0f}",
    )
    console.print(summary)
    console.print(f"MIN_SCORE {report.min_score}; the best threshold on this set is {report.suggested_min_score()}")
    misses = report.misses()
    if not misses:
        return
    table = Table(title="Missed: the right file was not in the top 5", show_header=True)
    table.add_column("question")
    table.add_column("expected")
    table.add_column("found first")
    table.add_column("rank", justify="right")
    for outcome in misses:
        table.add_row(
            outcome.question.question,
            "\n".join(outcome.question.files),
            outcome.ranked_files[0] if outcome.ranked_files else "-",
            str(outcome.rank or "-"),
        )
    console.print(table)
