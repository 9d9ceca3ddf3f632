"""Tables for people: how ingest, eval and review results look on a terminal (rich).

Owners' questions, answers and comments, and knowledge file names, are other people's text:
they are shown as `Text` (never parsed as rich markup, so `[/]` in a question cannot break a
table) with terminal control characters removed (so a question cannot move an admin's cursor
or retitle their terminal).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.index.evaluation import EvalReport
from bot.knowledge.ingest import Report
from bot.review.render import printable

PIPE_WIDTH = 160  # rich assumes 80 columns when not on a terminal; logs and files can be wider


def shown(text: object) -> Text:
    """Someone else's text, safe to print: no markup, no control characters."""
    return Text(printable(text))


def make_console(stderr: bool = False) -> Console:
    """A console that wraps at the terminal's width, or at a generous width when piped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else PIPE_WIDTH)


def print_eval_report(report: EvalReport, answers=None, console: Console | None = None, title: str = "") -> None:
    console = console or make_console()
    named = f" — {title}" if title else ""
    if answers is not None:
        print_answer_eval(answers, console, named)
    summary = Table(title=f"Retrieval, file level{named}", show_header=True)
    columns = ("questions", "recall@1", "recall@5", "MRR", "p50 ms", "p95 ms")
    for column in columns:
        summary.add_column(column, justify="right")
    summary.add_row(
        f"{len(report.covered)} + {len(report.uncovered)} not covered",
        f"{report.recall_at(1):.3f}",
        f"{report.recall_at(5):.3f}",
        f"{report.mrr:.3f}",
        f"{report.latency_ms(0.5):.0f}",
        f"{report.latency_ms(0.95):.0f}",
    )
    console.print(summary)
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
            shown(outcome.question.question),
            shown("\n".join(outcome.question.files)),
            shown(outcome.ranked_files[0] if outcome.ranked_files else "-"),
            str(outcome.rank or "-"),
        )
    console.print(table)


MISSES_SHOWN = 25


def print_answer_eval(answers, console: Console, named: str = "") -> None:
    """What owners see, at section level: the four outcomes, then the answers that went wrong."""
    data = answers.to_dict()
    table = Table(title=f"Offline answers, section level{named}", show_header=True)
    for column in ("questions", "lead right", "honest no", "wrongly declined", "confidently wrong", "right or honest"):
        table.add_column(column, justify="right")
    table.add_row(
        str(data["answered_questions"]),
        f"{data['lead_right']:.3f}",
        f"{data['honest_not_covered']:.3f}",
        f"{data['wrongly_declined']:.3f}",
        f"{data['confidently_wrong']:.3f}",
        f"{data['right_or_honest']:.3f}",
    )
    console.print(table)
    console.print(
        f"Near misses declined: {_share(data['near_miss_declined'], data['near_miss_questions'])}; "
        f"follow-ups right or honest: {_share(data['follow_up_right_or_honest'], data['follow_up_questions'])}; "
        f"the longest answer has {data['answer_words_max']} words"
    )
    misses = data["answer_misses"]
    if not misses:
        return
    wrong = Table(title=f"Wrong or wrongly declined ({len(misses)}, first {MISSES_SHOWN} shown)", show_header=True)
    for column in ("question", "outcome", "led with", "expected"):
        wrong.add_column(column)
    for miss in misses[:MISSES_SHOWN]:
        expected = miss["expected"] if isinstance(miss["expected"], str) else "\n".join(miss["expected"])
        outcome = miss["outcome"].replace("_", " ")
        wrong.add_row(shown(miss["question"]), outcome, shown(miss["lead"] or "-"), shown(expected))
    console.print(wrong)


def print_mode_comparison(results: dict, console: Console | None = None) -> None:
    """One line per retrieval mode: {mode: (EvalReport, AnswerReport)}; then the last mode's misses."""
    console = console or make_console()
    table = Table(title="Knowledge eval by retrieval mode", show_header=True)
    table.add_column("mode")
    for column in ("recall@1", "recall@5", "MRR", "not-covered acc.", "wrongly declined", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right")
    for mode, (report, _) in results.items():
        table.add_row(
            mode,
            f"{report.recall_at(1):.3f}",
            f"{report.recall_at(5):.3f}",
            f"{report.mrr:.3f}",
            f"{report.not_covered_accuracy:.3f}",
            f"{report.false_not_covered:.3f}",
            f"{report.latency_ms(0.5):.1f}",
            f"{report.latency_ms(0.95):.1f}",
        )
    console.print(table)
    for mode, (report, answers) in results.items():
        console.print(
            f"{mode}: {len(report.covered)} + {len(report.uncovered)} off-topic questions; offline answers cite an "
            f"expected file first for {answers.first_cited_right:.1%}, at all for {answers.cited_right:.1%}; "
            f"best MIN_SCORE here {report.suggested_min_score()}"
        )


def _short(text: str, width: int) -> Text:
    text = " ".join(printable(text).split())
    return Text(text if len(text) <= width else text[: width - 1] + "…")


def print_turns(turns, console: Console | None = None) -> None:
    console = console or make_console()
    table = Table(title=f"Turns ({len(turns)}, newest first)")
    for column in ("id", "when (UTC)", "user", "mode", "score", "fb", "question", "answer"):
        table.add_column(column, no_wrap=column in ("id", "when (UTC)"))
    for t in turns:
        table.add_row(
            str(t.id),
            t.created_at.strftime("%Y-%m-%d %H:%M"),
            shown(t.user_id),
            t.mode + ("!" if t.error else ""),
            f"{t.best_score:.2f}" if t.best_score is not None else "-",
            {"up": "👍", "down": "👎", "mixed": "👍👎"}.get(t.feedback or "", ""),
            _short(t.question, 50),
            _short(t.answer, 60),
        )
    console.print(table)


def print_turn(turn, console: Console | None = None) -> None:
    console = console or make_console()
    console.print(
        Text.assemble(
            ("Turn ", "bold"),
            (str(turn.id), "bold"),
            f"  conversation {turn.conversation_id}  user ",
            shown(turn.user_id),
        )
    )
    console.print(
        shown(f"{turn.created_at:%Y-%m-%d %H:%M:%S} UTC · {turn.mode}" + (f" ({turn.model})" if turn.model else ""))
    )
    latency = f"{turn.latency_ms:.0f} ms" if turn.latency_ms is not None else "-"
    console.print(f"latency {latency} · tokens in/out {turn.input_tokens or 0}/{turn.output_tokens or 0}")
    if turn.error:
        console.print(Text.assemble(("LLM failure: ", "red"), shown(turn.error)))
    flags = [name for name, on in (("cancelled by the owner", turn.cancelled), ("cut short", turn.truncated)) if on]
    if turn.delivered is False:
        flags.append("not delivered")
    if flags:
        console.print(Text.assemble(("Note: ", "yellow"), shown(", ".join(flags))))
    if turn.profile:
        profile = ", ".join(f"{key} {value}" for key, value in turn.profile.items() if value not in ("", None))
        console.print(Text.assemble(("Profile: ", "bold"), shown(profile)))
    console.print("\n[bold]Question[/bold]")
    console.print(shown(turn.question), highlight=False)
    if turn.standalone_question and turn.standalone_question != turn.question:
        console.print("[bold]As understood[/bold]")
        console.print(shown(turn.standalone_question), highlight=False)
    console.print("\n[bold]Answer[/bold]")
    console.print(shown(turn.answer), highlight=False)
    if turn.sources:
        console.print("\n[bold]Sources[/bold]")
        for s in turn.sources:
            console.print(
                shown(f"  [{s['number']}] {s['path']} — {s['heading']} (score {s['score']:.2f})"), highlight=False
            )
    feedback = {"up": "👍", "down": "👎", "mixed": "👍 and 👎"}.get(turn.feedback or "", "none")
    console.print(f"\n[bold]Feedback[/bold] {feedback}")
    for comment in turn.comments:
        console.print(shown(f"  “{comment}”"), highlight=False)


def latency_text(stats) -> str:
    """p50 / p95 of the advisor's answers, or that there were none (never "0 ms")."""
    if stats.latency_ms_p50 is None:
        return "no answers yet"
    return f"{stats.latency_ms_p50:.0f} ms / {stats.latency_ms_p95:.0f} ms ({stats.answers} answers)"


def print_stats(stats, console: Console | None = None) -> None:
    console = console or make_console()
    summary = Table(title="Usage")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    ratio = "-" if stats.feedback_ratio is None else f"{stats.feedback_ratio:.0%} 👍"
    rows = [
        ("turns", str(stats.turns)),
        ("owners", str(stats.users)),
        ("feedback", f"{stats.thumbs_up} 👍 / {stats.thumbs_down} 👎 ({ratio})"),
        *((kind, f"{count} ({percent}%)") for kind, count, percent in stats.breakdown()),
        ("LLM failures (answered offline)", str(stats.llm_failures)),
        ("latency p50 / p95 (answers only)", latency_text(stats)),
    ]
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)
    if stats.active_users_per_day:
        days = Table(title="Active owners per day")
        days.add_column("day")
        days.add_column("owners", justify="right")
        for day, count in list(stats.active_users_per_day.items())[-14:]:
            days.add_row(day, str(count))
        console.print(days)
    if stats.top_topics:
        topics = Table(title="Top topics (by first cited source)")
        topics.add_column("topic")
        topics.add_column("turns", justify="right")
        for topic, count in stats.top_topics:
            topics.add_row(shown(topic), str(count))
        console.print(topics)


