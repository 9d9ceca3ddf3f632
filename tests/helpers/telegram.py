"""Talking to the running bot through the fake Bot API, as an owner would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.fakes.telegram_server import FakeTelegram

OWNER = 111
ADMIN = 1
CREDIT_Q = "How can a small business get credit without collateral?"


def answers(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return telegram.texts(chat_id)


async def asked(telegram: FakeTelegram, user: int, text: str, count: int = 1, **kwargs) -> list[str]:
    """Send a message and wait until `count` more messages reached that chat."""
    chat_id = kwargs.get("chat_id", user)
    before = len(answers(telegram, chat_id))
    telegram.message(user, text, **kwargs)
    await telegram.wait_for(lambda: len(answers(telegram, chat_id)) >= before + count, what=f"reply to {text!r}")
    return answers(telegram, chat_id)[before:]


def last_markup(telegram: FakeTelegram, chat_id: int) -> dict:
    return telegram.calls_of("sendMessage", chat_id)[-1].params.get("reply_markup") or {}


def sent_message(telegram: FakeTelegram, chat_id: int, index: int = -1) -> dict:
    """A message the bot sent, as Telegram returned it (to press its buttons or reply to it)."""
    return telegram.calls_of("sendMessage", chat_id)[index].result


def post_update(url: str, payload: dict, secret: str) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code

