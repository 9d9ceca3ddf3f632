"""When a reminder is due: "in 2 weeks update my cash forecast", "tomorrow at 9 call the bank",
"on 1 March pay VAT", "every month review my prices" → the time (naive UTC), how often it
repeats, and what to say; owners' time zones; the next time of a repeating reminder.

It lives with the advisor because two rooms need it and it knows neither: channels read what an
owner typed (any channel, not only Telegram), and storage moves a repeating reminder forward in
the same guarded UPDATE that claims it (storage may import the advisor, never a channel). It
knows nothing of Telegram or of the database.

Dates are read by `dateparser` (it ships its language data and downloads nothing), imported on
first use: it takes a third of a second to import and a parse can take as long the first time,
so callers run `parse_reminder` in a thread, never on the event loop. "every …" is read here
(English); the time phrase itself may be in the owner's language too ("через 2 недели …").

A reminder a day or more away without a time of day comes at 09:00 in the owner's time zone;
"in 2 seconds/minutes/hours" is exact and the same in every zone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.locales import BIDI_CONTROLS, N_

UTC = dt.UTC
DAY_TIME = dt.time(9, 0)  # a day-scale reminder without a time of day comes then, local time
MAX_PHRASE_WORDS = 8  # the longest time phrase tried at the start (or the end) of a reminder
SHIFT = dt.timedelta(hours=1, minutes=37, seconds=13)  # a relative phrase moves with "now"; a date does not

USAGE = N_(
    "Tell me when and what, e.g. /remind in 2 weeks update my cash forecast, /remind tomorrow at 9 call "
    "the bank, /remind every month review my prices"
)
NO_TEXT = N_("What should I remind you of? E.g. /remind in 2 weeks update my cash forecast")
PASSED = N_("That time has already passed; e.g. /remind tomorrow at 9 call the bank")
TOO_FAR = N_("I can remind you up to 10 years ahead; e.g. /remind on 1 March renew the lease")
TOO_LONG = N_(
    "That reminder is {length} characters long; I keep reminders under {limit}. Say it in a line, "
    "e.g. /remind tomorrow at 9 call the bank"
)
MAX_AHEAD = dt.timedelta(days=3653)  # ten years: a date past it is a slip ("9999"), and one in year 9999 overflowed
MAX_TEXT = 500  # characters of what to say: it is sent back whole, on one Telegram message with its time

UNITS = ("hour", "day", "week", "month", "year")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ADVERBS = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter"}
ADVERBS |= {"yearly": "year", "annually": "year"}
EVERY = re.compile(
    r"^(?:every\s+(?:(?P<n>other|\d{1,3})\s+)?(?P<unit>hour|day|week|month|quarter|year|"
    + "|".join(WEEKDAYS)
    + r")s?|(?P<adverb>"
    + "|".join(ADVERBS)
    + r"))\b(?:\s+at\s+(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s*(?P<ampm>am|pm)?\b)?",
    re.IGNORECASE,
)
AT_HOUR = re.compile(r"\bat (\d{1,2})(?:[:.](\d{2}))?(?!\s*(?:am|pm|a\.m|p\.m|[:.]?\d))\b", re.IGNORECASE)


class WhenError(ValueError):
    """What the owner typed gives no usable time; `template` (marked for translation) and
    `params` let a channel say so in the owner's language: `_(exc.template).format(**exc.params)`."""

    def __init__(self, template: str, **params: object) -> None:
        super().__init__(template.format(**params))
        self.template, self.params = template, params


@dataclass(frozen=True)
class When:
    due: dt.datetime  # naive UTC
    text: str  # what to say: the words besides the time phrase
    every: str | None = None  # a repeating reminder's interval: "1 week", "3 months"
    zoned: bool = False  # the time depends on the owner's time zone (a date, a time of day, days away)


def parse_reminder(text: str, *, zone: str = "UTC", now: dt.datetime | None = None, language: str = "en") -> When:
    """Read a reminder: the time phrase at its start (or its end) and the words that remain.
    `now` is naive UTC (tests pass a fixed one); `zone` is the owner's IANA time zone."""
    when, rest = _parse(text, zone, now, language)
    rest = BIDI_CONTROLS.sub("", rest)  # sent back as plain text: an override would reverse what follows it
    rest = re.sub(r"^(?:to|that|about)\s+", "", rest.strip(" ,.:;-–—"), flags=re.IGNORECASE)
    if not rest:
        raise WhenError(NO_TEXT)
    if len(rest) > MAX_TEXT:  # stored, then too long to confirm or send: refused before it is stored
        raise WhenError(TOO_LONG, length=len(rest), limit=MAX_TEXT)
    return When(when.due, rest, when.every, when.zoned)