def print_gaps(themes, console: Console | None = None) -> None:
    console = console or make_console()
    if not themes:
        console.print("No knowledge gaps: no weak, not-covered or thumbs-down answers in this period.")
        return
    table = Table(title="Knowledge gaps (write these next)")
    for column in ("#", "theme", "count", "why", "examples", "closest file"):
        table.add_column(column, justify="right" if column in ("#", "count") else "left")
    for number, theme in enumerate(themes, start=1):
        table.add_row(
            str(number),
            _short(theme.label, 50),
            str(theme.count),
            ", ".join(f"{r} {n}" for r, n in sorted(theme.reasons.items())),
            Text("\n").join(_short(e, 60) for e in theme.examples),
            shown(f"{theme.closest_file} ({theme.closest_score:.2f})") if theme.closest_file else "-",
        )
    console.print(table)


def print_coverage(report, console: Console | None = None) -> None:
    """`coverage`: the knowledge files by use, then the gap themes and what now covers them."""
    console = console or make_console()
    files = Table(title=f"Knowledge files (last {report.days} days; most cited first)")
    for column in ("file", "cited", "👍", "👎", "owner q.", "eval q.", ""):
        files.add_column(column, justify="left" if column in ("file", "") else "right")
    for usage in report.files:
        files.add_row(
            shown(usage.path),
            str(usage.citations),
            str(usage.thumbs_up),
            str(usage.thumbs_down),
            str(usage.owner_questions),
            str(usage.eval_questions),
            Text("never retrieved", style="yellow") if usage.never_retrieved else "",
        )
    files.caption = (
        f"owner q. / eval q.: of {report.owner_questions} owner and {report.eval_questions} eval questions, those "
        f"that retrieve the file today (top {report.top_k}, score ≥ {report.min_score})"
    )
    files.caption_justify = "left"
    console.print(files)
    if not report.gaps:
        console.print("No knowledge gaps in this period.")
        return
    gaps = Table(title="Knowledge gaps: covered now?")
    for column in ("#", "theme", "asked", "closest file", "covered now", "answered by"):
        gaps.add_column(column, justify="right" if column in ("#", "asked") else "left")
    styles = {"covered": "green", "partly covered": "yellow", "open": "red"}
    for number, gap in enumerate(report.gaps, start=1):
        gaps.add_row(
            str(number),
            _short(gap.theme, 50),
            str(gap.asked),
            shown(f"{gap.closest_file} ({gap.closest_score:.2f})") if gap.closest_file else "-",
            Text(f"{gap.covered}/{gap.asked} {gap.status}", style=styles[gap.status]),
            shown(gap.answered_by or "-"),
        )
    console.print(gaps)


