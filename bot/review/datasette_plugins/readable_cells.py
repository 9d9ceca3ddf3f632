"""A Datasette plugin of `python -m bot review`: cells that read well (`bot.review.cells`).

Answers as Markdown, sources as a list, 👍/👎 for ratings, long text folded, and conversation
and turn numbers linking to the conversation view, in the tables and the canned queries of
the review's own databases (others, such as Datasette's internal ones, are left alone).
"""

from __future__ import annotations

from datasette import hookimpl

from bot.review.cells import readable_cell

PLUGIN = "sme-review"


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    settings = datasette.plugin_config(PLUGIN) or {}
    transcripts = settings.get("transcripts", "transcripts")
    if database not in (transcripts, settings.get("gaps")):
        return None
    return readable_cell(column, value, row, table, path=datasette.urls.path, transcripts=transcripts)
