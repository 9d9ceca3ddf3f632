"""A Datasette plugin of `python -m bot review`: cells that read well (`bot.review.cells`).

Answers as Markdown, sources as a list, 👍/👎 for ratings, long text folded, conversation
and turn numbers linking to the conversation view, owners by name with their id small beside
it, and times to the minute in the review's time zone (`bot.review.people`), in the tables
and the canned queries of the review's own databases (others are left alone).
"""

from __future__ import annotations

import time

from datasette import hookimpl

from bot.review.cells import readable_cell
from bot.review.people import OWNER_COLUMNS, is_time_column, owner_html, owner_names, time_html

PLUGIN = "sme-review"
NAMES_FOR = 5.0  # seconds a page's owner names are reused, so a table of 100 rows asks once
_names: dict[int, tuple[float, dict[str, str]]] = {}


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    settings = datasette.plugin_config(PLUGIN) or {}
    transcripts = settings.get("transcripts", "transcripts")
    if database not in (transcripts, settings.get("gaps")):
        return None
    if isinstance(value, dict):  # a foreign key Datasette expanded with its label
        value = value.get("value")
    if column in OWNER_COLUMNS or (table == "users" and column == "id"):

        async def owner():
            return owner_html(value, await _owner_names(datasette, transcripts))

        return owner() if isinstance(value, str) else None
    if is_time_column(column) and (shown := time_html(value, settings.get("time_zone") or "UTC")) is not None:
        return shown
    return readable_cell(column, value, row, table, path=datasette.urls.path, transcripts=transcripts)


async def _owner_names(datasette, transcripts: str) -> dict[str, str]:
    cached = _names.get(id(datasette))
    if cached and time.monotonic() - cached[0] < NAMES_FOR:
        return cached[1]
    names = await owner_names(datasette.get_database(transcripts))
    _names[id(datasette)] = (time.monotonic(), names)
    return names


@hookimpl
def extra_template_vars(datasette):
    """`review_time_zone` for the footer, which names the zone every time on the page is in."""
    return {"review_time_zone": (datasette.plugin_config(PLUGIN) or {}).get("time_zone") or "UTC"}
