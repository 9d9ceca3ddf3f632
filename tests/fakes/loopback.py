"""What both fake servers share: an aiohttp app on 127.0.0.1, on a free port, served by
an event loop in a thread of its own, so synchronous and async tests alike can use it
as a context manager (`with FakeX() as server:`)."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class LoopbackServer:
    """Subclasses build their routes in `make_app` and end their own waits in `before_close`."""

    thread_name = "fake-server"
    port = 0

    def make_app(self) -> web.Application:
        raise NotImplementedError

    async def before_close(self) -> None:
        """Release requests still waiting (long polls, hanging answers) so cleanup is quick."""

    def __enter__(self):
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{self.thread_name} server did not start")
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _close(self) -> None:
        await self.before_close()
        await self._runner.cleanup()

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.make_app(), handle_signals=False, shutdown_timeout=1)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()
