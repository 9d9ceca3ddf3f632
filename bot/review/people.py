"""Owners and times as the team reads them in the review browser: "Ana Lima" with a small grey
`tg:6003` beside it instead of a bare id, and "2026-12-07 14:05" in the admin's time zone
instead of a naive UTC timestamp to the microsecond.

The transcript database stores every time as naive UTC (`bot.storage.models.utcnow`); the zone
to show them in is chosen once when the review starts (`review_zone`). A chat id
`tg-chat:<n>` of a private chat is the owner `tg:<n>`, so it reads as that owner's name too.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from markupsafe import Markup

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
OWNER_COLUMNS = ("user_id", "owner", "started_by", "chat_id")  # and the users table's own `id`


async def review_zone(configured: str | None, admin_ids: list[int], stored_zone) -> str:
    """The zone times are shown in: REVIEW_TIME_ZONE, else the first admin's stored time zone
    (`stored_zone(user_id)` is the storage's lookup), else UTC."""
    if configured:
        return configured
    for admin in admin_ids:
        zone = await stored_zone(f"tg:{admin}")
        if zone:
            return zone
    return "UTC"


def local_minute(value, zone: str) -> str | None:
    """A stored naive-UTC timestamp as 'YYYY-MM-DD HH:MM' in `zone`; None if `value` is not one."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and TIMESTAMP.match(value.strip()):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def is_time_column(column: str) -> bool:
    """Columns holding a stored time: `created_at`, `expires_at`, `last_turn_at`… and `users`' seen times."""
    return column.endswith("_at") or column in ("first_seen", "last_seen")


def time_html(value, zone: str) -> Markup | None:
    """A timestamp cell: the local minute, the stored UTC value on hover."""
    shown = local_minute(value, zone)
    if shown is None:
        return None
    return Markup('<time class="local" datetime="{}" title="{} UTC">{}</time>').format(
        _iso(value), str(value)[:19], shown
    )


def owner_of(value) -> str | None:
    """The owner id a cell names: `tg:<n>`, `local:<name>`, or a private chat `tg-chat:<n>` (positive
    n); None for anything else (a group chat, a number, text)."""
    if not isinstance(value, str):
        return None
    if value.startswith("tg-chat:"):
        number = value.removeprefix("tg-chat:")
        return f"tg:{number}" if number.isdigit() else None
    if re.fullmatch(r"tg:-?\d+|local:\S+", value):
        return value
    return None


def owner_html(value: str, names: dict[str, str]) -> Markup | None:
    """The owner's name with the stored id small and grey beside it; None when the name is unknown."""
    owner = owner_of(value)
    name = names.get(owner) if owner else None
    if not name:
        return None
    return Markup('<span class="owner"><span class="name">{}</span> <small class="owner-id">{}</small></span>').format(
        name, value
    )


def owner_label(display_name: str | None, username: str | None) -> str | None:
    """How an owner is called: their name, else their @username."""
    return display_name or (f"@{username}" if username else None)


async def owner_names(db) -> dict[str, str]:
    """Every known owner's name by id, from the read-only transcript database's `users`."""
    rows = await db.execute("select id, display_name, username from users")
    return {row["id"]: label for row in rows.rows if (label := owner_label(row["display_name"], row["username"]))}


def _iso(value) -> str:
    text = value.isoformat() if isinstance(value, dt.datetime) else str(value).strip().replace(" ", "T")
    return text[:19] + "Z"
