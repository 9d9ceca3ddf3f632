"""One conversation as the owner lived it, for the review browser's chat view (`/-/conversation/<id>`).

It reads the transcript database through Datasette's read-only connection (any object with
an async `execute(sql, params)` returning rows) and shapes each turn for the template: the
question, the answer rendered, its sources and figures, the owner's 👍/👎 and comment, and
who answered when a consultant did. Rendering the page is the template's business.
"""

from __future__ import annotations

import json

from bot.review.people import local_minute, owner_label
from bot.review.render import RATINGS, markdown_html, parse_sources, section_of

RATING_WORDS = {"up": "helpful", "down": "not helpful"}
MODES = {
    "offline": "offline answer",
    "llm": "LLM answer",
    "smalltalk": "small talk",
    "human": "consultant",
    "handover": "passed to a consultant",
}


async def load_conversation(db, conversation_id: int, zone: str = "UTC") -> dict | None:
    """The conversation, its owner, its turns (shaped), and its hand-overs, times in `zone`; None
    if there is none."""
    found = await db.execute(
        "select c.*, u.username, u.display_name from conversations c"
        " left join users u on u.id = c.started_by where c.id = ?",
        [conversation_id],
    )
    conversation = found.first()
    if conversation is None:
        return None
    turns = (await db.execute("select * from turns where conversation_id = ? order by id", [conversation_id])).rows
    people = await db.execute(
        "select id, display_name, username from users"
        " where id in (select user_id from turns where conversation_id = ?)",
        [conversation_id],
    )
    names = {row["id"]: owner_label(row["display_name"], row["username"]) or row["id"] for row in people.rows}
    feedback = await db.execute(
        "select f.turn_id, f.rating, f.comment, f.user_id from feedback f join turns t on t.id = f.turn_id"
        " where t.conversation_id = ? order by f.id",
        [conversation_id],
    )
    ratings: dict[int, list[dict]] = {}
    for row in feedback.rows:
        ratings.setdefault(row["turn_id"], []).append(
            {
                "emoji": RATINGS.get(row["rating"], row["rating"]),
                "label": RATING_WORDS.get(row["rating"], row["rating"]),
                "rating": row["rating"],
                "comment": row["comment"],
            }
        )
    return {
        "conversation": dict(conversation),
        "owner": owner_name(conversation),
        "owner_ids": owner_ids(conversation),
        "started": when(conversation["started_at"], zone),
        "closed": when(conversation["closed_at"], zone),
        "turns": [
            {**shape_turn(dict(turn), ratings.get(turn["id"], []), zone), "asker": names.get(turn["user_id"], "Owner")}
            for turn in turns
        ],
        "handovers": await _handovers(db, conversation_id, zone),
        "neighbours": await _neighbours(db, conversation),
    }


def owner_name(row) -> str:
    """The owner as the team calls them: their name, else @username, else their id."""
    return owner_label(row["display_name"], row["username"]) or row["started_by"] or "unknown owner"


def owner_ids(row) -> str:
    """What is shown small beside the name: '@username · tg:123', as much as is known and not the name."""
    handle = f"@{row['username']}" if row["username"] and row["display_name"] else None
    return " · ".join(filter(None, [handle, row["started_by"] if owner_name(row) != row["started_by"] else None]))


def shape_turn(turn: dict, feedback: list[dict], zone: str = "UTC") -> dict:
    """A turn as the template shows it."""
    number = turn["id"]
    sources = parse_sources(turn.get("sources")) or []
    cited = {s.get("number", i) for i, s in enumerate(sources, start=1)}

    def cite(n: int) -> str | None:
        return f"#turn-{number}-source-{n}" if n in cited else None

    understood = turn.get("standalone_question")
    consultant = turn.get("mode") == "human"  # its question is the request it answers, shown above already
    return {
        "id": number,
        "when": when(turn.get("created_at"), zone),
        "question": "" if consultant else turn.get("question") or "",
        "in_reply_to": turn.get("question") if consultant else None,
        "understood": understood if understood and understood.strip() != (turn.get("question") or "").strip() else None,
        "answer": markdown_html(turn.get("answer"), cite),
        "mode": turn.get("mode") or "",
        "mode_label": MODES.get(turn.get("mode"), turn.get("mode") or "?"),
        "answered_by": turn.get("answered_by"),
        "model": turn.get("model"),
        "sources": [_source(number, i, s) for i, s in enumerate(sources, start=1)],
        "figures": figures(turn),
        "flags": flags(turn),
        "error": turn.get("error"),
        "feedback": feedback,
        "follow_ups": _list(turn.get("follow_ups")),
    }


def when(value, zone: str = "UTC") -> str:
    """A stored timestamp (naive UTC, '2026-12-01 14:03:22.123456') to the minute in `zone` (the
    page names the zone once, in its footer)."""
    return (local_minute(value, zone) or str(value)[:16]) if value else ""


def figures(turn: dict) -> list[tuple[str, str]]:
    """The measured facts worth a glance: best retrieval score, latency, tokens."""
    shown = []
    if turn.get("best_score") is not None and turn.get("mode") in ("offline", "llm"):
        shown.append(("best score", f"{turn['best_score']:.2f}"))
    if turn.get("latency_ms"):
        shown.append(("latency", f"{turn['latency_ms']:,.0f} ms"))
    if turn.get("input_tokens") or turn.get("output_tokens"):
        shown.append(("tokens in/out", f"{turn.get('input_tokens') or 0:,} / {turn.get('output_tokens') or 0:,}"))
    return shown


def flags(turn: dict) -> list[str]:
    """What went differently from a plain answer, in words."""
    found = []
    if not turn.get("covered", True) and turn.get("mode") in ("offline", "llm"):
        found.append("not covered")
    for column, label in (("truncated", "cut short"), ("cancelled", "cancelled by the owner")):
        if turn.get(column):
            found.append(label)
    if turn.get("delivered") == 0:
        found.append("not delivered")
    if turn.get("flagged_gap"):
        found.append("flagged as a knowledge gap")
    if turn.get("error"):
        found.append("LLM failed: answered offline")
    return found


def _source(turn_id: int, position: int, source: dict) -> dict:
    number = source.get("number", position)
    score = source.get("score")
    return {
        "anchor": f"turn-{turn_id}-source-{number}",
        "number": number,
        "title": source.get("title") or source.get("path") or "?",
        "section": section_of(source),
        "path": source.get("path") or "",
        "score": f"{score:.2f}" if isinstance(score, int | float) else "",
    }


def _list(value) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [str(v) for v in value] if isinstance(value, list) else []


async def _handovers(db, conversation_id: int, zone: str) -> list[dict]:
    if not await db.table_exists("handovers"):
        return []
    rows = await db.execute("select * from handovers where conversation_id = ? order by id", [conversation_id])
    return [
        {**dict(row), "when": when(row["created_at"], zone), "until": when(row["expires_at"], zone)}
        for row in rows.rows
    ]


async def _neighbours(db, conversation) -> dict:
    """The chat's previous and next conversations, to page through an owner's history."""
    rows = await db.execute(
        "select (select max(id) from conversations where chat_id = :chat and id < :id) as previous,"
        " (select min(id) from conversations where chat_id = :chat and id > :id) as next",
        {"chat": conversation["chat_id"], "id": conversation["id"]},
    )
    return dict(rows.first())
