"""A Datasette plugin of `python -m bot review`: the one-time login link `/review` sends in Telegram.

`/-/telegram-login?token=…` checks the token (`bot.review.login.redeem`: signature, expiry, not
used before), then logs the admin in for `SESSION_HOURS` with Datasette's own signed `ds_actor`
cookie and goes to the home page. A used, expired or forged link gets a page saying how to get
a new one. Where the key and the spent links are comes in SME_REVIEW_LOGIN_DIR (set by
`bot.review.datasette.prepare`).

With REVIEW_PASSWORD, every other request needs the password (HTTP basic auth, user `admin`)
or the session a link started: the check datasette-auth-passwords' `http_basic_auth` makes,
which knows no sessions, is made here instead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from datasette import hookimpl
from datasette.utils import baseconv
from datasette.utils.asgi import Request, Response
from datasette_auth_passwords.utils import scope_has_valid_authorization
from itsdangerous import BadSignature

from bot.review.login import LOGIN_PATH, redeem

SESSION_HOURS = 12
REFUSED = {
    "used": "This login link was already used: each link logs in once.",
    "expired": "This login link has expired: links are valid for 10 minutes.",
    "invalid": "This login link is not valid (cut short, or from another review server).",
}


@hookimpl
def register_routes():
    return [(f"^{LOGIN_PATH}$", telegram_login)]


async def telegram_login(request, datasette):
    folder = os.environ.get("SME_REVIEW_LOGIN_DIR")
    token = request.args.get("token") or ""
    redeemed = redeem(Path(folder), token) if folder and token else None
    if redeemed is None or redeemed.admin is None:
        problem = REFUSED[redeemed.problem if redeemed else "invalid"]
        context = {"problem": problem, "review_page": "login"}
        html = await datasette.render_template("review_login_refused.html", context, request=request)
        return Response.html(html, status=403)
    actor = {"id": "admin", "telegram_id": redeemed.admin}
    expires = baseconv.base62.encode(int(time.time() + SESSION_HOURS * 3600))
    response = Response.redirect(datasette.urls.instance())
    response.set_cookie("ds_actor", datasette.sign({"a": actor, "e": expires}, "actor"), httponly=True, samesite="lax")
    return response


@hookimpl
def asgi_wrapper(datasette):
    if not datasette.plugin_config("datasette-auth-passwords"):
        return lambda app: app  # no password: Datasette's `allow` block and the root login guard

    def wrap(app):
        async def password_or_session(scope, receive, send):
            if scope["type"] == "http" and scope.get("path") != LOGIN_PATH and not _signed_in(scope, datasette):
                challenge = {"www-authenticate": 'Basic realm="Datasette", charset="UTF-8"'}
                return await Response.text("401 Authorization Required", headers=challenge, status=401).asgi_send(send)
            return await app(scope, receive, send)

        return password_or_session

    return wrap


def _signed_in(scope, datasette) -> bool:
    """The password in the Authorization header, or a session cookie that has not run out."""
    if scope_has_valid_authorization(scope, datasette) is not None:
        return True
    cookie = Request(scope, None).cookies.get("ds_actor")
    if not cookie:
        return False
    try:
        session = datasette.unsign(cookie, "actor")
    except BadSignature:
        return False
    expires = session.get("e") if isinstance(session, dict) else None
    return bool(session.get("a")) and (not expires or time.time() <= int(baseconv.base62.decode(expires)))
