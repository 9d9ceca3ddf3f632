"""Reminders in the database, on a SQLite file and on PostgreSQL: two bot processes claiming the
same due reminders send each once; repeats move forward; blocked and forgotten owners get none."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.storage import Storage
from bot.storage.models import utcnow


@pytest.fixture
async def storages(database_url):
    """Two `Storage`s on one database, as two bot processes have."""
    first = await Storage.open(database_url)
    second = await Storage.open(database_url)
    yield first, second
    await first.close()
    await second.close()


async def test_two_processes_claim_each_due_reminder_once(storages):
    first, second = storages
    now = utcnow()
    for n in range(20):
        await first.add_reminder(user_id=f"tg:{n}", chat_id=n, text=f"call the bank {n}", due_at=now)
    repeating = await first.add_reminder(
        user_id="tg:99", chat_id=99, text="review prices", due_at=now, every="1 month", kind="reminder"
    )
    later = await first.add_reminder(user_id="tg:98", chat_id=98, text="not yet", due_at=now + dt.timedelta(hours=1))

    claims = await asyncio.gather(*(s.claim_due_reminders(now=now) for s in (first, second, first, second)))
    sent = [due.reminder.text for claimed in claims for due in claimed]
    assert sorted(sent) == sorted([f"call the bank {n}" for n in range(20)] + ["review prices"])  # each once
    assert not await first.claim_due_reminders(now=now)
    [again] = await first.pending_reminders("tg:99")
    assert again.id == repeating.id and again.due_at > now + dt.timedelta(days=27)  # next month, still pending
    assert [r.id for r in await second.pending_reminders("tg:98")] == [later.id]


async def test_cancel_is_for_the_owner_only_and_blocked_or_forgotten_owners_get_none(storages):
    storage, _ = storages
    now = utcnow()
    mine = await storage.add_reminder(user_id="tg:1", chat_id=1, text="mine", due_at=now + dt.timedelta(days=1))
    assert not await storage.cancel_reminder(mine.id, user_id="tg:2")
    assert await storage.cancel_reminder(mine.id, user_id="tg:1")
    assert not await storage.cancel_reminder(mine.id, user_id="tg:1")  # no longer pending

    await storage.add_reminder(user_id="tg:3", chat_id=3, text="blocked", due_at=now)
    await storage.set_status("tg:3", "blocked")
    assert not await storage.claim_due_reminders(now=now)
    assert not await storage.pending_reminders("tg:3")  # cancelled, not waiting for an unblock

    await storage.add_reminder(user_id="tg:4", chat_id=4, text="forgotten", due_at=now)
    await storage.set_timezone("tg:4", "Africa/Nairobi")
    await storage.change_checkin("tg:4", lambda state: {**state, "on": True, "priorities": ["export"]})
    await storage.forget("tg:4")
    assert not await storage.claim_due_reminders(now=now)
    assert await storage.timezone("tg:4") is None and await storage.checkin_state("tg:4") == {}
