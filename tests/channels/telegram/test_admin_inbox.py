"""The admin chat's rules, without a running bot: how many error reports an hour, what a report
may say, and when the daily digest is due."""

from __future__ import annotations

import datetime as dt
from difflib import SequenceMatcher

from telegram import Update

from bot.channels.telegram.admin_chat import ErrorReports, error_report
from bot.channels.telegram.handlers.digest import due_slot
from tests.fakes.telegram_server import TOKEN


def test_error_reports_are_rate_limited_and_the_next_one_counts_the_held_back():
    reports = ErrorReports(per_hour=2)
    assert [reports.allow(now)[0] for now in (0, 1, 2, 3)] == [True, True, False, False]
    assert reports.allow(3601) == (True, 2)  # an hour after the first: room again, and two were held back
    assert reports.allow(3602) == (True, 0)


def test_a_report_names_the_update_and_never_the_token_or_more_than_200_characters_of_the_owner():
    update = Update.de_json(
        {
            "update_id": 5,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 111, "type": "private"},
                "from": {"id": 111, "is_bot": False, "first_name": "Ana"},
                "text": "y" * 500,
            },
        },
        None,
    )
    error = RuntimeError(f"https://api.telegram.org/bot{TOKEN}/sendMessage failed")
    report = error_report("ABC123", update, error, TOKEN, held_back=3)
    assert report.startswith("⚠️ Error ABC123 in a message from tg:111\nRuntimeError:")
    assert TOKEN not in report and "<TELEGRAM_BOT_TOKEN>" in report
    assert "y" * 200 + "…" in report and "y" * 201 not in report
    assert "3 more errors" in report
    assert error_report("X", None, ValueError("boom"), TOKEN).startswith("⚠️ Error X in a job\nValueError: boom")


def owner_message(text: str) -> Update:
    message = {"message_id": 1, "date": 0, "chat": {"id": 111, "type": "private"}, "text": text}
    return Update.de_json(
        {"update_id": 6, "message": {**message, "from": {"id": 111, "is_bot": False, "first_name": "A"}}}
    )


def longest_quote(text: str, report: str) -> int:
    """The length of the longest piece of `text` that `report` holds."""
    return SequenceMatcher(None, text, report, autojunk=False).find_longest_match().size


def test_an_exception_quoting_the_owner_reaches_the_report_with_200_characters_of_them_at_most():
    words = " ".join(f"w{n:03d}" for n in range(120))  # 599 characters, every piece of them unique
    quoting = RuntimeError(f"could not store {words!r}")  # an exception may quote what the owner wrote
    report = error_report("ABC123", owner_message(words), quoting, TOKEN)
    assert longest_quote(words, report) <= 200 and "w119" not in report, report
    assert report.startswith("⚠️ Error ABC123 in a message from tg:111\nRuntimeError: could not store 'w000 w001")
    # an owner's text is not only their message: a stored question quoted in an error from a job
    report = error_report("ABC124", None, quoting, TOKEN)
    assert longest_quote(words, report) <= 200 and "w119" not in report, report


def test_an_exception_message_cut_through_the_token_does_not_leak_a_piece_of_it():
    for padding in (*range(140, 200, 6), *range(940, 1000, 6)):  # the token straddles where a message is cut
        report = error_report("X", None, RuntimeError("x" * padding + f" https://api.telegram.org/bot{TOKEN}/x"), TOKEN)
        assert not any(TOKEN[i : i + 6] in report for i in range(len(TOKEN) - 5)), (padding, report)


def test_the_digest_is_due_once_a_day_after_its_time():
    morning = dt.datetime(2026, 12, 1, 7, 59)
    assert due_slot(morning, "08:00", None) == dt.datetime(2026, 11, 30, 8, 0)  # yesterday's, never sent
    assert due_slot(morning, "08:00", "2026-11-30T08:00:00") is None  # sent already
    after = dt.datetime(2026, 12, 1, 8, 0, 30)
    assert due_slot(after, "08:00", "2026-11-30T08:00:00") == dt.datetime(2026, 12, 1, 8, 0)
    assert due_slot(after, "08:00", "2026-12-01T08:00:00") is None
    assert due_slot(dt.datetime(2026, 12, 3, 9, 0), "08:00", "2026-11-30T08:00:00") == dt.datetime(2026, 12, 3, 8, 0)
