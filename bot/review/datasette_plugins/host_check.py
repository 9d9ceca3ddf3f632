"""A Datasette plugin of `python -m bot review`: requests must name the host it listens on.

A page on the web that an admin visits could point a host name of its own at 127.0.0.1 (DNS
rebinding) and read the transcripts through the admin's browser; such requests carry the
attacker's host name in their Host header, and are refused here. The allowed hosts come in
SME_REVIEW_HOSTS (comma-separated host:port pairs; `*` when bound to every address).
"""

from __future__ import annotations

import os

from datasette import hookimpl
from datasette.utils.asgi import Response


@hookimpl
def asgi_wrapper(datasette):
    allowed = {h.strip().lower() for h in os.environ.get("SME_REVIEW_HOSTS", "").split(",") if h.strip()}
    if not allowed or "*" in allowed:
        return lambda app: app

    def wrap(app):
        async def check_host(scope, receive, send):
            if scope["type"] == "http":
                host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").lower()
                if host not in allowed:
                    return await Response.text("400 Bad Request: unexpected Host header", status=400).asgi_send(send)
            return await app(scope, receive, send)

        return check_host

    return wrap
