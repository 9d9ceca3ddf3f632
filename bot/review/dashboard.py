"""The review dashboard (`/-/dashboard`): how the advisor did, day by day, and what it could not answer.

Each chart is a Vega-Lite spec with its data inline, built here from a few aggregate
queries over the read-only transcript database (any object with an async `execute`); the
page draws them in the browser with the Vega builds bundled in `static/vendor/`, as SVG.
Knowledge-gap themes need the embedding model, which the Datasette process does not
load: `python -m bot review` computes them before it starts (`gap_store`), and they are
read here from that small database. A chart with nothing to draw says so instead.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DAYS = 30  # the dashboard's window, also the gap themes'
ANSWERED = "('offline', 'llm')"  # the advisor's own answers: what coverage and latency are about
ASKED = "('offline', 'llm', 'handover')"  # owners' questions (not small talk, not a consultant's reply)
COLORS = {"offline": "#4c78a8", "llm": "#72b7b2", "handover": "#f58518"}
MODE_NAMES = {"offline": "answered offline", "llm": "answered by the LLM", "handover": "passed to a consultant"}


@dataclass
class Chart:
    """One chart: its element id, title, explanation, and spec (None: `empty` is shown instead)."""

    id: str
    title: str
    about: str
    spec: dict | None
    empty: str = "Not enough data yet: nothing was recorded in these days."


async def dashboard_charts(
    db, gaps: dict, *, days: int, turns_link: Callable[[list[int]], str], zone: str = "UTC"
) -> list[Chart]:
    """Every chart of the dashboard, for the last `days` days, by day in `zone`."""
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).strftime("%Y-%m-%d")
    shift = zone_shift(zone)
    rows = {name: await _rows(db, sql, since, shift) for name, sql in QUERIES.items()}
    x = day_axis([r["day"] for found in rows.values() for r in found], days, zone)
    return [
        Chart(
            "chart-questions",
            "Questions per day",
            "Owners' questions, by who answered them.",
            questions_spec(rows["questions"], x),
        ),
        Chart(
            "chart-feedback",
            "Feedback per day",
            "Share of 👍 and 👎 among rated answers, by the answer's day.",
            feedback_spec(rows["feedback"], x),
        ),
        Chart(
            "chart-not-covered",
            "Not covered per day",
            "Share of the advisor's answers where the knowledge base had nothing relevant.",
            rate_spec(rows["not_covered"], x),
        ),
        Chart(
            "chart-latency",
            "Median latency per day",
            "Time to the full answer, the advisor's answers only.",
            latency_spec(rows["latency"], x),
        ),
        gap_chart(gaps, turns_link),
    ]


def zone_shift(zone: str) -> str:
    """SQLite's date modifier from stored UTC to `zone` as it is now ('+60 minutes'), so a day is
    the admin's day."""
    offset = dt.datetime.now(ZoneInfo(zone)).utcoffset() or dt.timedelta()
    return f"{int(offset.total_seconds() // 60):+d} minutes"


def day_axis(days_with_data: list[str], window: int, zone: str) -> dict:
    """The x axis of the per-day charts: one band per day, labelled 'Dec 07', from the first day
    with data to today, and at least the last week (so one day of data is one bar among seven
    days, not one bar filling the chart), never more than the window."""
    today = dt.datetime.now(ZoneInfo(zone)).date()
    first = min([dt.date.fromisoformat(d) for d in days_with_data] + [today - dt.timedelta(days=MIN_DAYS - 1)])
    first = max(first, today - dt.timedelta(days=window - 1))
    domain = [(first + dt.timedelta(days=n)).isoformat() for n in range((today - first).days + 1)]
    return {
        "field": "day",
        "type": "ordinal",
        "title": None,
        "scale": {"domain": domain, "paddingInner": 0.25, "paddingOuter": 0.15},
        "axis": {"labelExpr": "utcFormat(toDate(datum.value), '%b %d')", "labelAngle": 0, "labelOverlap": True},
    }


