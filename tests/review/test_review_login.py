"""The one-time login links `/review` sends (`bot.review.login`), checked by the real review
server (`python -m bot review`, Datasette) over HTTP: a link logs in once, a second use or an
expired or forged link gets a page saying how to get a new one; with REVIEW_PASSWORD the
password still works and nothing else gets in."""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.request

import pytest

from bot.review.login import login_folder, login_link, make_token, redeem
from tests.review.test_review import get_json, seed, start_review, wait_for


def browser():
    """A client that keeps its cookies, as a browser does."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def refused(link: str) -> str:
    """The page a refused link gets (403)."""
    with pytest.raises(urllib.error.HTTPError) as error:
        browser().open(link, timeout=5)
    assert error.value.code == 403
    return error.value.read().decode()


def test_a_token_is_spent_once_and_expires(tmp_path):
    folder = login_folder(tmp_path)
    token = make_token(folder, 42)
    assert redeem(folder, token).admin == 42
    assert redeem(folder, token).problem == "used"
    assert redeem(folder, make_token(folder, 42, now=1_000)).problem == "expired"
    body, signature = token.split(".")
    assert redeem(folder, f"{body}x.{signature}").problem == "invalid"
    assert redeem(folder, "").problem == "invalid"
    assert (folder / "login.key").stat().st_mode & 0o077 == 0  # the key is the owner's alone


@pytest.mark.parametrize("password", [None, "s3cret"])
async def test_a_login_link_logs_in_once_then_says_how_to_get_a_new_one(tmp_path, password):
    await seed(tmp_path, [("tg:1", "How do I use invoice finance?", {})])
    args, env = (("--host", "0.0.0.0"), {"REVIEW_PASSWORD": password}) if password else ((), {})
    proc, port = start_review(tmp_path, *args, "--no-gaps", env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/-/versions.json", proc)
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            get_json(f"{base}/transcripts/turns.json")
        assert anonymous.value.code == (401 if password else 403)
        link = login_link(base, make_token(login_folder(tmp_path), 1))

        admin = browser()
        with admin.open(link, timeout=5) as home:  # logged in, and on the home page
            assert home.url.rstrip("/") == base and "SME Advisor transcripts" in home.read().decode()
        rows = get_json(f"{base}/transcripts/turns.json?_shape=array", opener=admin)
        assert [row["question"] for row in rows] == ["How do I use invoice finance?"]

        page = refused(link)  # the second use
        assert "already used" in page and "/review" in page
        assert "expired" in refused(login_link(base, make_token(login_folder(tmp_path), 1, now=1_000)))
        assert "not valid" in refused(f"{base}/-/telegram-login?token=forged.0000")
        if password:
            assert len(get_json(f"{base}/transcripts/turns.json?_shape=array", auth="admin:s3cret")) == 1
    finally:
        proc.terminate()
        proc.wait(10)
