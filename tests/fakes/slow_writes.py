"""A proxy on 127.0.0.1 in front of a real Chroma server that acknowledges writes late.

Every request is passed on at once; the answer to a write (add, upsert, update,
delete) is held back for `delay` seconds, as a slow link from a consultant's
laptop would. A write is applied on the server before its answer is held, so the
moment between two writes of one client, milliseconds on loopback, lasts at least
`delay` for everyone else reading the server: long enough for a test to see what
readers see then, every time rather than by luck.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from .loopback import LoopbackServer

WRITES = ("/add", "/upsert", "/update", "/delete")
NOT_PASSED_ON = {"host", "content-length", "transfer-encoding", "connection"}


class SlowWrites(LoopbackServer):
    """`with SlowWrites(server_url) as proxy:`, then point CHROMA_URL at `proxy.url`."""

    thread_name = "slow-writes"

    def __init__(self, target: str, delay: float = 0.5) -> None:
        self.target = target.rstrip("/")
        self.delay = delay

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._pass_on)
        return app

    async def _pass_on(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_PASSED_ON}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.target + request.path_qs, headers=headers, data=await request.read()
            ) as answer,
        ):
            body, status = await answer.read(), answer.status
            content_type = answer.headers.get("Content-Type", "application/json")
        if request.method == "POST" and request.path.endswith(WRITES):
            await asyncio.sleep(self.delay)
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})
