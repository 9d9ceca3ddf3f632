"""Knowledge drafts in the database (SQLite and PostgreSQL): a draft edited, published once
however many taps race, and what a rollback finds."""

from __future__ import annotations

import asyncio

import pytest

from bot.storage import Storage


@pytest.fixture
async def storage(database_url):
    store = await Storage.open(database_url)
    yield store
    await store.close()


async def test_a_draft_is_edited_then_published_once(storage):
    draft = await storage.create_draft(
        kind="gap", questions=["Do I need VAT?"], answer="", author="Ann", author_id=7, chat_id=-1, status="awaiting"
    )
    edited = await storage.edit_draft(draft.id, answer="Yes, past the threshold.", removed=["a name"])
    assert (edited.status, edited.answer, edited.removed) == ("draft", "Yes, past the threshold.", ["a name"])

    taps = await asyncio.gather(*(storage.move_draft(draft.id, ("draft",), "publishing") for _ in range(5)))
    assert sorted(taps) == [False] * 4 + [True]
    assert await storage.move_draft(draft.id, ("publishing",), "published", path="answers/do-i-need-vat.md")
    assert await storage.edit_draft(draft.id, answer="changed") is None  # published: no longer editable
    [found] = await storage.published_drafts(["answers/do-i-need-vat.md", "answers/other.md"])
    assert (found.id, found.questions, found.author_id) == (draft.id, ["Do I need VAT?"], 7)
    assert await storage.get_draft(draft.id + 1) is None
