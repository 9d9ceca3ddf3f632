"""The consultants' desk in the database (SQLite and PostgreSQL): the open requests oldest
first, a claim that only one of two racing consultants gets, giving it back, the owner's rating
counted for the digest, and consultants' /myname names (gone with their /forget)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.storage import Storage
from bot.storage.models import utcnow


@pytest.fixture
async def storage(database_url):
    store = await Storage.open(database_url)
    yield store
    await store.close()


async def test_open_requests_oldest_first_and_a_claim_won_once(storage):
    first = await storage.open_handover("tg:111", 111, "A loan for an oven", 24)
    second = await storage.open_handover("tg:333", 333, "Pricing cakes", 24)
    done = await storage.open_handover("tg:444", 444, "Closed already", 24)
    await storage.resolve_handover(done.id, "Anna (tg:77)")
    await storage.touch_user("tg:111", "rosie", "Rosie")

    listed, total = await storage.open_requests()
    assert total == 2 and [r.id for r in listed] == [first.id, second.id]
    assert (listed[0].owner_name, listed[0].username, listed[0].claimed_by) == ("Rosie", "rosie", None)
    assert (await storage.open_requests(limit=1))[1] == 2

    a, b = await asyncio.gather(*(storage.claim_handover(first.id, who, f"C{who}") for who in (77, 78)))
    assert a.claimed_by == b.claimed_by and a.claimed_by in (77, 78)
    winner = a.claimed_by
    loser = 78 if winner == 77 else 77
    again = await storage.claim_handover(first.id, loser, "late")
    assert (again.claimed_by, again.claimed_by_name) == (winner, f"C{winner}")
    assert not await storage.unclaim_handover(first.id, loser)  # only the claimer gives it back
    assert await storage.unclaim_handover(first.id, winner)
    assert (await storage.get_handover(first.id)).claimed_by is None
    assert (await storage.claim_handover(done.id, 77, "Anna")).claimed_by is None  # closed: not claimable
    assert await storage.claim_handover(9999, 77, "Anna") is None


async def test_ratings_are_the_owners_and_counted_since(storage):
    handover = await storage.open_handover("tg:111", 111, "A loan", 24)
    assert not await storage.rate_handover(handover.id, "tg:111", "up")  # still open
    await storage.resolve_handover(handover.id, "Anna (tg:77)")
    assert not await storage.rate_handover(handover.id, "tg:999", "up")  # not their request
    with pytest.raises(ValueError):
        await storage.rate_handover(handover.id, "tg:111", "meh")
    assert await storage.rate_handover(handover.id, "tg:111", "up")
    assert await storage.rate_handover(handover.id, "tg:111", "down")  # changed their mind
    since = utcnow() - dt.timedelta(hours=1)
    assert await storage.count_ratings(since) == {"up": 0, "down": 1}
    assert await storage.count_ratings(utcnow() + dt.timedelta(hours=1)) == {"up": 0, "down": 0}


async def test_consultant_names_set_reset_and_forgotten(storage):
    assert await storage.consultant_name(77) is None
    await storage.set_consultant_name(77, "Anna")
    await storage.set_consultant_name(77, "Anna K.")
    assert await storage.consultant_name(77) == "Anna K."
    await storage.set_consultant_name(77, None)
    assert await storage.consultant_name(77) is None
    await storage.set_consultant_name(77, "Anna")
    await storage.forget("tg:77")
    assert await storage.consultant_name(77) is None
