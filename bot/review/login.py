"""One-time login links to the browser review, for `/review` in Telegram.

The bot signs a token (HMAC-SHA256) naming the admin, a random nonce and when it expires; the
review server (`datasette_plugins/telegram_login.py`) checks the signature and the time, then
spends the nonce in a small SQLite file of its own, so a link logs in once. Both read the key
from DATA_DIR/review/login.key (created, owner-only, by whichever needs it first): the bot and
`python -m bot review` share DATA_DIR as they share the transcript database.

It knows nothing of Telegram or of Datasette: `make_token` for the one, `redeem` for the other.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

LINK_MINUTES = 10
KEY_FILE = "login.key"
SPENT_FILE = "logins.db"  # nonces of links already used, written by the review server only
LOGIN_PATH = "/-/telegram-login"


def login_folder(data_dir: Path) -> Path:
    """Where the key and the spent links live: beside the review's metadata."""
    return data_dir / "review"


def login_key(folder: Path) -> bytes:
    """The shared signing key, created on first use (owner-only), never overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KEY_FILE
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    for _attempt in range(50):  # another process may be writing it this instant
        key = path.read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty")


def make_token(folder: Path, admin: int, minutes: float = LINK_MINUTES, now: float | None = None) -> str:
    """A token that logs `admin` (a Telegram user id) in once, within `minutes`."""
    claims = {"a": admin, "e": int((now or time.time()) + minutes * 60), "n": secrets.token_urlsafe(12)}
    body = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_signature(folder, body)}"


def login_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{LOGIN_PATH}?token={token}"


@dataclass
class Redeemed:
    admin: int | None  # who logged in; None when refused
    problem: str = ""  # why it was refused: invalid, expired, used


def redeem(folder: Path, token: str, now: float | None = None) -> Redeemed:
    """Check a token and spend it: the admin it names, or why it cannot log anyone in."""
    body, _dot, signature = token.partition(".")
    if not body or not hmac.compare_digest(signature, _signature(folder, body)):
        return Redeemed(None, "invalid")
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        admin, expires, nonce = int(claims["a"]), int(claims["e"]), str(claims["n"])
    except (ValueError, KeyError, TypeError):
        return Redeemed(None, "invalid")
    if (now or time.time()) > expires:
        return Redeemed(None, "expired")
    with contextlib.closing(sqlite3.connect(folder / SPENT_FILE, timeout=10)) as connection, connection:
        connection.execute("create table if not exists spent (nonce text primary key, admin integer, at real)")
        connection.execute("delete from spent where at < ?", (time.time() - 86_400,))  # long expired anyway
        try:
            connection.execute("insert into spent values (?, ?, ?)", (nonce, admin, time.time()))
        except sqlite3.IntegrityError:
            return Redeemed(None, "used")
    return Redeemed(admin)


def _signature(folder: Path, body: str) -> str:
    return hmac.new(login_key(folder), body.encode(), hashlib.sha256).hexdigest()
