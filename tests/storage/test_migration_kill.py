"""Never tried before the second hostile test: a bot killed (kill -9) while it migrates an empty
database. Every later start must finish the migration, or find it whole: the schema at its head
and the database usable, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap

import pytest

from bot.storage import Storage
from bot.storage.models import utcnow

MIGRATE = textwrap.dedent(
    """
    import asyncio, sys
    from bot.storage import Storage

    async def main():
        print("migrating", flush=True)
        storage = await Storage.open(sys.argv[1])
        await storage.close()

    asyncio.run(main())
    """
)


@pytest.mark.hostile
@pytest.mark.parametrize("after", [0.0, 0.05, 0.1, 0.2, 0.3])
async def test_a_migration_killed_part_way_is_finished_by_the_next_start(database_url, after):
    child = subprocess.Popen([sys.executable, "-c", MIGRATE, database_url], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "migrating"  # imports done: what follows is the migration
    await asyncio.sleep(after)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    finish = subprocess.run([sys.executable, "-c", MIGRATE, database_url], capture_output=True, text=True, timeout=120)
    assert finish.returncode == 0, finish.stderr[-2000:]
    storage = await Storage.open(database_url)
    try:
        reminder = await storage.add_reminder(user_id="tg:1", chat_id=1, text="still works", due_at=utcnow())
        assert [r.id for r in await storage.pending_reminders("tg:1")] == [reminder.id]
    finally:
        await storage.close()
