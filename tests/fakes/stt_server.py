"""A fake OpenAI-compatible speech-to-text server (`POST /v1/audio/transcriptions`) on 127.0.0.1.

It records every upload (the model, the file's name, type and bytes, the Authorization header)
and answers each by a rule the test sets: a transcript (after a delay), an HTTP error, or a
hang. `wav_only=True` refuses anything but WAV the way whisper.cpp's server does without
--convert, so the client's conversion can be tested.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from .loopback import LoopbackServer
from .openai_server import Error, Hang


@dataclass
class Text:
    text: str
    delay: float = 0.0


@dataclass
class Page:
    """A 200 that is no transcript: what a proxy or a login wall in front of the service serves."""

    body: str
    content_type: str = "text/html"


@dataclass
class Upload:
    model: str
    filename: str
    content_type: str
    content: bytes
    authorization: str | None
    fields: dict


Rule = Text | Error | Hang | Page
Responder = Callable[[Upload], Rule]


class FakeSpeech(LoopbackServer):
    """Start with `with FakeSpeech() as server:`; point STT_BASE_URL at `server.base_url`."""

    thread_name = "fake-stt"

    def __init__(self, responder: Responder | None = None, wav_only: bool = False) -> None:
        self.responder: Responder = responder or (lambda upload: Text("How can I get credit without collateral?"))
        self.wav_only = wav_only
        self.uploads: list[Upload] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def make_app(self) -> web.Application:
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        return app

    async def before_close(self) -> None:
        self._closing.set()  # end hanging requests

    async def _transcribe(self, request: web.Request) -> web.Response:
        form = await request.post()
        file = form.get("file")
        if not hasattr(file, "file"):
            return _error(400, "'file' is required (multipart/form-data)")
        fields = {key: value for key, value in form.items() if key != "file"}
        upload = Upload(
            model=str(form.get("model", "")),
            filename=file.filename,
            content_type=file.content_type,
            content=file.file.read(),
            authorization=request.headers.get("Authorization"),
            fields=fields,
        )
        self.uploads.append(upload)
        if not upload.model:
            return _error(400, "you must provide a model parameter")
        if self.wav_only and not upload.content.startswith(b"RIFF"):
            return _error(400, "Unsupported file format: expected a WAV file")
        rule = self.responder(upload)
        if isinstance(rule, Hang):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), rule.seconds)
            return web.Response(status=504)
        if isinstance(rule, Error):
            return _error(rule.status, rule.message)
        if isinstance(rule, Page):
            return web.Response(text=rule.body, content_type=rule.content_type)
        await asyncio.sleep(rule.delay)
        return web.json_response({"text": rule.text})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error"}}, status=status)
