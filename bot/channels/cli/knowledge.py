"""Commands for the knowledge base: `ingest`, `export-onnx` and `eval`."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

import click

from bot.channels.cli.common import (
    EXIT_SKIPPED,
    fail,
    index_dir_option,
    knowledge_dir_option,
    log,
    settings_from,
    show,
)
from bot.config import Settings


@click.command("ingest")
@knowledge_dir_option
@index_dir_option
@click.option("--rebuild", is_flag=True, help="Drop the whole index and embed every file again.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing, load no model.")
@click.option(
    "--allow-shrink", is_flag=True, help="Go ahead even if more than half of the indexed files are gone from the dir."
)
@click.pass_context
def ingest_command(ctx, knowledge_dir, index_dir, rebuild, dry_run, allow_shrink) -> None:
    """Bring the index up to date with the knowledge dir.

    Only new and changed files are embedded; deleted files leave the index. A
    file that cannot be read (binary, empty, not UTF-8, too large, broken front
    matter, outside the knowledge dir) is reported and skipped, the others are
    ingested, and the exit code is 1 so a knowledge repo's CI notices. A folder
    that cannot be read is reported too, and its files stay in the index as
    they were. A run that would remove more than half of the indexed files
    changes nothing and exits with code 2, unless --allow-shrink (or --rebuild).
    """
    settings = settings_from(ctx, knowledge_dir=knowledge_dir, index_dir=index_dir)
    report = ingest_with_progress(settings, rebuild=rebuild, dry_run=dry_run, allow_shrink=allow_shrink)
    ctx.exit(EXIT_SKIPPED if report.skipped else 0)


def ingest_with_progress(
    settings: Settings,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    allow_shrink: bool = False,
    quiet_when_unchanged: bool = False,
):
    """An ingest as a consultant watches it: what it will do and about how long that takes, then
    a progress bar on stderr (progress lines when stderr is not a terminal) and a summary table.
    Ctrl-C, a missing knowledge dir and a refused shrink end the command with one line."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from bot.channels.cli.progress import ProgressLines, nothing_cached, plan_line, plan_seconds
    from bot.channels.cli.tables import make_console, summary_table
    from bot.knowledge.ingest import IndexShrinkError
    from bot.knowledge.runner import run_ingest

    console = make_console(stderr=True)
    progress = Progress(
        TextColumn("Embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("passages"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = None
    lines: ProgressLines | None = None

    def on_plan(plan, chunks: int) -> None:
        nonlocal task, lines
        if chunks and not dry_run:
            first_time = plan_seconds(settings, chunks) if nothing_cached(settings) else None
            log.info("%s", plan_line(len(plan.contents), chunks, first_time))
            if console.is_terminal:
                task = progress.add_task("embed", total=chunks)
            else:
                lines = ProgressLines(chunks, first_time)
                lines.start()

    def on_progress(done: int) -> None:
        if task is not None:
            progress.advance(task, done)
        if lines is not None:
            lines.advance(done)

    try:
        with progress:
            report = run_ingest(
                settings,
                rebuild=rebuild,
                dry_run=dry_run,
                allow_shrink=allow_shrink,
                on_plan=on_plan,
                on_progress=on_progress,
            )
    except KeyboardInterrupt:
        console.print("Interrupted. The index is consistent; run ingest again to finish.")
        sys.exit(130)
    except (FileNotFoundError, IndexShrinkError) as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(2)
    finally:
        if lines is not None:
            lines.stop()  # an interrupted or failed ingest: no more progress lines
    changed = report.added or report.updated or report.removed or report.skipped
    if changed or not quiet_when_unchanged:
        console.print(summary_table(report, settings.knowledge_dir))
    return report


@click.command("export-onnx")
@click.option("--int8", is_flag=True, help="Also write a dynamically quantised int8 copy (model.int8.onnx).")
@click.option("--force", is_flag=True, help="Export again even if an export exists.")
@click.pass_context
def export_onnx_command(ctx, int8, force) -> None:
    """Export the embedding models to ONNX Runtime: all-MiniLM-L6-v2 and multilingual-e5-small.

    Made locally from the shipped weights (nothing is downloaded), into
    ONNX_MODEL_DIR (default: inside .venv; e5 in its subfolder e5). setup
    runs this once; a missing export is also made at first use.
    """
    from bot.index.e5_model import ENCODER_FILE
    from bot.index.e5_model import export as export_e5
    from bot.index.embedder import Embedder
    from bot.index.onnx_model import INT8_FILE, ONNX_FILE, SPLIT_FILE, completed, export
    from bot.index.spaces import make_e5

    settings = settings_from(ctx)
    embedder = Embedder(settings.embedding_model, onnx_dir=settings.onnx_model_dir)  # MiniLM, whatever the backend
    wanted = [ONNX_FILE, INT8_FILE] if int8 else [ONNX_FILE]
    if all((embedder.onnx_dir / name).exists() for name in wanted) and not force:
        made = completed(embedder.onnx_dir)  # an export made before the split, or the 8-bit copy
        for name in made:
            what = "split the word table off the export" if name == SPLIT_FILE else "wrote the 8-bit copy of the export"
            click.echo(f"{what} at {embedder.onnx_dir}")
        if not made:
            click.echo(f"ONNX export already at {embedder.onnx_dir}")
    else:
        export(embedder.model_path, embedder.onnx_dir, quantize=int8)
        click.echo(f"exported to {embedder.onnx_dir}")
    e5 = make_e5(settings)
    if (e5.onnx_dir / ENCODER_FILE).exists() and not force:
        click.echo(f"ONNX export already at {e5.onnx_dir}")
    else:
        export_e5(e5.onnx_dir)
        click.echo(f"exported to {e5.onnx_dir}")


@click.command("eval")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@index_dir_option
@click.option("--min-recall", type=click.FloatRange(0, 1), help="Exit with code 1 if recall@5 is below this.")
@click.option(
    "--max-wrong",
    type=click.FloatRange(0, 1),
    help="Exit with code 1 if the share of confidently wrong answers is above this.",
)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(["hybrid", "dense", "lexical"]),
    help="Retrieval mode to measure (repeat to compare modes in one run; default RETRIEVAL_MODE).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.pass_context
def eval_command(ctx, file, index_dir, min_recall, max_wrong, modes, as_json) -> None:
    """Measure what owners see: the section each answer leads with, and whether retrieval finds the file.

    Without FILE: the tuning set (eval/questions.yaml in the knowledge dir) and
    the held-out set (eval/held-out.yaml), each reported on its own. For the
    offline answers (what owners see without an LLM), at section level: how
    often the answer leads with a section that answers (lead right), declines a
    question the knowledge does not answer (honest), declines one it does
    (wrongly declined), or leads with something that does not answer
    (confidently wrong). For retrieval, at file level: recall@1, recall@5 and
    MRR over distinct files, and latency. With several --mode options, one line
    per retrieval mode compares them.
    """
    from bot.advisor import Advisor
    from bot.advisor.evaluation import run_answer_eval
    from bot.channels.cli.tables import print_eval_report, print_mode_comparison
    from bot.index.evaluation import EvalSetError, load_eval_set, run_eval, unknown_files, unknown_sections
    from bot.index.retriever import make_retriever

    settings = settings_from(ctx, index_dir=index_dir)
    folder = settings.knowledge_dir / "eval"
    if file is not None:
        sets = {file.stem: file}
    else:
        sets = {"tuning": folder / "questions.yaml"}
        if (folder / "held-out.yaml").exists():
            sets["held_out"] = folder / "held-out.yaml"
    try:
        loaded = {name: load_eval_set(path) for name, path in sets.items()}
    except EvalSetError as exc:
        fail(str(exc))
    retriever = make_retriever(settings)
    indexed = set(retriever.index.file_states())
    if not indexed:
        fail("the knowledge index is empty; run `python ingest.py` first")
    every = [question for questions in loaded.values() for question in questions]
    missing = unknown_files(every, indexed)
    if missing:
        fail(f"the eval set expects files that are not in the index: {', '.join(missing)}")
    gone = unknown_sections(every, {section.key for section in retriever.section_index().sections})
    if gone:
        fail(f"the eval set expects sections that are not in the index (a heading changed?): {'; '.join(gone)}")
    for question in every:  # load every model the sets need, so no mode's latency pays for it
        retriever.retrieve(question.question, 1)
    results: dict[str, dict] = {}
    for name, questions in loaded.items():
        results[name] = {}
        for mode in modes or (settings.retrieval_mode,):
            for embedder in retriever.embeddings.embedders:  # each mode embeds every question itself
                embedder._query_cache.cache_clear()
            retriever.fusion = dataclasses.replace(retriever.fusion, mode=mode)
            report = run_eval(retriever, questions, settings.min_score)
            answers = asyncio.run(run_answer_eval(Advisor(retriever, settings), questions))
            results[name][mode] = (report, answers)
    data = {name: _eval_data(by_mode) for name, by_mode in results.items()}
    if file is not None:
        data = data[file.stem]

    def tables() -> None:
        for name, by_mode in results.items():
            title = name.replace("_", "-")
            if len(by_mode) > 1:
                print_mode_comparison(by_mode)
            else:
                print_eval_report(*next(iter(by_mode.values())), title=title)

    show(as_json, data, tables)
    for name, by_mode in results.items():
        report, answers = list(by_mode.values())[-1]
        wrong = answers.rate("confidently_wrong")
        if min_recall is not None and report.recall_at(5) < min_recall:
            click.echo(f"{name}: recall@5 {report.recall_at(5):.3f} is below --min-recall {min_recall}", err=True)
            ctx.exit(EXIT_SKIPPED)
        if max_wrong is not None and wrong > max_wrong:
            click.echo(f"{name}: confidently wrong {wrong:.3f} is above --max-wrong {max_wrong}", err=True)
            ctx.exit(EXIT_SKIPPED)


def _eval_data(by_mode: dict) -> dict:
    if len(by_mode) > 1:
        return {"modes": {m: {**r.to_dict(), **a.to_dict()} for m, (r, a) in by_mode.items()}}
    report, answers = next(iter(by_mode.values()))
    return {**report.to_dict(), **answers.to_dict()}


@click.command("lint")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as one JSON object.")
@click.option("--strict", is_flag=True, help="Exit with code 1 on warnings too.")
@click.pass_context
def lint_command(ctx, folder, as_json, strict) -> None:
    """Check the knowledge files as owners will meet them; loads no model.

    \b
    Errors (exit code 1): front matter that does not parse, a section whose
    heading is not an owner's question or that has no Asked: block, a
    cross-reference to a missing file, a review_by that is not a date.
    Warnings: sections too long to quote or too short to answer, near-duplicate
    sections across files, review_by dates passed, files no eval question
    names, figures in a file with no `sources:`. FOLDER defaults to KNOWLEDGE_DIR.
    """
    from bot.channels.cli.tables import print_lint_report
    from bot.knowledge.lint import lint

    settings = settings_from(ctx)
    folder = folder or settings.knowledge_dir
    if not folder.is_dir():
        fail(f"{folder} is not a folder of knowledge files")
    report = lint(folder, max_bytes=settings.max_file_bytes)
    show(as_json, report.as_dict(), lambda: print_lint_report(report))
    ctx.exit(1 if report.errors or (strict and report.warnings) else 0)
