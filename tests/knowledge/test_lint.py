"""`python -m bot lint`: each check finds what it is for, on a knowledge folder made for it, and
the shipped library passes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import ROOT, invoke, run_cli

PROSE = (
    "An overdraft is a limit on your business current account that lets you spend more than you hold, "
    "up to an agreed amount, and pay interest only on what you use. It suits short gaps between paying "
    "suppliers and being paid by customers, not buying equipment or covering losses month after month. "
    "Ask your bank for the limit, the rate, the arrangement fee and how much notice it gives before it "
    "withdraws the facility."
)
ASKED = "Asked:\n- overdraft vs loan?\n- can I get an overdraft for my cafe\n"


def good_file(title: str = "Overdrafts", heading: str = "How does a business overdraft work?", extra: str = "") -> str:
    return (
        f"---\ntitle: {title}\ntopic: credit\nupdated: 2026-12-07\n{extra}---\n\n# {title}\n\n"
        f"This file explains overdrafts.\n\n## {heading}\n\n{ASKED}\n{PROSE}\n"
    )


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def lint_json(folder: Path, *more: str):
    result = invoke("lint", str(folder), "--json", *more)
    return result.returncode, json.loads(result.stdout)


def checks(report: dict, kind: str) -> set[tuple[str, str]]:
    return {(f["path"], f["check"]) for f in report[kind]}


def test_a_clean_folder_passes_and_is_counted(tmp_path):
    folder = write(tmp_path, {"credit/overdrafts.md": good_file()})
    write(tmp_path, {"eval/questions.yaml": '- question: "overdraft?"\n  sections: ["credit/overdrafts.md#x"]\n'})
    code, report = lint_json(folder)
    assert code == 0
    assert report["files"] == 1 and report["sections"] == 1
    assert report["errors"] == [] and report["warnings"] == []


def test_errors_exit_1_with_the_file_and_section_named(tmp_path):
    no_question = good_file(heading="Overdraft basics").replace(ASKED, "")
    folder = write(
        tmp_path,
        {
            "credit/broken.md": "---\ntitle: [unclosed\n---\n\n# Broken\n\ntext\n",
            "credit/basics.md": no_question,
            "credit/refers.md": good_file().replace("This file", "See credit/missing-file.md. This file"),
            "credit/dated.md": good_file(extra="review_by: next spring\n"),
        },
    )
    code, report = lint_json(folder)
    assert code == 1
    errors = checks(report, "errors")
    assert ("credit/broken.md", "front matter") in errors
    assert ("credit/basics.md", "question heading") in errors
    assert ("credit/basics.md", "ways of asking") in errors
    assert ("credit/refers.md", "cross-reference") in errors
    assert ("credit/dated.md", "review_by") in errors
    named = next(f for f in report["errors"] if f["check"] == "question heading")
    assert named["section"] == "Overdraft basics"


def test_warnings_long_short_duplicate_overdue_unsourced_and_unreached(tmp_path):
    long_prose = " ".join([PROSE] * 8)
    folder = write(
        tmp_path,
        {
            "credit/long.md": good_file(title="Long").replace(PROSE, long_prose),
            "credit/short.md": good_file(title="Short").replace(PROSE, "Ask your bank."),
            "credit/copy.md": good_file(title="Copy", heading="What is an overdraft and how does it work?"),
            "credit/overdue.md": good_file(title="Overdue", extra="review_by: 2020-01-01\nsources: [a]\n").replace(
                PROSE, PROSE + " Rates were 12% in 2025."
            ),
            "credit/figures.md": good_file(title="Figures").replace(PROSE, PROSE + " Banks charge 12% a year."),
            "credit/example.md": good_file(title="Example").replace(
                PROSE, PROSE + "\n\nA hypothetical example: a cafe borrows $5,000.\n\nIt pays 12% on it."
            ),
        },
    )
    code, report = lint_json(folder)
    assert code == 0, report["errors"]
    warnings = checks(report, "warnings")
    assert ("credit/long.md", "long") in warnings
    assert ("credit/short.md", "short") in warnings
    assert ("credit/copy.md", "near-duplicate") in warnings or ("credit/example.md", "near-duplicate") in warnings
    duplicate = next(f for f in report["warnings"] if f["check"] == "near-duplicate")
    assert "#How does a business overdraft work?" in duplicate["message"] or "#What is" in duplicate["message"]
    assert ("credit/overdue.md", "review_by") in warnings
    assert ("credit/figures.md", "figure without source") in warnings
    assert ("credit/overdue.md", "figure without source") not in warnings  # it names its sources
    assert ("credit/example.md", "figure without source") not in warnings  # its figures are an example
    assert not any(check == "eval" for _, check in warnings)  # no eval folder: nothing to reach
    write(tmp_path, {"eval/questions.yaml": '- question: "q"\n  sections: ["credit/long.md#x"]\n'})
    _, report = lint_json(folder)
    assert ("credit/short.md", "eval") in checks(report, "warnings")
    assert ("credit/long.md", "eval") not in checks(report, "warnings")
    assert lint_json(folder, "--strict")[0] == 1


def test_people_read_a_table_and_a_missing_folder_is_one_line(tmp_path):
    folder = write(tmp_path, {"credit/basics.md": good_file(heading="Overdraft basics")})
    result = invoke("lint", str(folder))
    assert result.returncode == 1
    assert "Overdraft basics" in result.stdout and "1 files, 1 sections: 1 errors" in result.stdout
    missing = run_cli("lint", str(tmp_path / "nowhere"))
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines() == [f"error: {tmp_path / 'nowhere'} is not a folder of knowledge files"]


def test_the_shipped_library_has_no_errors():
    code, report = lint_json(ROOT / "knowledge")
    assert code == 0, [f"{f['path']}#{f['section']}: {f['message']}" for f in report["errors"]]
    assert report["files"] >= 41


def test_an_unreadable_file_is_one_clear_error_and_the_others_are_still_checked(tmp_path):
    """As the ingest reads it (`read_bytes`): a file the linter may not open is named with why."""
    folder = write(tmp_path, {"credit/overdrafts.md": good_file(), "credit/locked.md": good_file(title="Locked")})
    (folder / "credit" / "locked.md").chmod(0)
    result = run_cli("lint", str(folder), "--json", unprivileged=True)
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert [(f["path"], f["check"], f["message"]) for f in report["errors"]] == [
        ("credit/locked.md", "readable", "cannot be read: permission denied")
    ]
    assert report["files"] == 2 and report["sections"] == 1  # the readable one was checked


def test_a_review_by_with_a_time_counts_as_its_date_and_the_passed_ones_are_listed(tmp_path):
    """YAML reads `2020-01-01 09:30:00` as a date and time (once a crash: it cannot be compared
    with a date); `review_due` lists the files past theirs, for `python -m bot suggest`."""
    import datetime as dt

    from bot.knowledge.lint import review_due

    folder = write(
        tmp_path,
        {
            "credit/timed.md": good_file(extra="review_by: 2020-01-01 09:30:00\n"),
            "credit/later.md": good_file(title="Later", extra="review_by: 2999-01-01\n"),
            "credit/undated.md": good_file(title="Undated"),
            "credit/wrong.md": good_file(title="Wrong", extra="review_by: next spring\n"),
        },
    )
    _, report = lint_json(folder)
    assert ("credit/timed.md", "review_by") in checks(report, "warnings")
    assert review_due(folder, dt.date(2026, 12, 7)) == {"credit/timed.md": dt.date(2020, 1, 1)}
