"""`python -m bot review`: Datasette over the transcript database, read-only, in a browser.

Datasette opens the database read-only (`mode=ro`) and runs only SELECTs; full-text
search on questions and answers comes from the `turns_fts` table the migrations
create. Canned queries cover what admins ask most. Bound to anything but
loopback, every request needs the review password (HTTP basic auth through
datasette-auth-passwords, user `admin`).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

CANNED_QUERIES = {
    "latest_conversations": {
        "title": "Latest conversations",
        "description": "The most recent conversations with their number of turns and last question.",
        "sql": """
select c.id as conversation, c.chat_id, c.started_at, count(t.id) as turns,
       max(t.created_at) as last_turn_at,
       (select question from turns where conversation_id = c.id order by id desc limit 1) as last_question
from conversations c join turns t on t.conversation_id = c.id
group by c.id order by last_turn_at desc limit 100
""",
    },
    "thumbs_down": {
        "title": "Thumbs-down answers",
        "description": "Answers owners rated 👎, with their comment and the sources the answer cited.",
        "sql": """
select t.id as turn, t.created_at, t.user_id, t.question, t.answer, f.comment, t.mode, t.best_score,
       (select group_concat(json_extract(s.value, '$.path') || ' (' || json_extract(s.value, '$.score') || ')', '; ')
        from json_each(t.sources) s) as sources
from feedback f join turns t on t.id = f.turn_id
where f.rating = 'down' order by f.created_at desc
""",
    },
    "knowledge_gaps": {
        "title": "Knowledge gaps",
        "description": "Questions that got the not-covered answer, a weak match, or a thumbs-down.",
        "sql": """
select t.id as turn, t.created_at, t.question, t.best_score, t.covered,
       (select group_concat(rating, ',') from feedback where turn_id = t.id) as feedback
from turns t
where t.covered = 0 or t.best_score < {weak_below:.3f}
   or exists (select 1 from feedback f where f.turn_id = t.id and f.rating = 'down')
order by t.created_at desc
""",
    },
    "thumbs_down_recent": {
        "title": "👎 with comments, last 7 days",
        "description": "What owners said was wrong or missing this week: each 👎 that came with a comment.",
        "sql": """
select t.id as turn, t.conversation_id as conversation, f.created_at as rated_at, t.user_id as owner,
       t.question, f.comment, t.answer, t.mode, t.best_score
from feedback f join turns t on t.id = f.turn_id
where f.rating = 'down' and trim(coalesce(f.comment, '')) != '' and f.created_at >= datetime('now', '-7 days')
order by f.created_at desc
""",
    },
    "not_covered_recent": {
        "title": "Not covered, last 7 days",
        "description": "Questions this week the knowledge base had nothing relevant for (the not-covered answer).",
        "sql": """
select t.id as turn, t.conversation_id as conversation, t.created_at, t.user_id as owner,
       t.question, t.standalone_question, t.best_score, t.mode
from turns t
where t.covered = 0 and not t.cancelled and t.created_at >= datetime('now', '-7 days')
order by t.created_at desc
""",
    },
    "handovers_open": {
        "title": "Handovers open",
        "description": "Owners waiting for a consultant: open hand-overs that have not expired, oldest first.",
        "sql": """
select h.id as handover, h.created_at as asked_at, h.expires_at, h.user_id as owner,
       u.display_name as name, u.username, h.request, h.language,
       h.conversation_id as conversation, h.turn_id as turn
from handovers h left join users u on u.id = h.user_id
where h.status = 'open' and h.expires_at > datetime('now')
order by h.created_at
""",
    },
    "slowest_answers": {
        "title": "Slowest answers",
        "description": "The advisor's 100 slowest answers of the last 30 days, with the model and its token counts.",
        "sql": """
select t.id as turn, t.conversation_id as conversation, t.created_at, round(t.latency_ms) as latency_ms,
       t.mode, t.model, t.input_tokens, t.output_tokens, t.question, t.error