def parse_time(phrase: str, *, zone: str = "UTC", now: dt.datetime | None = None, language: str = "en") -> When:
    """A time phrase alone ("in 2 weeks", "on 1 March"), e.g. when the first check-in comes."""
    when, rest = _parse(phrase, zone, now, language)
    if rest.strip() or when.every:
        raise WhenError(USAGE)
    return when


def _parse(text: str, zone: str, now: dt.datetime | None, language: str) -> tuple[When, str]:
    now = now or dt.datetime.now(UTC).replace(tzinfo=None)
    try:
        when, rest = _read_when(text, zone, now, language)
    except OverflowError:  # past year 9999 somewhere on the way
        raise WhenError(TOO_FAR) from None
    if when.due > now + MAX_AHEAD:
        raise WhenError(TOO_FAR)
    return when, rest


def _read_when(text: str, zone: str, now: dt.datetime, language: str) -> tuple[When, str]:
    text = AT_HOUR.sub(lambda m: f"at {int(m[1]):02d}:{m[2] or '00'}", " ".join(text.split()))
    text = re.sub(r"^(?:remind\s+)?me\s+", "", text, flags=re.IGNORECASE)
    local_now = to_local(now, zone)
    repeating = EVERY.match(text)
    if repeating:
        due, every, zoned = _every(repeating, local_now)
        rest = text[repeating.end() :]
    else:
        found = _phrase_at_edge(text.split(), local_now, language)
        if found is None:
            raise WhenError(USAGE)
        (due, zoned), rest = found
        every = None
    due_utc = to_utc(due, zone)
    if due_utc <= now:
        raise WhenError(PASSED)
    return When(due_utc, "", every, zoned), rest


def later(amount: int, unit: str, *, zone: str = "UTC", now: dt.datetime | None = None) -> dt.datetime:
    """`amount` days, weeks or months from now, at 09:00 local time (naive UTC)."""
    now = now or dt.datetime.now(UTC).replace(tzinfo=None)
    local = _add(to_local(now, zone), amount, unit)
    return to_utc(dt.datetime.combine(local.date(), DAY_TIME), zone)


def tomorrow_same_time(at: dt.datetime, zone: str, now: dt.datetime | None = None) -> dt.datetime:
    """Tomorrow (the owner's tomorrow) at the local time of day of `at` (naive UTC in, naive UTC
    out): what "Snooze till tomorrow" under a reminder that came at `at` means."""
    now = now or dt.datetime.now(UTC).replace(tzinfo=None)
    day = to_local(now, zone).date() + dt.timedelta(days=1)
    return to_utc(dt.datetime.combine(day, to_local(at, zone).time()), zone)


def next_due(due: dt.datetime, every: str, zone: str, now: dt.datetime) -> dt.datetime:
    """A repeating reminder's next time after `now` (naive UTC), keeping its local time of day
    across daylight saving changes; times missed while the bot was down are skipped, not sent."""
    amount, unit = every.split()
    local = to_local(due, zone)
    for _ in range(100_000):
        local = _add(local, int(amount), unit.rstrip("s"))
        if to_utc(local, zone) > now:
            break
    return to_utc(local, zone)


def _every(match: re.Match, local_now: dt.datetime) -> tuple[dt.datetime, str, bool]:
    unit = (match["unit"] or ADVERBS.get((match["adverb"] or "").lower(), "")).lower()
    amount = 2 if (match["n"] or "").lower() == "other" else int(match["n"] or 1)
    at = _clock(match)
    if not amount or (unit == "hour" and at):
        raise WhenError(USAGE)
    if unit in WEEKDAYS:
        days = (WEEKDAYS.index(unit) - local_now.weekday()) % 7
        due = dt.datetime.combine(local_now.date() + dt.timedelta(days=days), at or DAY_TIME)
        if due <= local_now:
            due += dt.timedelta(weeks=1)
        return due, f"{amount} week" + ("s" if amount > 1 else ""), True
    if unit == "quarter":
        unit, amount = "month", 3 * amount
    every = f"{amount} {unit}" + ("s" if amount > 1 else "")
    if unit == "hour":
        return _add(local_now, amount, unit), every, False
    if unit == "day" and at:
        due = dt.datetime.combine(local_now.date(), at)
        return (due if due > local_now else _add(due, amount, unit)), every, True
    return dt.datetime.combine(_add(local_now, amount, unit).date(), at or DAY_TIME), every, True


