"""Receiving updates on a webhook (TELEGRAM_WEBHOOK_URL): our own small receiver in front of
the `Application`'s update queue, the custom-webhook pattern python-telegram-bot documents.

Why not `Updater.start_webhook`: python-telegram-bot answers an update it cannot read with
HTTP 400 and logs the whole update (the owner's text included) as CRITICAL; Telegram then
delivers it again and again. Here such an update is logged once, by id and error only, and
acknowledged with 200, so Telegram forgets it and everyone else keeps being answered.
Requests without the secret token, or that are not JSON, are refused as before.
"""

from __future__ import annotations

import hmac
import json
import logging
from http import HTTPStatus
from urllib.parse import urlparse

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram.updates import read_update
from bot.config import Settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookReceiver:
    """Listens on TELEGRAM_WEBHOOK_LISTEN:PORT at the webhook URL's path and tells Telegram the URL."""

    def __init__(self, app: Application, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._server: tornado.httpserver.HTTPServer | None = None

    async def start(self) -> None:
        settings = self.settings
        path = "/" + urlparse(settings.telegram_webhook_url).path.lstrip("/")
        secret = settings.telegram_webhook_secret.get_secret_value()
        routes = [(rf"{path.rstrip('/')}/?", UpdateHandler, {"app": self.app, "secret": secret})]
        self._server = tornado.httpserver.HTTPServer(tornado.web.Application(routes, log_function=_quiet))
        self._server.listen(settings.telegram_webhook_port, address=settings.telegram_webhook_listen)
        await self.app.bot.set_webhook(
            url=settings.telegram_webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )

    async def stop(self) -> None:
        """Take no more updates (those already queued are still answered)."""
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None


class UpdateHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("POST",)

    def initialize(self, app: Application, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def post(self) -> None:
        token = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(token.encode(), self.secret.encode()):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        try:
            data = json.loads(self.request.body)
        except ValueError:
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST) from None
        update = read_update(data, self.app.bot)
        if update is not None:
            await self.app.update_queue.put(update)
        self.set_status(HTTPStatus.OK)


def _quiet(handler: tornado.web.RequestHandler) -> None:
    """Tornado logs every request; only refusals are worth a line."""
    if handler.get_status() >= 400:
        log.warning("webhook: %s %s from %s", handler.get_status(), handler.request.method, handler.request.remote_ip)
