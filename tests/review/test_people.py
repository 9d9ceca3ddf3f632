"""Owners by name, times in the review's zone, the zone chosen at start, consultant entries read
from their front matter, and the per-day charts' axis: the parts of the team's review pages that
need no browser (`tests/review/test_review_team_pages.py` reads them in Chromium)."""

from __future__ import annotations

import datetime as dt

from bot.review.consultant_entries import parse_entry, read_entries
from bot.review.dashboard import day_axis
from bot.review.datasette import metadata
from bot.review.people import local_minute, owner_html, owner_of, review_zone


def test_times_to_the_minute_in_the_zone():
    assert local_minute("2026-12-07 14:05:59.123456", "UTC") == "2026-12-07 14:05"
    assert local_minute("2026-12-07 23:30:00", "Europe/Berlin") == "2026-12-08 00:30"  # the next day there
    assert local_minute("2026-07-01T10:00:00", "Europe/Berlin") == "2026-07-01 12:00"  # summer time
    assert local_minute("2026-12-07", "UTC") is None and local_minute("soon", "UTC") is None
    assert local_minute(dt.datetime(2026, 12, 7, 14, 5, 30), "Asia/Kathmandu") == "2026-12-07 19:50"


def test_owners_by_name_with_their_id_small_beside_it():
    names = {"tg:6003": "Ana Lima"}
    assert owner_of("tg-chat:6003") == "tg:6003" and owner_of("tg-chat:-100123") is None  # a group is nobody
    html = owner_html("tg-chat:6003", names)
    assert '<span class="name">Ana Lima</span>' in html and '<small class="owner-id">tg-chat:6003</small>' in html
    assert owner_html("tg:7", names) is None  # no name known: the id as Datasette shows it
    assert "&lt;b&gt;" in owner_html("tg:1", {"tg:1": "<b>Ana</b>"})  # an owner's name is text


async def test_the_zone_is_the_setting_else_the_first_admins_else_utc():
    stored = {"tg:2": "America/Sao_Paulo"}

    async def lookup(user_id):
        return stored.get(user_id)

    assert await review_zone("Europe/Berlin", [1, 2], lookup) == "Europe/Berlin"
    assert await review_zone(None, [1, 2], lookup) == "America/Sao_Paulo"
    assert await review_zone(None, [1], lookup) == "UTC"


def test_canned_queries_hide_their_sql_and_the_home_page_the_bookkeeping():
    meta = metadata("transcripts", 0.4, protected=False, time_zone="Asia/Kathmandu")
    database = meta["databases"]["transcripts"]
    assert all(query["hide_sql"] for query in database["queries"].values())
    assert database["tables"]["pending_updates"] == {"hidden": True}
    assert "turns" in database["tables"] and not database["tables"]["turns"].get("hidden")
    assert meta["plugins"]["sme-review"]["time_zone"] == "Asia/Kathmandu"


def test_consultant_entries_come_from_their_front_matter(tmp_path):
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "vat.md").write_text(
        "---\nauthor: Maria Santos\ndate: 2026-12-01\nsource: consultant\n---\n# VAT registration\n\nText.\n"
    )
    (tmp_path / "answers" / "old.md").write_text("---\ntitle: Old\nsource: handbook\n---\nText.\n")
    (tmp_path / "answers" / "broken.md").write_text("---\nsource: [consultant\n---\nText.\n")
    [entry] = read_entries(tmp_path)
    assert (entry.path, entry.title, entry.author, entry.date) == (
        "answers/vat.md",
        "VAT registration",
        "Maria Santos",
        "2026-12-01",
    )
    assert parse_entry("a.md", "no front matter") is None
    assert read_entries(tmp_path / "missing") == []


def test_per_day_axis_shows_at_least_a_week_one_band_a_day():
    today = dt.datetime.now(dt.UTC).date()
    one_day = day_axis([today.isoformat()], 30, "UTC")
    assert one_day["type"] == "ordinal" and len(one_day["scale"]["domain"]) == 7
    assert one_day["scale"]["domain"][-1] == today.isoformat()
    three_weeks = day_axis([(today - dt.timedelta(days=20)).isoformat()], 30, "UTC")["scale"]["domain"]
    assert len(three_weeks) == 21 and len(set(three_weeks)) == 21
    assert len(day_axis([(today - dt.timedelta(days=80)).isoformat()], 30, "UTC")["scale"]["domain"]) == 30
