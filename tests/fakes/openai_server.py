"""A fake OpenAI-compatible chat completions server on 127.0.0.1, for tests and benchmarks.

It runs in its own thread (so it also serves a subprocess under test), records
every request, and answers each one by a rule the test sets: a reply text
(streamed or not, after a delay), an HTTP error, or a hang. A streamed request's
body also records `_pieces_sent`, and `_disconnected_at` when the client closed
the stream before its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from .loopback import LoopbackServer


@dataclass
class Reply:
    text: str
    delay: float = 0.0
    piece: int = 6  # characters per streamed chunk
    piece_delay: float = 0.0
    finish: str = "stop"  # finish_reason of the last chunk: "length" when the model hit max_tokens
    cut_after: int | None = None  # streamed: close the connection after this many pieces, with no end


@dataclass
class Error:
    status: int
    message: str = "fake error"
    retry_after: float | None = None


@dataclass
class Hang:
    seconds: float = 3600.0


Rule = Reply | Error | Hang
_SERVERS = itertools.count(1)  # each server's own path (`FakeOpenAI.base_url`)
Responder = Callable[[dict], Rule]


class FakeOpenAI(LoopbackServer):
    """Start with `with FakeOpenAI() as server:`; point LLM_BASE_URL at `server.base_url`."""

    thread_name = "fake-openai"

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder: Responder = responder or (lambda body: Reply("Use invoice finance [1]."))
        self.requests: list[dict] = []
        self.name = f"server-{next(_SERVERS)}"

    @property
    def base_url(self) -> str:
        """Unique to this server, not only to its port: langchain_openai keeps one async HTTP client
        per base URL for the whole process, and a later test whose server got a freed port again
        was given the client of an event loop already closed ("Event loop is closed")."""
        return f"http://127.0.0.1:{self.port}/{self.name}/v1"

    def answer_requests(self) -> list[dict]:
        """Requests that asked for an answer (streamed), not follow-up rewrites."""
        return [r for r in self.requests if r.get("stream")]

    # ------------------------------------------------------------------ lifecycle

    def make_app(self) -> web.Application:
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_post(f"/{self.name}/v1/chat/completions", self._completions)
        return app

    async def before_close(self) -> None:
        self._closing.set()  # end hanging requests

    # ------------------------------------------------------------------ handler

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        body["_received_at"] = time.monotonic()
        self.requests.append(body)
        rule = self.responder(body)
        if isinstance(rule, Hang):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), rule.seconds)
            return web.Response(status=504)
        if isinstance(rule, Error):
            headers = {"retry-after": str(rule.retry_after)} if rule.retry_after is not None else {}
            payload = {"error": {"message": rule.message, "type": "fake_error", "code": rule.status}}
            return web.json_response(payload, status=rule.status, headers=headers)
        await asyncio.sleep(rule.delay)
        if body.get("stream"):
            response = await self._stream(request, body, rule)
        else:
            response = web.json_response(_completion(body, rule.text, rule.finish))
        body["_finished_at"] = time.monotonic()
        return response

    async def _stream(self, request: web.Request, body: dict, rule: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        pieces = [rule.text[i : i + rule.piece] for i in range(0, len(rule.text), rule.piece)] or [""]
        body["_pieces_sent"] = 0  # how many pieces of the text reached the client
        for number, piece in enumerate(pieces):
            if rule.cut_after is not None and number >= rule.cut_after:
                await response.write_eof()  # the stream just stops: no finish_reason, no [DONE]
                return response
            delta = {"role": "assistant", "content": piece} if number == 0 else {"content": piece}
            try:
                await _event(response, _chunk(body, delta))
            except ConnectionResetError:  # the client closed the stream before its end (e.g. /cancel)
                body["_disconnected_at"] = time.monotonic()
                raise
            body["_pieces_sent"] = number + 1
            if rule.piece_delay:
                await asyncio.sleep(rule.piece_delay)
        await _event(response, _chunk(body, {}, finish=rule.finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = _chunk(body, None)
            usage["choices"] = []
            usage["usage"] = _usage(body, rule.text)
            await _event(response, usage)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


async def _event(response: web.StreamResponse, payload: dict) -> None:
    await response.write(f"data: {json.dumps(payload)}\n\n".encode())


def _chunk(body: dict, delta: dict | None, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }


def _completion(body: dict, text: str, finish: str = "stop") -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": _usage(body, text),
    }


def _usage(body: dict, text: str) -> dict:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def last_user_message(body: dict) -> str:
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")


def system_message(body: dict) -> str:
    return next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