from turns t
where t.latency_ms is not null and t.mode in ('offline', 'llm') and t.created_at >= datetime('now', '-30 days')
order by t.latency_ms desc limit 100
""",
    },
    "user_history": {
        "title": "One owner's history",
        "description": "Every turn of one owner, oldest first (user ids look like tg:12345 or local:name).",
        "sql": """
select t.id as turn, t.created_at, t.conversation_id, t.question, t.answer, t.mode,
       (select group_concat(rating, ',') from feedback where turn_id = t.id) as feedback
from turns t where t.user_id = :user order by t.id
""",
    },
    "file_coverage": {
        "title": "Citations per knowledge file",
        "description": "Knowledge files cited in the last 30 days: by how many answers, and how many of those "
        "were rated 👍 and 👎. (`python -m bot coverage` adds the files nothing cites or retrieves.)",
        "sql": """
select c.path, count(distinct c.turn_id) as citations,
       count(distinct case when f.rating = 'up' then c.turn_id end) as thumbs_up,
       count(distinct case when f.rating = 'down' then c.turn_id end) as thumbs_down
from (select distinct t.id as turn_id, json_extract(s.value, '$.path') as path
      from turns t, json_each(t.sources) s
      where t.created_at >= datetime('now', '-30 days')) c
left join feedback f on f.turn_id = c.turn_id
group by c.path order by citations desc, c.path
""",
    },
}


class ReviewError(Exception):
    """The review server cannot start as asked; the message says why."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metadata(
    database_name: str,
    weak_below: float,
    protected: bool,
    gaps_name: str | None = None,
    *,
    time_zone: str = "UTC",
    knowledge_dir: Path | None = None,
) -> dict:
    """Datasette's metadata: the canned queries (their SQL folded away, `hide_sql`), full-text
    search on turns, the bot's own bookkeeping tables hidden, and who may look: only the admin
    (password) or the root user (the one-time login URL), never anonymous. `gaps_name`: the
    database of knowledge-gap themes (`gap_store`) the dashboard reads; `time_zone`: the zone
    times are shown in; `knowledge_dir`: where the consultant entries page reads its files."""
    queries = {name: {**query, "sql": query["sql"].strip(), "hide_sql": True} for name, query in CANNED_QUERIES.items()}
    gaps = queries["knowledge_gaps"]
    gaps["sql"] = gaps["sql"].format(weak_below=weak_below)  # the gap report's threshold
    meta: dict = {
        "title": "SME Advisor transcripts",
        "allow": {"id": ["admin", "root"]},
        "description": "Read-only review of owners' questions, answers, sources and feedback.",
        "description_html": "Read-only review of owners' questions, answers, sources and feedback. "
        f'See the <a href="{DASHBOARD}">dashboard</a> and the <a href="{CONSULTANT_ENTRIES}">consultant '
        "entries</a>, or open a conversation from any 💬 link.",
        "databases": {
            database_name: {
                "queries": queries,
                "tables": {
                    "turns": {"fts_table": "turns_fts", "fts_pk": "id", "sort_desc": "created_at"},
                    "users": {"label_column": "display_name"},
                    **{name: {"hidden": True} for name in BOOKKEEPING_TABLES},
                },
            }
        },
        "plugins": {
            "sme-review": {
                "transcripts": database_name,
                "gaps": gaps_name,
                "assets": f"/{ASSETS}",
                "time_zone": time_zone,
                "knowledge_dir": str(knowledge_dir) if knowledge_dir else None,
            }
        },
    }
    if gaps_name:
        meta["databases"][gaps_name] = GAPS_METADATA
    if protected:
        meta["plugins"]["datasette-auth-passwords"] = {
            "admin_password_hash": {"$env": "SME_REVIEW_PASSWORD_HASH"},
            "http_basic_auth": False,  # asked by `telegram_login`, which also lets a login link's session in
        }
    return meta


