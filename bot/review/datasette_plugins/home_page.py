"""A Datasette plugin of `python -m bot review`: Datasette's own `_internal` database (its
catalogue of schemas) is no reviewer's business, so nobody may view it and the home page lists
only the transcripts and the knowledge gaps. (The bot's bookkeeping tables are hidden by the
metadata `bot.review.datasette` writes.)
"""

from __future__ import annotations

from datasette import hookimpl


@hookimpl
def permission_allowed(actor, action, resource):
    if action == "view-database" and resource == "_internal":
        return False
    return None
