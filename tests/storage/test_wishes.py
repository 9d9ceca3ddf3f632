"""Owners' wishes to hear back, stored (on SQLite and PostgreSQL, like the other storage tests):
noted once, claimed by one process, reopened after a failed send, and gone with /forget."""

from __future__ import annotations

from bot.storage import Storage

OWNER, OTHER = "tg:5", "tg:6"


async def test_a_wish_is_noted_once_claimed_once_and_forgotten_with_the_owner(database_url):
    storage = await Storage.open(database_url)
    try:
        assert await storage.add_wish(user_id=OWNER, chat_id=5, question="Sourdough?", language="ru")
        assert not await storage.add_wish(user_id=OWNER, chat_id=5, question="Sourdough?")  # noted already
        assert await storage.add_wish(user_id=OWNER, chat_id=5, question="Kombucha?", searched="Kombucha licence?")
        assert await storage.add_wish(user_id=OTHER, chat_id=6, question="Sourdough?")  # another owner's
        first, second, theirs = await storage.open_wishes()
        assert (first.question, first.language, second.searched, theirs.user_id) == (
            "Sourdough?",
            "ru",
            "Kombucha licence?",
            OTHER,
        )
        assert await storage.last_told(OWNER) is None

        assert await storage.claim_wish(first.id) and not await storage.claim_wish(first.id)  # one process sends it
        await storage.reopen_wish(first.id)  # the send failed
        assert [w.id for w in await storage.open_wishes(OWNER)] == [first.id, second.id]
        assert await storage.claim_wish(first.id)
        assert await storage.last_told(OWNER) is not None and await storage.last_told(OTHER) is None
        assert not await storage.add_wish(user_id=OWNER, chat_id=5, question="Kombucha?")  # still open
        assert await storage.add_wish(user_id=OWNER, chat_id=5, question="Sourdough?")  # told: may ask again
        await storage.wish_found_in(second.id, "answers/kombucha.md")
        assert [w.found_in for w in await storage.open_wishes(OWNER)] == ["answers/kombucha.md", None]

        await storage.forget(OWNER)
        assert await storage.wishes_of(OWNER) == [] and len(await storage.open_wishes()) == 1
    finally:
        await storage.close()
