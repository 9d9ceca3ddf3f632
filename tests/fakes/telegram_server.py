"""A fake Telegram Bot API server on 127.0.0.1, for tests and benchmarks.

It implements the methods the bot uses, validates what the bot sends the way
Telegram does (message length, HTML entities), records every call, lets a test
push updates (served through long polling) and inject faults (HTTP errors,
429 with retry_after). It runs in its own thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import html.parser
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

from .loopback import LoopbackServer

TOKEN = "123456:TEST-token_for-the-fake-server"
BOT = {
    "id": 999000,
    "is_bot": True,
    "first_name": "SME Advisor",
    "username": "sme_advisor_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "blockquote",
    "tg-spoiler",
    "span",
}


@dataclass
class Call:
    method: str
    params: dict
    at: float
    ok: bool = True
    result: object = None  # what the server answered, e.g. the sent message with its id
    via: str = ""  # the address's prefix the bot used (`base_url_for`): which bot process called


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class FakeTelegram(LoopbackServer):
    thread_name = "fake-telegram"
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    chats: dict[int, str] = field(default_factory=dict)  # chat id -> type
    listeners: list = field(default_factory=list)  # called (in the server's thread) with each answered Call
    delays: dict[str, float] = field(default_factory=dict)  # method -> seconds Telegram takes to answer it

    def __post_init__(self) -> None:
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._lock = threading.Lock()
        self.port = 0
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content), for getFile
        self._file_ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """PTB's base_url form: the token is appended to it."""
        return f"http://127.0.0.1:{self.port}/bot"

    def base_url_for(self, via: str) -> str:
        """The API at an address of its own: the calls made through it have `via` set, so a test
        running several bot processes can tell which one called."""
        return f"http://127.0.0.1:{self.port}/{via}/bot"

    # ------------------------------------------------------------------ lifecycle

    def make_app(self) -> web.Application:
        self._new_update = asyncio.Condition()
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        app.router.add_post("/{via}/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        return app

    async def before_close(self) -> None:
        """End long polls still waiting for updates."""
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    # ------------------------------------------------------------------ what tests do

    def fail(self, method: str, status: int, description: str, retry_after: int | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` fail with this HTTP status."""
        with self._lock:
            self.faults.setdefault(method, []).extend([Fault(status, description, retry_after)] * times)

    def slow(self, method: str, seconds: float) -> None:
        """Every call of `method` is answered `seconds` after it arrives (0: at once). It is in
        `calls` when it arrives, in `calls_of` (and `texts`) only once answered: a message counts
        as sent once Telegram accepted it. A bot process killed meanwhile has still sent it
        (Telegram had the whole request)."""
        self.delays[method] = seconds

    def message(self, user_id: int, text: str | None = None, *, wait: bool = True, **fields) -> int:
        """Push a message from a user (fields as for `message_update`); returns its update id.
        `wait=False` returns before the server has queued it (for load generators)."""
        return self._push(self.message_update(user_id, text, **fields), wait)

    def message_update(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        reply_to: dict | None = None,
        extra: dict | None = None,
        language_code: str | None = None,
    ) -> dict:
        """An update with a message from a user, numbered but not queued: what Telegram would
        POST to a webhook."""
        chat_id = chat_id if chat_id is not None else user_id
        self.chats[chat_id] = chat_type
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, **({"title": "Group"} if chat_type != "private" else {})},
            "from": {"id": user_id, "is_bot": False, "first_name": f"Owner{user_id}", "username": f"owner{user_id}"},
        }
        if language_code:
            message["from"]["language_code"] = language_code
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(extra or {})
        return {"update_id": next(self._update_ids), "message": message}

    def add_file(self, content: bytes, name: str = "file", file_size: int | None = None) -> dict:
        """Hold `content` as Telegram holds what users send; the fields a message gives for it
        (`file_size` may claim another size, to test limits without big files)."""
        number = next(self._file_ids)
        file_id = f"file{number}"
        with self._lock:
            self.files[file_id] = (f"files/{number}/{name}", content)
        size = len(content) if file_size is None else file_size
        return {"file_id": file_id, "file_unique_id": f"unique{number}", "file_size": size}

    def voice(self, user_id: int, content: bytes, *, duration: int = 2, file_size: int | None = None, **fields) -> int:
        """Push a voice note (OGG/Opus `content`) from a user (other fields as for `message_update`)."""
        voice = {**self.add_file(content, "voice.oga", file_size), "duration": duration, "mime_type": "audio/ogg"}
        return self.message(user_id, extra={**fields.pop("extra", {}), "voice": voice}, **fields)

    def photo(
        self, user_id: int, caption: str | None = None, *, sizes: list[tuple[bytes, int, int]] | None = None, **fields
    ) -> int:
        """Push a photo from a user, with a caption when given. `sizes`: the sizes Telegram
        offers, each (content, width, height), smallest first; by default one 90×90 size whose
        bytes are no image."""
        offered = sizes or [(b"\xff\xd8\xff\xe0 fake jpeg", 90, 90)]
        sizes = [{**self.add_file(data, "photo.jpg"), "width": w, "height": h} for data, w, h in offered]
        extra = {**fields.pop("extra", {}), "photo": sizes, **({"caption": caption} if caption else {})}
        return self.message(user_id, extra=extra, **fields)

    def edited_message(self, user_id: int, text: str) -> int:
        self.chats[user_id] = "private"
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "edit_date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Owner"},
            "text": text,
        }
        return self._push({"edited_message": message})

    def press(self, user_id: int, data: str, message: dict) -> int:
        """Push a button press on a message the bot sent."""
        query = {
            "id": str(next(self._message_ids)),
            "from": {"id": user_id, "is_bot": False, "first_name": f"Owner{user_id}", "username": f"owner{user_id}"},
            "chat_instance": "1",
            "data": data,
            "message": message,
        }
        return self._push({"callback_query": query})

    def raw_update(self, payload: dict) -> int:
        """Push an update exactly as given, one Telegram would never send included; its id."""
        return self._push(payload)

    def _push(self, payload: dict, wait: bool = True) -> int:
        update_id = payload.get("update_id") or next(self._update_ids)

        async def add() -> None:
            async with self._new_update:
                self._updates.append({**payload, "update_id": update_id})
                self._new_update.notify_all()

        future = asyncio.run_coroutine_threadsafe(add(), self._loop)
        if wait:
            future.result(5)
        return update_id

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        with self._lock:
            found = [c for c in self.calls if c.method == method and c.ok]
        return [c for c in found if chat_id is None or int(c.params.get("chat_id", 0)) == chat_id]

    def texts(self, chat_id: int) -> list[str]:
        return [c.params["text"] for c in self.calls_of("sendMessage", chat_id)]

    async def wait_for(self, condition, timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; calls: {[c.method for c in self.calls][-30:]}")

    # ------------------------------------------------------------------ the Bot API

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        delay = self.delays.get(method, 0)
        call = Call(method, params, time.monotonic(), ok=not delay, via=request.match_info.get("via", ""))
        with self._lock:
            self.calls.append(call)
        answering = self._answer(call, request.match_info["token"], delay)
        # a slow call is answered even if the bot process is gone meanwhile: Telegram had the whole request
        return await (asyncio.shield(answering) if delay else answering)

    async def _answer(self, call: Call, token: str, delay: float) -> web.Response:
        method, params = call.method, call.params
        if delay:  # Telegram takes a while: in `calls` since it arrived, in `calls_of` once answered
            await asyncio.sleep(delay)
            call.ok, call.at = True, time.monotonic()
        with self._lock:
            fault = self.faults.get(method, []).pop(0) if self.faults.get(method) else None
        if token != self.token:
            call.ok = False
            return _error(401, "Unauthorized")
        if fault is not None:
            call.ok = False
            return _error(fault.status, fault.description, fault.retry_after)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            call.ok = False
            return _error(404, "Not Found")
        try:
            call.result = await handler(params)
        except _BadRequest as exc:
            call.ok = False
            return _error(400, f"Bad Request: {exc}")
        for listener in self.listeners:
            listener(call)
        return web.json_response({"ok": True, "result": call.result})

    async def _api_getMe(self, params: dict) -> dict:
        return BOT

    async def _api_getFile(self, params: dict) -> dict:
        held = self.files.get(params.get("file_id", ""))
        if held is None:
            raise _BadRequest("invalid file_id")
        if len(held[1]) > 20 * 1024 * 1024:
            raise _BadRequest("file is too big")
        number = params["file_id"].removeprefix("file")
        found = {"file_id": params["file_id"], "file_unique_id": f"unique{number}", "file_size": len(held[1])}
        return {**found, "file_path": held[0]}

    async def _download(self, request: web.Request) -> web.Response:
        """A file's content at {base_file_url}{token}/{file_path}, as getFile named it."""
        call = Call("download", {"path": request.match_info["path"]}, time.monotonic())
        with self._lock:
            self.calls.append(call)
        if request.match_info["token"] != self.token:
            call.ok = False
            return web.Response(status=401)
        for path, content in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=content, content_type="application/octet-stream")
        call.ok = False
        return web.Response(status=404)

    async def _api_getUpdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        async with self._new_update:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), timeout)
            return [u for u in self._updates if u["update_id"] >= offset][:100]

    async def _api_sendMessage(self, params: dict) -> dict:
        text = params.get("text", "")
        visible = _visible_text(text) if params.get("parse_mode") == "HTML" else text
        if not visible.strip():
            raise _BadRequest("message text is empty")
        if len(visible) > 4096:
            raise _BadRequest("message is too long")
        return self._message(params, text=visible)  # as Telegram: the text without its markup

    async def _api_sendMessageDraft(self, params: dict) -> bool:
        text = params.get("text", "")
        visible = _visible_text(text) if params.get("parse_mode") == "HTML" else text
        if len(visible) > 4096:
            raise _BadRequest("text is too long")
        return True

    async def _api_editMessageText(self, params: dict) -> dict | bool:
        text = params.get("text", "")
        visible = _visible_text(text) if params.get("parse_mode") == "HTML" else text
        if "inline_message_id" in params:
            return True
        return self._message(params, text=visible, message_id=int(params["message_id"]))

    async def _api_editMessageReplyMarkup(self, params: dict) -> dict:
        return self._message(params, message_id=int(params["message_id"]))

    async def _api_sendDocument(self, params: dict) -> dict:
        document = params.get("document")
        if not isinstance(document, bytes):
            raise _BadRequest("there is no document in the request")
        return self._message(
            params,
            document={
                "file_id": "doc1",
                "file_unique_id": "u1",
                "file_name": params.get("_filename", "file"),
                "file_size": len(document),
            },
        )

    async def _api_copyMessage(self, params: dict) -> dict:
        """A copy of a message (a consultant's photo to an owner): Telegram answers with its id only."""
        if not params.get("from_chat_id") or not params.get("message_id"):
            raise _BadRequest("message to copy not found")
        return {"message_id": next(self._message_ids)}

    async def _api_getChat(self, params: dict) -> dict:
        """A chat the bot may write to (as sendMessage, every chat is; `fail` makes one unknown,
        e.g. "chat not found" for an admin who never opened the bot)."""
        chat_id = int(params["chat_id"])
        chat_type = self.chats.get(chat_id, "private")
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"), True
        )
        chat = {"id": chat_id, "type": chat_type, "accent_color_id": 0, "max_reaction_count": 11}
        return {**chat, "accepted_gift_types": gifts, **({"title": "Chat"} if chat_type != "private" else {})}

    async def _api_sendChatAction(self, params: dict) -> bool:
        return True

    async def _api_answerCallbackQuery(self, params: dict) -> bool:
        return True

    async def _api_setMyCommands(self, params: dict) -> bool:
        return True

    async def _api_deleteWebhook(self, params: dict) -> bool:
        return True

    async def _api_setWebhook(self, params: dict) -> bool:
        return True

    def _message(self, params: dict, message_id: int | None = None, **content) -> dict:
        chat_id = int(params["chat_id"])
        chat = {"id": chat_id, "type": self.chats.get(chat_id, "private")}
        message = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT,
            **content,
        }
        if (params.get("reply_markup") or {}).get("inline_keyboard"):  # Telegram echoes only inline keyboards
            message["reply_markup"] = params["reply_markup"]
        return message


class _BadRequest(Exception):
    pass


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    payload = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        payload["parameters"] = {"retry_after": retry_after}
    return web.json_response(payload, status=status)


async def _params(request: web.Request) -> dict:
    if request.content_type == "application/json":
        return await request.json()
    form = await request.post()
    params: dict = {}
    for key, value in form.items():
        if hasattr(value, "file"):  # an uploaded file
            params[key] = value.file.read()
            params["_filename"] = value.filename
            continue
        try:
            params[key] = (
                json.loads(value)
                if key in ("reply_markup", "commands", "allowed_updates", "reply_parameters", "entities", "scope")
                else value
            )
        except json.JSONDecodeError:
            params[key] = value
    return params


class _EntityChecker(html.parser.HTMLParser):
    """Telegram's HTML rules: known tags only, properly nested; text length counts without tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag not in ALLOWED_TAGS:
            raise _BadRequest(f'can\'t parse entities: unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise _BadRequest(f"can't parse entities: can't find end tag corresponding to start tag \"{tag}\"")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _visible_text(text: str) -> str:
    """The text as Telegram would count it, or _BadRequest as Telegram would refuse it."""
    outside_tags = re.sub(r"</?[a-zA-Z-]+(?:\s[^<>]*)?>", "", text)
    if "<" in outside_tags or ">" in outside_tags:
        raise _BadRequest("can't parse entities: unescaped < or > outside a tag")
    if re.search(r"&(?!lt;|gt;|amp;|quot;|#\d+;|#x[0-9a-fA-F]+;)", outside_tags):
        raise _BadRequest("can't parse entities: unsupported HTML entity")
    checker = _EntityChecker()
    checker.feed(text)
    checker.close()
    if checker.stack:
        raise _BadRequest(f'can\'t parse entities: unclosed tag "{checker.stack[-1]}"')
    return "".join(checker.text)
