"""Talking to the running bot through the fake Bot API, as an owner would."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from tests.fakes.telegram_server import FakeTelegram, _visible_text

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


RAW_MARKDOWN = [
    re.compile(r"\*\*"),
    re.compile(r"__"),
    re.compile(r"`"),
    re.compile(r"\[[^\]\n]+\]\([^)\s]+\)"),  # [text](url)
    re.compile(r"^#{1,6} ", re.MULTILINE),
    re.compile(r"^\s*[-*+] ", re.MULTILINE),  # a Markdown bullet
]


def admin_messages(telegram: FakeTelegram, chat: int = ADMIN) -> list[tuple[str, dict]]:
    """(text, parameters) of every message and caption the bot sent to a team chat."""
    sent = [(call.params.get("text", ""), call.params) for call in telegram.calls_of("sendMessage", chat)]
    sent += [(call.params.get("caption", ""), call.params) for call in telegram.calls_of("sendDocument", chat)]
    return sent


def assert_rendered(telegram: FakeTelegram, chat: int = ADMIN, html_only: bool = True) -> list[str]:
    """Every message to a team chat shows no Markdown mark; as Telegram HTML that parses (with
    `html_only`, every one must be; else a message without formatting may be plain text). Their
    visible texts."""
    visible = []
    for text, params in admin_messages(telegram, chat):
        html = params.get("parse_mode") == "HTML"
        assert html or not html_only, text
        shown = _visible_text(text) if html else text  # raises as Telegram would on broken HTML
        for mark in RAW_MARKDOWN:
            assert not mark.search(shown), (mark.pattern, shown)
        visible.append(shown)
    return visible
