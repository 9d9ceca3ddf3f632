"""Where owners are in multi-step conversations, as every worker sharing the database reads it
(on SQLite and PostgreSQL, like the other storage tests)."""

from __future__ import annotations

import time

from bot.storage import Storage


async def test_steps_are_saved_renewed_and_ended_per_owner_and_conversation(database_url):
    storage = await Storage.open(database_url)
    try:
        assert await storage.conversation_steps(7, 7) == {}
        before = time.time()
        await storage.save_conversation_steps(7, 7, {"profile": 2, "remind": "zone"})
        await storage.save_conversation_steps(8, 8, {"profile": 0})  # another owner's
        steps = await storage.conversation_steps(7, 7)
        assert {name: state for name, (state, _at) in steps.items()} == {"profile": 2, "remind": "zone"}
        assert all(at >= before for _state, at in steps.values())
        await storage.save_conversation_steps(7, 7, {"profile": 3, "remind": None})  # a step on; one ended
        assert {name: state for name, (state, _at) in (await storage.conversation_steps(7, 7)).items()} == {
            "profile": 3
        }
        assert list(await storage.conversation_steps(8, 8)) == ["profile"]
    finally:
        await storage.close()
