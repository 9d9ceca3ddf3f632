"""Reminders in the database, on a SQLite file and on PostgreSQL: two bot processes claiming the
same due reminders send each once; repeats move forward; blocked and forgotten owners get none."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.storage import Storage
from bot.storage.models import utcnow
from bot.storage.reminders import CLAIM_EXPIRES


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
    for due in (due for claimed in claims for due in claimed):  # Telegram accepted each
        await first.finish_reminder(due, now=now)
    assert not await second.claim_due_reminders(now=now + CLAIM_EXPIRES * 2)  # finished: never again
    [again] = await first.pending_reminders("tg:99")
    assert again.id == repeating.id and again.due_at > now + dt.timedelta(days=27)  # next month, still pending
    assert [r.id for r in await second.pending_reminders("tg:98")] == [later.id]


@pytest.mark.hostile
async def test_a_reminder_claimed_by_a_process_that_died_is_sent_by_another(storages):
    """A kill -9 between claiming reminders and sending them lost them for good (they were marked
    sent when claimed: 23 of 40 never arrived). The claim now expires: sent at least once."""
    dead, alive = storages
    now = utcnow()
    for n in range(40):
        await dead.add_reminder(user_id=f"tg:{n}", chat_id=n, text=f"pay supplier {n}", due_at=now)
    monthly = await dead.add_reminder(user_id="tg:99", chat_id=99, text="prices", due_at=now, every="1 month")
    claimed = await dead.claim_due_reminders(now=now)
    assert len(claimed) == 41
    await dead.finish_reminder(claimed[0], now=now)  # one reached Telegram, then the process died

    assert not await alive.claim_due_reminders(now=now + CLAIM_EXPIRES / 2)  # maybe still being sent
    retaken = await alive.claim_due_reminders(now=now + CLAIM_EXPIRES + dt.timedelta(seconds=1))
    assert sorted(d.reminder.id for d in retaken) == sorted(d.reminder.id for d in claimed[1:])
    late = now + CLAIM_EXPIRES + dt.timedelta(seconds=2)
    for due in retaken:
        await alive.finish_reminder(due, now=late)
    await dead.finish_reminder(claimed[5], now=late)  # a stale claim changes nothing now
    assert not await alive.claim_due_reminders(now=late + CLAIM_EXPIRES * 2)
    [again] = await alive.pending_reminders("tg:99")
    assert again.id == monthly.id and again.due_at > now + dt.timedelta(days=27)  # next month


@pytest.mark.hostile
async def test_a_reminder_that_failed_for_a_passing_reason_is_tried_again(storages):
    storage, _ = storages
    now = utcnow()
    once = await storage.add_reminder(user_id="tg:1", chat_id=1, text="once", due_at=now)
    monthly = await storage.add_reminder(user_id="tg:2", chat_id=2, text="monthly", due_at=now, every="1 month")
    for due in await storage.claim_due_reminders(now=now):
        await storage.release_reminder(due, now=now)  # Telegram could not be reached
    listed = [*await storage.pending_reminders("tg:1"), *await storage.pending_reminders("tg:2")]
    pending = {r.id: r.due_at for r in listed}
    assert pending == {once.id: now + dt.timedelta(minutes=1), monthly.id: now}  # the monthly keeps its hour
    retried = await storage.claim_due_reminders(now=now + dt.timedelta(minutes=1))
    assert {d.reminder.id for d in retried} == {once.id, monthly.id}


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