def print_suggestions(report, console: Console | None = None) -> None:
    """`suggest`: one row per suggestion, most owners affected first."""
    console = console or make_console()
    for note in report.notes:
        console.print(Text(f"Note: {note}", style="yellow"))
    if not report.suggestions:
        console.print(f"No suggestions: nothing to write, rewrite, merge, review or retire (last {report.days} days).")
        return
    table = Table(title=f"Content suggestions (last {report.days} days; most owners affected first)")
    for column in ("#", "kind", "what", "owners", "example", "what to do"):
        table.add_column(column, justify="right" if column in ("#", "owners") else "left", overflow="fold")
    for number, suggestion in enumerate(report.suggestions, start=1):
        table.add_row(
            str(number),
            suggestion.kind,
            shown(suggestion.what.replace(" + ", "\n+ ") if suggestion.kind == "near-duplicate" else suggestion.what),
            str(suggestion.owners),
            _short(suggestion.example, 80),
            shown(suggestion.action),
        )
    kinds = Counter(s.kind for s in report.suggestions)
    table.caption = ", ".join(f"{count} {kind}" for kind, count in kinds.items()) + (
        f"; files no owner reached in {report.unreached_days} days affect no owner: they rank last"
        if "unreached" in kinds
        else ""
    )
    table.caption_justify = "left"
    console.print(table)


