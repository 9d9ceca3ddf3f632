"""A Datasette plugin of `python -m bot review`: the pages beside the tables.

- `/-/conversation/<id>`: one conversation as a chat (`bot.review.conversation`)
- `/-/turn/<id>`: redirects to that turn in its conversation (what a `turn` cell links to)
- `/-/dashboard`: charts of questions, feedback, coverage, latency and knowledge gaps
  (`bot.review.dashboard`)
- `/-/consultant-entries`: the knowledge files consultants published, and the owners'
  questions each answered since (`bot.review.consultant_entries`)

They show transcripts, so they ask for what the tables ask for: the instance's `allow`
block lets in only the admin (password) or root (one-time login link); anyone else gets
403. Which databases to read comes from the metadata `review` writes (plugin `sme-review`).
"""

from __future__ import annotations

import json
from pathlib import Path

from datasette import hookimpl
from datasette.utils.asgi import Forbidden, NotFound, Response

from bot.review.cells import turns_link
from bot.review.consultant_entries import read_entries, with_answers
from bot.review.conversation import load_conversation
from bot.review.dashboard import DAYS, dashboard_charts, load_gaps, totals
from bot.review.people import local_minute, owner_names

PLUGIN = "sme-review"


@hookimpl
def register_routes():
    return [
        (r"^/-/conversation/(?P<id>\d+)$", conversation_page),
        (r"^/-/turn/(?P<id>\d+)$", turn_redirect),
        (r"^/-/dashboard$", dashboard_page),
        (r"^/-/consultant-entries$", consultant_entries_page),
    ]


@hookimpl
def menu_links(datasette, actor):
    if actor:
        return [
            {"href": datasette.urls.path("/-/dashboard"), "label": "Dashboard"},
            {"href": datasette.urls.path("/-/consultant-entries"), "label": "Consultant entries"},
        ]
    return None


@hookimpl
def extra_css_urls(datasette):
    return [datasette.urls.path(f"{config(datasette)['assets']}/review.css")]


def config(datasette) -> dict:
    """Which databases to read and where the assets are (written by `bot.review.datasette`)."""
    defaults = {
        "transcripts": "transcripts",
        "gaps": None,
        "assets": "/review-assets",
        "time_zone": "UTC",
        "knowledge_dir": None,
    }
    return {**defaults, **(datasette.plugin_config(PLUGIN) or {})}


async def allowed(datasette, request) -> dict:
    """The plugin's settings, once the visitor may read the transcripts (403 otherwise)."""
    settings = config(datasette)
    actor = request.actor
    if not await datasette.permission_allowed(actor, "view-instance", default=False):
        raise Forbidden("Log in to review transcripts")
    if not await datasette.permission_allowed(actor, "view-database", settings["transcripts"], default=True):
        raise Forbidden("You may not read the transcripts")
    return settings


async def conversation_page(request, datasette):
    settings = await allowed(datasette, request)
    name = settings["transcripts"]
    conversation_id = int(request.url_vars["id"])
    found = await load_conversation(datasette.get_database(name), conversation_id, settings["time_zone"])
    if found is None:
        raise NotFound(f"No conversation {conversation_id}")
    context = {**found, "database": name, "assets": datasette.urls.path(settings["assets"])}
    html = await datasette.render_template("review_conversation.html", context, request=request)
    return Response.html(html)


async def turn_redirect(request, datasette):
    settings = await allowed(datasette, request)
    turn_id = int(request.url_vars["id"])
    rows = await datasette.get_database(settings["transcripts"]).execute(
        "select conversation_id from turns where id = ?", [turn_id]
    )
    row = rows.first()
    if row is None:
        raise NotFound(f"No turn {turn_id}")
    return Response.redirect(datasette.urls.path(f"/-/conversation/{row[0]}#turn-{turn_id}"))


async def dashboard_page(request, datasette):
    settings = await allowed(datasette, request)
    name = settings["transcripts"]
    days = _days(request.args.get("days"))
    db = datasette.get_database(name)
    gaps = await load_gaps(datasette.databases.get(settings["gaps"]) if settings["gaps"] else None)

    def link(turn_ids: list[int]) -> str:
        return turns_link(turn_ids, datasette.urls.path, name)

    for theme in gaps["themes"]:
        theme["link"] = link(_ids(theme["turn_ids"]))
    context = {
        "database": name,
        "days": days,
        "periods": (7, 30, 90),
        "totals": await totals(db, days),
        "charts": await dashboard_charts(db, gaps, days=days, turns_link=link, zone=settings["time_zone"]),
        "computed_at": local_minute(gaps.get("computed_at"), settings["time_zone"]) or gaps.get("computed_at"),
        "gaps": gaps,
        "assets": datasette.urls.path(settings["assets"]),
    }
    html = await datasette.render_template("review_dashboard.html", context, request=request)
    return Response.html(html)


async def consultant_entries_page(request, datasette):
    settings = await allowed(datasette, request)
    name = settings["transcripts"]
    db = datasette.get_database(name)
    folder = Path(settings["knowledge_dir"]) if settings["knowledge_dir"] else None
    entries = await with_answers(db, read_entries(folder)) if folder else []
    names = await owner_names(db)
    for entry in entries:
        for turn in entry.answered:
            turn["when"] = local_minute(turn["created_at"], settings["time_zone"]) or turn["created_at"]
            turn["name"] = names.get(turn["owner"])
    context = {"database": name, "entries": entries, "knowledge_dir": folder}
    html = await datasette.render_template("review_consultant_entries.html", context, request=request)
    return Response.html(html)


def _days(value: str | None) -> int:
    try:
        return min(max(int(value), 1), 3650) if value else DAYS
    except ValueError:
        return DAYS


def _ids(value: str) -> list[int]:
    return [int(i) for i in json.loads(value)]