async def totals(db, days: int) -> list[tuple[str, str]]:
    """The headline figures of the window, for the tiles above the charts."""
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).strftime("%Y-%m-%d")
    row = (await db.execute(TOTALS, {"since": since})).first()
    rated = (row["up"] or 0) + (row["down"] or 0)
    figures = [
        ("questions", f"{row['questions'] or 0:,}"),
        ("owners", f"{row['owners'] or 0:,}"),
        ("rated 👍", f"{(row['up'] or 0) / rated:.0%}" if rated else "–"),
        ("not covered", f"{row['not_covered'] or 0:.0%}" if row["answered"] else "–"),
    ]
    if await db.table_exists("handovers"):
        open_now = (await db.execute(OPEN_HANDOVERS)).first()[0]
        figures.append(("hand-overs open", f"{open_now:,}"))
    return figures


async def _rows(db, sql: str, since: str, shift: str = "+0 minutes") -> list[dict]:
    return [dict(row) for row in (await db.execute(sql, {"since": since, "shift": shift})).rows]


QUERIES = {
    "questions": f"""
select date(created_at, :shift) as day, mode, count(*) as questions from turns
where created_at >= :since and mode in {ASKED} group by day, mode order by day""",
    "feedback": """
select date(t.created_at, :shift) as day, f.rating, count(*) as ratings from feedback f join turns t on t.id = f.turn_id
where t.created_at >= :since group by day, f.rating order by day""",
    "not_covered": f"""
select date(created_at, :shift) as day, avg(covered = 0) as rate, sum(covered = 0) as not_covered, count(*) as answers
from turns where created_at >= :since and mode in {ANSWERED} and not cancelled group by day order by day""",
    "latency": f"""
with ranked as (
  select date(created_at, :shift) as day, latency_ms,
         row_number() over (partition by date(created_at, :shift) order by latency_ms) as position,
         count(*) over (partition by date(created_at, :shift)) as answers
  from turns where created_at >= :since and mode in {ANSWERED} and not cancelled and latency_ms is not null)
select day, avg(latency_ms) as median_ms, max(answers) as answers from ranked
where position in ((answers + 1) / 2, (answers + 2) / 2) group by day order by day""",
}

# the ratings of the period's turns by their ids: joined, SQLite read every rating's turn row (~4 KB)
TOTALS = f"""
with period as (select id from turns where created_at >= :since)
select (select count(*) from turns where created_at >= :since and mode in {ASKED}) as questions,
       (select count(distinct user_id) from turns where created_at >= :since and mode in {ASKED}) as owners,
       (select count(*) from feedback where rating = 'up' and turn_id in period) as up,
       (select count(*) from feedback where rating = 'down' and turn_id in period) as down,
       (select avg(covered = 0) from turns where created_at >= :since and mode in {ANSWERED}) as not_covered,
       (select count(*) from turns where created_at >= :since and mode in {ANSWERED}) as answered"""

OPEN_HANDOVERS = "select count(*) from handovers where status = 'open' and expires_at > datetime('now')"

MIN_DAYS = 7  # the per-day charts show at least a week
LEGEND = {"orient": "bottom", "title": None}
MAX_THEMES = 15  # bars in the gap chart


async def load_gaps(db) -> dict:
    """The themes `python -m bot review` stored before Datasette started (`gap_store`), with
    its note when there are none (no index yet, no gaps); `db` None: they were not stored."""
    if db is None or not await db.table_exists("report"):
        return {"themes": [], "note": "Knowledge gaps were not computed: start with `python -m bot review`."}
    report = (await db.execute("select * from report")).first()
    themes = await db.execute("select * from themes order by rank limit :n", {"n": MAX_THEMES})
    return {
        "themes": [dict(row) for row in themes.rows],
        "note": report["note"] if report else None,
        "computed_at": report["computed_at"] if report else None,
        "since": report["since"] if report else None,
    }


def _base(values: list[dict], height: int = 180) -> dict:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "width": "container",
        "height": height,
        "config": {"view": {"stroke": None}, "axis": {"grid": True, "gridOpacity": 0.4}},
    }


