"""Two webhook workers on one PostgreSQL database, and one of them killed with kill -9 while it
answers owners, delivers reminders, or hands owners over to a consultant: the other carries on,
and nothing is lost or sent twice beyond what docs/when-things-go-wrong.md allows (a reminder in flight may come
twice; an answer the killed worker never sent is replaced by "I was restarted … please ask
again"). The minutes the bot waits before it calls something lost are passed by ageing rows in
the database, not by waiting."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.storage import Storage
from bot.storage.models import utcnow
from tests.fakes.openai_server import FakeOpenAI, Reply, last_user_message
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import ROOT
from tests.helpers.workers import listening, start_worker
from tests.system.test_workers import deliver, turn_ids, two_workers, worker_env

pytestmark = pytest.mark.hostile

VICTIM, SURVIVOR = 0, 1
RESTARTED = "I was restarted while answering"
LOST = "I was restarted while answering your last message, so the answer never reached you. Please send it again."


def repo_knowledge(shared_index_dir: Path, **settings: str) -> dict:
    return {"KNOWLEDGE_DIR": str(ROOT / "knowledge"), "INDEX_DIR": str(shared_index_dir / "index"), **settings}


def kill(worker: subprocess.Popen) -> None:
    """kill -9: no shutdown, no answers finished, no claims given back."""
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)


async def restart(
    tmp_path: Path, telegram: FakeTelegram, postgres_url: str, ports: list[int], workers: list, n: int, **settings: str
) -> None:
    """Start worker `n` again on its port (as systemd would), once it registered its webhook and listens."""
    started = len([c for c in telegram.calls_of("setWebhook") if c.via == f"worker-{n}"])
    env = worker_env(telegram, postgres_url, n, **settings)
    workers[n] = start_worker(ports[n], tmp_path / f"worker-{n}-again", env)
    await telegram.wait_for(
        lambda: len([c for c in telegram.calls_of("setWebhook") if c.via == f"worker-{n}"]) > started, 120, "restart"
    )
    while not await listening(ports[n]):
        await asyncio.sleep(0.1)


async def test_owners_whose_answers_a_killed_worker_held_get_them_or_are_told_to_ask_again(
    tmp_path, shared_index_dir, postgres_url
):
    """Twelve owners ask at once, half through each worker. The model answers some at once and
    takes 8 s over the others, and Telegram takes 2 s to accept a message: when one worker is
    killed, some of its answers are stored and unsent, the others still being written. The other
    worker answers its owners once each. After the restart (and the minutes the bot waits before
    it calls an answer lost, passed here by ageing the database's clock), every owner of the
    killed worker has their answer or the restart line, and none has two of either."""
    owners = [8000 + n for n in range(12)]
    ask = {owner: f"How can a small business get credit without collateral? (owner {owner})" for owner in owners}
    slow = set(owners[1::2])  # the model is slow for these: killed while it writes their answer

    def answer_for(body: dict) -> Reply:
        owner = int(re.search(r"owner (\d+)", last_user_message(body)).group(1))
        return Reply("Use invoice finance [1].", delay=8 if owner in slow else 0)

    with FakeTelegram() as telegram, FakeOpenAI(answer_for) as llm:
        settings = repo_knowledge(
            shared_index_dir, LLM_MODEL="openai:fake-model", LLM_BASE_URL=llm.base_url, QUESTIONS_PER_MINUTE="100"
        )
        async with (
            two_workers(tmp_path, telegram, postgres_url, **settings) as (ports, workers),
            aiohttp.ClientSession() as http,
        ):
            telegram.slow("sendMessage", 2.0)
            routed = {owner: n // 2 % 2 for n, owner in enumerate(owners)}  # to each worker, slow and quick ones
            for owner in owners:
                await deliver(http, ports[routed[owner]], telegram.message_update(owner, ask[owner]))
            theirs = [o for o in owners if routed[o] == VICTIM]
            ours = [o for o in owners if routed[o] == SURVIVOR]
            storage = await Storage.open(postgres_url)
            try:
                # killed once every question reached the model and its quick answers are being sent
                await telegram.wait_for(lambda: len(llm.answer_requests()) == len(owners), 60, "every question asked")
                await _until(lambda: _with_turns(storage, theirs), lambda found: found >= set(theirs) - slow, 30)
                kill(workers[VICTIM])
                assert not any(turn_ids(telegram, o) for o in theirs), "the kill came too late"
                unstored = set(theirs) - await _with_turns(storage, theirs)
                assert unstored  # answers still being written: no turn tells of them

                # the clock moves on for the killed worker's owners: what it held is presumed lost
                chats = {"users": [f"tg:{o}" for o in theirs], "chats": theirs}
                async with storage.engine.begin() as connection:
                    older = "created_at - interval '10 minutes'"
                    where = "delivered is null and user_id = any(:users)"
                    await connection.execute(text(f"update turns set created_at = {older} where {where}"), chats)
                    where = "answered_at is null and chat_id = any(:chats)"
                    await connection.execute(
                        text(f"update pending_updates set received_at = received_at - 600 where {where}"), chats
                    )
                await restart(tmp_path, telegram, postgres_url, ports, workers, VICTIM, **settings)

                # the survivor answers its own owners, each once; the killed worker's all hear
                await telegram.wait_for(lambda: all(turn_ids(telegram, o) for o in ours), 60, "the survivor's answers")
                told = lambda o: [t for t in telegram.texts(o) if t.startswith(RESTARTED)]  # noqa: E731
                everyone = lambda: all(turn_ids(telegram, o) or told(o) for o in theirs)  # noqa: E731
                await telegram.wait_for(everyone, 60, "every owner answered or told")
                await asyncio.sleep(1)  # a second answer or line would come by now
            finally:
                await storage.close()

    for owner in owners:
        answered = turn_ids(telegram, owner)
        assert answered or told(owner), owner  # never nothing
        assert len(answered) <= 1 and len(told(owner)) <= 1, (owner, telegram.texts(owner))  # never twice
        if owner in ours:
            assert answered and not told(owner), owner
        if owner in unstored:
            assert told(owner) == [LOST], telegram.texts(owner)


async def _with_turns(storage: Storage, owners: list[int]) -> set[int]:
    """Those of `owners` whose answer is stored."""
    async with storage.engine.connect() as connection:
        query = text("select distinct user_id from turns where user_id = any(:users)")
        found = (await connection.execute(query, {"users": [f"tg:{o}" for o in owners]})).scalars()
    return {int(user.removeprefix("tg:")) for user in found}


async def _until(read, done, timeout: float) -> None:
    """Poll the async `read` until `done(value)`, within `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not done(value := await read()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out (last: {value})"
        await asyncio.sleep(0.05)


CLAIM_SECONDS = 5  # REMINDER_CLAIM_SECONDS: longer than the victim lives after claiming, so only expiry hands them on


async def test_reminders_a_killed_worker_claimed_are_sent_by_the_other_once_the_claim_expires(
    tmp_path, shared_index_dir, postgres_url
):
    """40 reminders come due at once; one worker claims them and, Telegram taking 0.25 s a
    message, is killed after a few. Its claims expire after REMINDER_CLAIM_SECONDS and the other
    worker sends every one still unsent: each owner gets theirs, at most the one in flight twice."""
    owners = [6000 + n for n in range(40)]
    reminded = lambda owner: [t for t in telegram.texts(owner) if "Reminder: pay supplier" in t]  # noqa: E731
    with FakeTelegram() as telegram:
        settings = repo_knowledge(
            shared_index_dir, REMINDER_CHECK_SECONDS="0.2", REMINDER_CLAIM_SECONDS=str(CLAIM_SECONDS)
        )
        async with two_workers(tmp_path, telegram, postgres_url, **settings) as (_ports, workers):
            telegram.slow("sendMessage", 0.25)
            storage = await Storage.open(postgres_url)
            try:
                due = utcnow() + dt.timedelta(seconds=1.5)  # all at once, stored before they are due
                for owner in owners:
                    await storage.add_reminder(
                        user_id=f"tg:{owner}", chat_id=owner, text=f"pay supplier {owner}", due_at=due
                    )
                sent_by = lambda n: [  # noqa: E731
                    c
                    for c in telegram.calls_of("sendMessage")
                    if c.via == f"worker-{n}" and "Reminder" in c.params["text"]
                ]
                await telegram.wait_for(lambda: len(sent_by(0)) + len(sent_by(1)) >= 3, 30, "the first reminders")
                victim = 0 if len(sent_by(0)) >= len(sent_by(1)) else 1  # the one delivering them
                kill(workers[victim])
                killed_at = asyncio.get_running_loop().time()
                unsent = [o for o in owners if not reminded(o)]
                assert len(unsent) >= 20, len(unsent)  # most were claimed by the killed worker, not yet sent

                await telegram.wait_for(lambda: all(reminded(o) for o in owners), 60, "every reminder")
                took = asyncio.get_running_loop().time() - killed_at
                await asyncio.sleep(1)  # a second send would come by now
                async with storage.engine.connect() as connection:
                    statuses = (
                        await connection.execute(text("select status, count(*) from reminders group by status"))
                    ).all()
            finally:
                await storage.close()

    counts = [len(reminded(o)) for o in owners]
    assert all(counts) and max(counts) <= 2 and sum(counts) <= len(owners) + 1, counts  # none lost; the one in flight
    assert dict(statuses) == {"sent": len(owners)}
    assert took >= CLAIM_SECONDS - 1  # handed on by the claim's expiry, not before


GROUP, CONSULTANT = -1001, 77


async def test_hand_overs_survive_the_worker_that_made_them(tmp_path, shared_index_dir, postgres_url):
    """Two owners ask for a person through one worker, which is killed after it posted the
    first one's card and while it posts the second's. Through the other worker the first owner's
    next message and the consultant's reply go through. The second request's card reached the
    consultants but was never noted: a reply to it was refused as "no longer stored", and the
    owner got "I couldn't reach a consultant" for a day, /human included. Now the owner's next
    message, once the card is overdue, posts it again, and a reply to either card reaches them."""
    first, second = 7000, 7001
    with FakeTelegram() as telegram:
        telegram.chats[GROUP] = "supergroup"
        settings = repo_knowledge(shared_index_dir, ADMIN_CHAT_ID=str(GROUP))
        cards = lambda: [c.result for c in telegram.calls_of("sendMessage", GROUP) if "Request #" in c.params["text"]]  # noqa: E731
        async with (
            two_workers(tmp_path, telegram, postgres_url, **settings) as (ports, workers),
            aiohttp.ClientSession() as http,
        ):
            storage = await Storage.open(postgres_url)
            try:
                await deliver(
                    http, ports[VICTIM], telegram.message_update(first, "/human I need help with a bank loan")
                )
                await telegram.wait_for(lambda: telegram.texts(first) and cards(), 30, "the card and the confirmation")
                assert "passed this to a consultant" in telegram.texts(first)[0]

                telegram.slow("sendMessage", 1.0)  # the second card is on its way when the worker dies
                await deliver(http, ports[VICTIM], telegram.message_update(second, "/human my supplier will not pay"))
                arrived = lambda: [c for c in telegram.calls if "supplier" in str(c.params.get("text"))]  # noqa: E731
                await telegram.wait_for(arrived, 30, "the second card on its way")
                kill(workers[VICTIM])
                telegram.slow("sendMessage", 0)
                await telegram.wait_for(lambda: len(cards()) == 2, 30, "the second card, which Telegram had whole")
                assert not telegram.texts(second)  # the worker died before it confirmed

                # the first owner: their next message and the consultant's reply, through the survivor
                await deliver(http, ports[SURVIVOR], telegram.message_update(first, "It's for 20,000 dollars"))
                await telegram.wait_for(lambda: len(telegram.texts(first)) == 2, 30, "the message passed on")
                assert telegram.texts(first)[1] == "Passed on to the consultant."
                assert "20,000 dollars" in telegram.texts(GROUP)[-1]
                await consult(http, telegram, ports[SURVIVOR], cards()[0], "Bring 6 months of bank statements.")
                await telegram.wait_for(lambda: len(telegram.texts(first)) == 3, 30, "the consultant's reply")
                assert "6 months of bank statements" in telegram.texts(first)[2]

                # the second owner: the card is overdue, so their next message posts it again
                async with storage.engine.begin() as connection:
                    overdue = (
                        "update handovers set created_at = created_at - interval '3 minutes' where user_id = :user"
                    )
                    await connection.execute(text(overdue), {"user": f"tg:{second}"})
                await deliver(http, ports[SURVIVOR], telegram.message_update(second, "Are you there?"))
                await telegram.wait_for(lambda: telegram.texts(second), 30, "the second owner's answer")
                assert telegram.texts(second) == ["Passed on to the consultant."]
                assert len(cards()) == 3 and "supplier will not pay" in cards()[2]["text"]
                assert "Are you there?" in telegram.texts(GROUP)[-1]
                # a consultant replies to the card the killed worker posted and never noted
                await consult(http, telegram, ports[SURVIVOR], cards()[1], "Send them a formal reminder first.")
                await telegram.wait_for(lambda: len(telegram.texts(second)) == 2, 30, "the consultant's reply")
                assert "formal reminder" in telegram.texts(second)[1]
            finally:
                await storage.close()
    assert len(cards()) == 3 and len(telegram.texts(first)) == 3 and len(telegram.texts(second)) == 2  # none twice


async def consult(http: aiohttp.ClientSession, telegram: FakeTelegram, port: int, card: dict, reply: str) -> None:
    """A consultant in the group replies to a card, through the worker on `port`; sent once confirmed."""
    sent = len([t for t in telegram.texts(GROUP) if t.startswith("✓ Sent")])
    update = telegram.message_update(CONSULTANT, reply, chat_id=GROUP, chat_type="supergroup", reply_to=card)
    await deliver(http, port, update)
    await telegram.wait_for(
        lambda: len([t for t in telegram.texts(GROUP) if t.startswith("✓ Sent")]) > sent, 30, "the consultant told"
    )