def _clock(match: re.Match) -> dt.time | None:
    if match["hour"] is None:
        return None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if match["ampm"]:
        hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        raise WhenError(USAGE)
    return dt.time(hour, minute)


def _phrase_at_edge(words: list[str], local_now: dt.datetime, language: str):
    """The longest time phrase at the start of `words`, else at their end, and the other words."""
    most = min(len(words), MAX_PHRASE_WORDS)
    for n in range(most, 0, -1):
        if (found := _read(" ".join(words[:n]), local_now, language)) is not None:
            return found, " ".join(words[n:])
    for n in range(most, 0, -1):
        if (found := _read(" ".join(words[-n:]), local_now, language)) is not None:
            return found, " ".join(words[:-n])
    return None


def _read(phrase: str, base: dt.datetime, language: str) -> tuple[dt.datetime, bool] | None:
    """(local time, whether it depends on the zone) that `phrase` means, or None."""
    if not re.search(r"[^\W\d_]", phrase) and ":" not in phrase:
        return None  # a bare number is not a time
    parsed = _dateparse(phrase, base, language)
    if parsed is None:
        return None
    when, period = parsed
    again = _dateparse(phrase, base + SHIFT, language)
    relative = again is not None and again[0] == when + SHIFT
    if period == "time":
        return when, not relative
    if period in ("month", "year") and not relative:
        return None  # "may", "a": a month guessed from a word, not a time the owner gave
    return dt.datetime.combine(when.date(), DAY_TIME), True


def _dateparse(phrase: str, base: dt.datetime, language: str) -> tuple[dt.datetime, str] | None:
    from dateparser.date import DateDataParser  # here, not at import time: see the module docstring

    languages = list(dict.fromkeys([language, "en"]))
    settings = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "RETURN_TIME_AS_PERIOD": True}
    data = DateDataParser(languages=languages, settings=settings).get_date_data(phrase)
    if data.date_obj is None:
        return None
    return data.date_obj.replace(tzinfo=None), data.period


def _add(when: dt.datetime, amount: int, unit: str) -> dt.datetime:
    from dateutil.relativedelta import relativedelta  # dateparser's own dependency

    return when + relativedelta(**{unit.rstrip("s") + "s": amount})


def to_local(utc: dt.datetime, zone: str) -> dt.datetime:
    """Naive UTC → naive local time in `zone`."""
    return utc.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def to_utc(local: dt.datetime, zone: str) -> dt.datetime:
    """Naive local time in `zone` → naive UTC."""
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)


@cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def find_zone(typed: str) -> str | None:
    """The IANA time zone an owner means: a name (Europe/Berlin, europe/berlin, Berlin, New York)
    or a whole-hour UTC offset (+3, UTC-5, GMT+5:00); None when there is no such zone."""
    typed = typed.strip()
    offset = re.fullmatch(r"(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?00)?", typed, re.IGNORECASE)
    if offset:
        hours = int(offset[2])
        name = "UTC" if hours == 0 else f"Etc/GMT{'-' if offset[1] == '+' else '+'}{hours}"  # POSIX signs
        return name if name.lower() in _zones() else None
    key = "_".join(typed.split()).lower()
    if key in ("utc", "gmt", "z"):
        return "UTC"
    if key in _zones():
        return valid_zone(_zones()[key])
    cities = [name for lower, name in _zones().items() if lower.rsplit("/", 1)[-1] == key and "/" in lower]
    return valid_zone(cities[0]) if len(cities) == 1 else None


def valid_zone(name: str | None) -> str | None:
    """`name` if zoneinfo knows it, else None."""
    try:
        return name if name and ZoneInfo(name) else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def time_text(due: dt.datetime, zone: str, language: str = "en", now: dt.datetime | None = None) -> str:
    """A due time as the owner reads it, in their zone and language: "Tue 24 Mar, 09:00"."""
    from babel.dates import format_datetime

    local = to_local(due, zone)
    this_year = to_local(now or dt.datetime.now(UTC).replace(tzinfo=None), zone).year
    pattern = "EEE d MMM, HH:mm" if local.year == this_year else "EEE d MMM y, HH:mm"
    try:
        return format_datetime(local, pattern, locale=language)
    except ValueError:
        return format_datetime(local, pattern, locale="en")


def interval_text(every: str, language: str = "en") -> str:
    """A repeating reminder's interval in the owner's language: "1 week", "3 months"."""
    from babel.dates import format_timedelta

    amount, unit = every.split()
    days = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30.44, "year": 365.25}[unit.rstrip("s")]
    try:
        return format_timedelta(dt.timedelta(days=int(amount) * days), locale=language)
    except ValueError:
        return every