def questions_spec(rows: list[dict], x: dict) -> dict | None:
    if not rows:
        return None
    values = [{**r, "who": MODE_NAMES.get(r["mode"], r["mode"])} for r in rows]
    scale = {"domain": list(MODE_NAMES.values()), "range": [COLORS[m] for m in MODE_NAMES]}
    return {
        **_base(values),
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": x,
            "y": {
                "field": "questions",
                "type": "quantitative",
                "aggregate": "sum",
                "title": "questions",
                "axis": count_axis(_daily_top(rows, "questions")),
            },
            "color": {"field": "who", "type": "nominal", "scale": scale, "legend": LEGEND},
        },
    }


def feedback_spec(rows: list[dict], x: dict) -> dict | None:
    if not rows:
        return None
    names = {"up": "👍 helpful", "down": "👎 not helpful"}
    values = [{**r, "rating": names.get(r["rating"], r["rating"])} for r in rows]
    scale = {"domain": list(names.values()), "range": ["#54a24b", "#e45756"]}
    return {
        **_base(values),
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": x,
            "y": {
                "field": "ratings",
                "type": "quantitative",
                "aggregate": "sum",
                "stack": "normalize",
                "title": "share of ratings",
                "axis": {"format": "%"},
            },
            "color": {"field": "rating", "type": "nominal", "scale": scale, "legend": LEGEND},
            "order": {"field": "rating", "sort": "descending"},
        },
    }


def rate_spec(rows: list[dict], x: dict) -> dict | None:
    if not rows:
        return None
    return {
        **_base(rows),
        "mark": {"type": "bar", "color": "#e45756", "tooltip": True},
        "encoding": {
            "x": x,
            "y": {
                "field": "rate",
                "type": "quantitative",
                "title": "not covered",
                "axis": {"format": "%"},
                "scale": {"domain": [0, 1]},
            },
        },
    }


def latency_spec(rows: list[dict], x: dict) -> dict | None:
    if not rows:
        return None
    return {
        **_base(rows),
        "mark": {"type": "bar", "color": "#4c78a8", "tooltip": True},
        "encoding": {
            "x": x,
            "y": {"field": "median_ms", "type": "quantitative", "title": "median latency (ms)"},
        },
    }


def gap_chart(gaps: dict, turns_link: Callable[[list[int]], str]) -> Chart:
    """The biggest knowledge-gap themes as bars; each bar links to its questions."""
    about = "Not-covered, weak or 👎 questions grouped by meaning: what to write next. Click a bar for its questions."
    themes = gaps.get("themes") or []
    if not themes:
        note = gaps.get("note") or "No knowledge-gap themes were computed."
        return Chart("chart-gaps", "Knowledge gaps", about, None, empty=note)
    values = [
        {
            "theme": _short(t["theme"]),
            "asked": t["asked"],
            "closest": t["closest_file"] or "none",
            "link": turns_link(json.loads(t["turn_ids"])),
        }
        for t in themes
    ]
    most = max(v["asked"] for v in values)
    spec = {
        **_base(values, height=max(60, 24 * len(values))),
        "mark": {"type": "bar", "color": "#f58518", "cursor": "pointer"},
        "encoding": {
            "y": {"field": "theme", "type": "nominal", "sort": "-x", "title": None, "axis": {"labelLimit": 420}},
            "x": {"field": "asked", "type": "quantitative", "title": "questions", "axis": count_axis(most)},
            "href": {"field": "link", "type": "nominal"},
            "tooltip": [
                {"field": "theme", "title": "theme"},
                {"field": "asked", "title": "questions"},
                {"field": "closest", "title": "closest file"},
            ],
        },
    }
    return Chart("chart-gaps", "Knowledge gaps", about, spec)


def count_axis(top: int) -> dict:
    """An axis of counts with whole-number ticks only (no 0.5 questions): each number up to a
    small maximum, else Vega's own ticks, which are whole from there on."""
    return {"values": list(range(top + 1)), "format": "d"} if top <= 10 else {"format": "d"}


def _daily_top(rows: list[dict], field: str) -> int:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["day"]] = totals.get(row["day"], 0) + row[field]
    return max(totals.values(), default=0)


def _short(text: str, limit: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
