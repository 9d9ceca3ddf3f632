"""Where owners are in multi-step conversations, shared through the database: a step saved by
one application is taken up by another, and a database that cannot be read stops no answer."""

from __future__ import annotations

import logging

from sqlalchemy import text
from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.channels.telegram.steps import SharedSteps
from bot.storage import Storage

ASKED = 0


def conversation() -> ConversationHandler:
    async def never(update, context):  # the handlers are not run here, only their states kept
        return ConversationHandler.END

    return ConversationHandler(
        entry_points=[CommandHandler("profile", never)],
        states={ASKED: [MessageHandler(filters.TEXT, never)]},
        fallbacks=[],
        name="profile",
    )


def update_from(owner: int) -> Update:
    chat = {"id": owner, "type": "private"}
    user = {"id": owner, "is_bot": False, "first_name": "Rosie"}
    return Update.de_json({"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": chat, "from": user}}, None)


async def test_a_step_travels_through_the_database_and_a_failed_read_stops_nothing(tmp_path, caplog):
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'steps.db'}")
    try:
        here, there = SharedSteps(storage), SharedSteps(storage)
        here.follow([asking := conversation()])
        there.follow([answering := conversation()])
        update = update_from(7)
        async with here.around(update):
            asking._conversations[(7, 7)] = ASKED  # the question is asked in one process
        async with there.around(update):
            assert answering._conversations.get((7, 7)) == ASKED  # and its answer understood in another
            answering._conversations.pop((7, 7))  # which ends the conversation
        assert await storage.conversation_steps(7, 7) == {}

        answering._conversations[(7, 7)] = ASKED  # this process's own step for the owner
        async with storage.engine.begin() as connection:
            await connection.execute(text("DROP TABLE conversation_steps"))
        with caplog.at_level(logging.WARNING):
            async with there.around(update):  # the update is still handled, with this process's steps
                assert answering._conversations.get((7, 7)) == ASKED
        assert "could not read the conversation steps of chat 7" in caplog.text
    finally:
        await storage.close()