DASHBOARD = "/-/dashboard"
CONSULTANT_ENTRIES = "/-/consultant-entries"
# the bot's own bookkeeping, of no use to a reviewer: listed only under "hidden tables"
BOOKKEEPING_TABLES = (
    "alembic_version",
    "questions_asked",
    "pending_updates",
    "comment_prompts",
    "conversation_steps",
    "bot_state",
    "handover_messages",
)
ASSETS = "review-assets"  # where `static/` is served: the chart libraries, the dashboard's script, the CSS
GAPS_METADATA = {
    "title": "Knowledge gaps",
    "description": "Knowledge-gap themes of the last 30 days, grouped as `python -m bot gaps` groups them, "
    "computed when the review started.",
    "tables": {"themes": {"sort": "rank"}, "report": {"hidden": True}},
}


def check_request(database: Path, host: str, password: str | None) -> None:
    """Raise ReviewError when the server may not start as asked (before any slow preparation)."""
    if not database.exists():
        raise ReviewError(f"no transcript database at {database} yet; it is created when the advisor first answers")
    if not password and not is_loopback(host):
        raise ReviewError(
            f"refusing to serve transcripts on {host} without a password: set REVIEW_PASSWORD (or bind to 127.0.0.1)"
        )


def prepare(
    database: Path,
    data_dir: Path,
    host: str,
    port: int,
    password: str | None,
    weak_below: float,
    *,
    time_zone: str = "UTC",
    knowledge_dir: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Check the request and write Datasette's metadata; returns (command, extra environment).

    Nobody reads transcripts anonymously: with REVIEW_PASSWORD every request needs it (user
    `admin`, HTTP basic auth); without one (loopback only) Datasette prints a one-time login
    URL with a random token, the way Jupyter does. Either way `/review` in Telegram sends an admin
    a one-time login link (`bot.review.login`, `datasette_plugins/telegram_login.py`). Requests
    must name the address the server listens on in their Host header (`datasette_plugins/host_check.py`)."""
    check_request(database, host, password)
    protected = bool(password)
    folder = data_dir / "review"
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / "metadata.json"
    gaps = folder / GAPS_FILE  # written just before by `gap_store.refresh_gaps`, if at all
    gaps_name = gaps.stem if gaps.exists() else None
    meta = metadata(database.stem, weak_below, protected, gaps_name, time_zone=time_zone, knowledge_dir=knowledge_dir)
    meta_path.write_text(json.dumps(meta, indent=2))
    env = {"SME_REVIEW_HOSTS": ",".join(allowed_hosts(host, port)), "SME_REVIEW_LOGIN_DIR": str(folder)}
    if protected:
        from datasette_auth_passwords.utils import hash_password

        env["SME_REVIEW_PASSWORD_HASH"] = hash_password(password)
    command = [sys.executable, "-m", "datasette", "serve", str(database), *([str(gaps)] if gaps_name else [])]
    command += ["--metadata", str(meta_path), "--host", host, "--port", str(port)]
    command += ["--setting", "sql_time_limit_ms", "5000", "--plugins-dir", str(PLUGINS)]
    command += ["--template-dir", str(HERE / "templates"), "--static", f"{ASSETS}:{HERE / 'static'}"]
    if not protected:
        command.append("--root")  # prints the one-time login URL
    return command, env


HERE = Path(__file__).parent
PLUGINS = HERE / "datasette_plugins"
GAPS_FILE = "knowledge_gaps.db"  # in DATA_DIR/review/, beside the metadata


def allowed_hosts(host: str, port: int) -> list[str]:
    """The Host headers a browser sends to this server: the bound name or address (and, on
    loopback, its other names); any when bound to every address, where the password guards."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    names = {host}
    if is_loopback(host):
        names |= {"localhost", "127.0.0.1", "[::1]"}
    if ":" in host and not host.startswith("["):
        names = {f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names}
    return sorted({f"{name}:{port}" for name in names} | ({*names} if port == 80 else set()))
