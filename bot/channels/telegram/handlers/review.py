"""/review (admins): a one-time login link to the browser review, or how to start it.

The link (`bot.review.login`) logs in once, within 10 minutes; it is sent only in the admin's
private chat, never to a group where others could open it first. The bot knows where the review
is from REVIEW_URL and whether it runs by asking it (a refused connection: it does not); without
REVIEW_URL, or with the server down, the admin gets the command that starts it.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from telegram import Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.deps import MESSAGES, BotContext, admin_only
from bot.review.login import LINK_MINUTES, login_folder, login_link, make_token

log = logging.getLogger(__name__)

START = (
    "Start it on the bot's machine with <code>python -m bot review</code> (it listens on 127.0.0.1:8001; "
    "for other machines add <code>--host 0.0.0.0</code> and set REVIEW_PASSWORD)"
)
NOT_SET = (
    "The browser review's address is not set. " + START + ", then set REVIEW_URL to the address you open it at "
    "(e.g. http://127.0.0.1:8001) and restart the bot: /review then sends a one-time login link."
)


@admin_only
async def review(update: Update, context: BotContext) -> None:
    """/review: a login link to the browser review, valid 10 minutes, usable once."""
    settings = context.deps.settings
    message = update.effective_message
    if not settings.review_url:
        await message.reply_html(NOT_SET)
        return
    url = settings.review_url.rstrip("/")
    if not await running(url):
        await message.reply_html(f"The browser review at {escape(url)} is not running. {START}.")
        return
    token = await asyncio.to_thread(make_token, login_folder(settings.data_dir), update.effective_user.id)
    link = login_link(url, token)
    text = (
        f'🔎 <a href="{escape(link)}">Open the transcript review</a>\n'
        f"This link logs you in once, within {LINK_MINUTES} minutes; /review gives a new one.\n"
        f"<code>{escape(link)}</code>"
    )
    if update.effective_chat.type == ChatType.PRIVATE:
        await message.reply_html(text, disable_web_page_preview=True)
        return
    try:  # in a group, whoever taps first would be logged in: the link goes to the admin alone
        await context.bot.send_message(
            update.effective_user.id, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True
        )
    except TelegramError as exc:
        log.info("could not send a review link to admin %s privately: %s", update.effective_user.id, exc)
        await message.reply_html("I can't write to you privately: open a chat with me, then send /review there.")
        return
    await message.reply_html("I sent you the login link in our private chat.")


async def running(url: str) -> bool:
    """Does a server answer at `url`? Any HTTP answer counts (it may ask for a login)."""
    try:
        async with httpx.AsyncClient(timeout=3, follow_redirects=False) as client:
            await client.get(f"{url}/-/versions.json")
    except httpx.HTTPError:
        return False
    return True


HANDLERS = [CommandHandler("review", review, filters=MESSAGES)]