def summary_table(report: Report, knowledge_dir: Path) -> Table:
    title = "Ingest (dry run: nothing written)" if report.dry_run else "Ingest"
    table = Table(title=shown(f"{title} — {knowledge_dir}"), show_header=True)
    for column in ("added", "updated", "removed", "unchanged", "skipped", "chunks", "seconds", "chunks/s"):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.added),
        str(report.updated),
        str(report.removed),
        str(report.unchanged),
        str(len(report.skipped)),
        str(report.chunks_written),
        f"{report.seconds:.1f}",
        f"{report.chunks_per_second:.1f}",
    )
    lines = [f"  {s.path}: {s.reason}" for s in report.skipped]
    lines = (["Skipped files:", *lines] if lines else []) + [
        f"  {path}: {count} chunk(s) left out: the text repeats itself" for path, count in report.degenerate.items()
    ]
    if lines:
        table.caption = shown("\n".join(lines))
        table.caption_justify = "left"
    return table


def _share(rate: float, count: int) -> str:
    """ "87.5% of 32", or "n/a (none in the set)": 0.0% of 0 read as a failure."""
    return f"{rate:.1%} of {count}" if count else "n/a (none in the set)"


def print_lint_report(report, console: Console | None = None) -> None:
    """The linter's findings, errors first, one row each, then a one-line verdict."""
    console = console or make_console()
    findings = sorted(report.findings, key=lambda f: (not f.error, f.path, f.section, f.check))
    if findings:
        table = Table(show_lines=False, pad_edge=False)
        for column in ("", "file", "section", "check", "what to do"):
            table.add_column(column, overflow="fold")
        for finding in findings:
            mark = Text("error", style="bold red") if finding.error else Text("warn", style="yellow")
            table.add_row(mark, shown(finding.path), shown(finding.section), finding.check, shown(finding.message))
        console.print(table)
    counts = f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    verdict = f"{report.files} files, {report.sections} sections: {counts}"
    console.print(Text(verdict, style="bold red" if report.errors else "bold green"))
