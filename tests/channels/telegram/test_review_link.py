"""/review in Telegram against the real review server: how to start it while it is not running,
then a one-time login link that logs the admin in once (`tests/review/test_review_login.py`
checks the link's every refusal)."""

from __future__ import annotations

import asyncio
import html
import re
import subprocess
import sys
import urllib.error

import pytest

from tests.fakes.telegram_server import _visible_text
from tests.helpers import ROOT, free_port
from tests.helpers.telegram import ADMIN, OWNER, asked
from tests.review.test_review import env_of, get_json, wait_for
from tests.review.test_review_login import browser, refused

GROUP = -1001


async def test_review_says_how_to_start_it_then_sends_a_one_time_link(start_bot, telegram, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    await start_bot(review_url=base, admin_chat_id=GROUP)
    [down] = await asked(telegram, ADMIN, "/review")
    assert f"The browser review at {base} is not running" in down and "python -m bot review" in _visible_text(down)
    assert await asked(telegram, OWNER, "/review") == ["Not permitted."]

    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "review", "--port", str(port), "--no-gaps"],
        cwd=ROOT,
        env={**__import__("os").environ, **env_of(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await asyncio.to_thread(wait_for, f"{base}/-/versions.json", proc)
        [reply] = await asked(telegram, ADMIN, "/review")
        assert "logs you in once, within 10 minutes" in _visible_text(reply)
        link = html.unescape(re.search(r'href="([^"]+)"', reply).group(1))
        assert link.startswith(f"{base}/-/telegram-login?token=")

        admin = browser()
        await asyncio.to_thread(admin.open, link, timeout=5)
        rows = await asyncio.to_thread(get_json, f"{base}/transcripts/turns.json?_shape=array", opener=admin)
        assert isinstance(rows, list)  # read, where anyone not logged in gets 403
        page = await asyncio.to_thread(refused, link)
        assert "already used" in page and "/review" in page
        with pytest.raises(urllib.error.HTTPError):  # nobody else is let in by it
            await asyncio.to_thread(get_json, f"{base}/transcripts/turns.json", opener=browser())

        # asked in the consultants' group, the link goes to the admin privately
        before = len(telegram.texts(ADMIN))
        [note] = await asked(telegram, ADMIN, "/review", chat_id=GROUP, chat_type="supergroup")
        assert note == "I sent you the login link in our private chat."
        await telegram.wait_for(lambda: len(telegram.texts(ADMIN)) > before, what="the private link")
        assert "/-/telegram-login?token=" in telegram.texts(ADMIN)[-1]
        assert all("telegram-login" not in text for text in telegram.texts(GROUP))
    finally:
        proc.terminate()
        proc.wait(10)
