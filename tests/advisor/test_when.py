"""Reading reminder times, with a fixed "now" (Tuesday 10 March 2026, 14:30:05 UTC) and the
owner's time zone: the phrases owners type, the words that remain, repeats, zones, bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.advisor.when import (
    NO_TEXT,
    PASSED,
    TOO_FAR,
    TOO_LONG,
    USAGE,
    WhenError,
    find_zone,
    interval_text,
    later,
    next_due,
    parse_reminder,
    parse_time,
    time_text,
)

NOW = dt.datetime(2026, 3, 10, 14, 30, 5)  # naive UTC, like everything stored
D = dt.datetime
BERLIN = "Europe/Berlin"  # UTC+1 until 29 March 2026, then UTC+2


@pytest.mark.parametrize(
    ("typed", "zone", "due", "text", "every"),
    [
        ("in 2 weeks update my cash forecast", BERLIN, D(2026, 3, 24, 8, 0), "update my cash forecast", None),
        ("on 1 March pay the VAT", "UTC", D(2027, 3, 1, 9, 0), "pay the VAT", None),  # passed this year
        ("tomorrow at 9 call the bank", BERLIN, D(2026, 3, 11, 8, 0), "call the bank", None),
        ("call the bank tomorrow at 9", "UTC", D(2026, 3, 11, 9, 0), "call the bank", None),  # time last
        ("remind me to call Ann in 90 minutes", BERLIN, D(2026, 3, 10, 16, 0, 5), "call Ann", None),  # exact, any zone
        ("in 2 seconds call the bank", BERLIN, D(2026, 3, 10, 14, 30, 7), "call the bank", None),
        ("every month review my prices", BERLIN, D(2026, 4, 10, 7, 0), "review my prices", "1 month"),  # 09:00 CEST
        ("every week check the stock", "UTC", D(2026, 3, 17, 9, 0), "check the stock", "1 week"),
        ("every 3 months review the strategy", "UTC", D(2026, 6, 10, 9, 0), "review the strategy", "3 months"),
        ("every monday at 8am plan the week", "UTC", D(2026, 3, 16, 8, 0), "plan the week", "1 week"),
        ("every day at 18:00 close the till", "UTC", D(2026, 3, 10, 18, 0), "close the till", "1 day"),  # today
        ("через 2 недели обновить прогноз", "UTC", D(2026, 3, 24, 9, 0), "обновить прогноз", None),  # their language
    ],
)
def test_the_time_phrase_is_read_in_the_owners_zone_and_the_rest_is_the_reminder(typed, zone, due, text, every):
    language = "ru" if "через" in typed else "en"
    when = parse_reminder(typed, zone=zone, now=NOW, language=language)
    assert (when.due, when.text, when.every) == (due, text, every)
    assert when.zoned == ("second" not in typed and "minutes" not in typed)


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("", USAGE),
        ("hello world", USAGE),
        ("may the force be with you", USAGE),  # "may" alone is no time
        ("every 5 minutes drink water", USAGE),  # repeats are hourly at most
        ("in 2 weeks", NO_TEXT),
        ("yesterday call the bank", PASSED),
        ("on 31 December 9999 at 23:30 renew the lease", TOO_FAR),  # overflowed past year 9999
        ("on 1 March 2040 renew the lease", TOO_FAR),
        ("every 20 years renew the lease", TOO_FAR),
        ("tomorrow at 9 " + "call the bank " * 40, TOO_LONG),  # stored, then too long to send
    ],
)
def test_bad_input_says_what_to_type(typed, error):
    with pytest.raises(WhenError) as caught:
        parse_reminder(typed, zone="UTC", now=NOW)
    assert caught.value.template == error
    assert "/remind" in str(caught.value)


def test_repeats_keep_their_local_time_and_skip_what_was_missed():
    march = parse_reminder("every month review prices", zone=BERLIN, now=NOW).due  # 10 April 07:00 UTC
    assert next_due(march, "1 month", BERLIN, now=march) == dt.datetime(2026, 5, 10, 7, 0)
    winter = dt.datetime(2026, 3, 20, 8, 0)  # 09:00 CET; after 29 March 09:00 is 07:00 UTC
    assert next_due(winter, "1 week", BERLIN, now=dt.datetime(2026, 4, 5)) == dt.datetime(2026, 4, 10, 7, 0)
    assert later(1, "week", zone="Asia/Jakarta", now=NOW) == dt.datetime(2026, 3, 17, 2, 0)  # 09:00 WIB
    assert parse_time("in 1 month", zone="UTC", now=NOW).due == dt.datetime(2026, 4, 10, 9, 0)
    with pytest.raises(WhenError):
        parse_time("in 1 month call the bank", zone="UTC", now=NOW)


def test_time_zones_by_name_city_or_offset():
    typed = ["Europe/Berlin", "europe/berlin", "Nairobi", "new york", "+3", "UTC-5", "gmt", "Mars/Base", "+5:30"]
    assert [find_zone(t) for t in typed] == [
        BERLIN, BERLIN, "Africa/Nairobi", "America/New_York", "Etc/GMT-3", "Etc/GMT+5", "UTC", None, None,
    ]  # fmt: skip
    assert time_text(dt.datetime(2026, 3, 24, 8, 0), BERLIN, "en", now=NOW) == "Tue 24 Mar, 09:00"
    assert time_text(dt.datetime(2027, 3, 1, 9, 0), "UTC", "en", now=NOW) == "Mon 1 Mar 2027, 09:00"
    assert (interval_text("3 months"), interval_text("1 week", "ru")) == ("3 months", "1 неделя")


def test_numbers_in_the_reminder_stay_in_it():
    when = parse_reminder("in 2 weeks update my 13-week cash forecast", zone="UTC", now=NOW)
    assert (when.due, when.text) == (D(2026, 3, 24, 9, 0), "update my 13-week cash forecast")


@pytest.mark.hostile
def test_a_reminder_cannot_carry_a_direction_override():
    """Right-to-left overrides in a reminder reached the owner unchanged, reversing what followed."""
    reminder = parse_reminder("in 2 weeks pay \u202etnuocca\u2066 the VAT", zone="UTC", now=NOW)
    assert reminder.text == "pay tnuocca the VAT"
