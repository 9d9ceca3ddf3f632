"""The transcript database, on a real SQLite file and on a real PostgreSQL server (the
`database_url` fixture runs each test on both): migrations, round-trips, rights, concurrency,
and the state several bot processes share."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import stat
import sys
from asyncio.subprocess import PIPE

import pytest
from sqlalchemy import inspect, text

from bot.advisor import Advisor
from bot.advisor.conversation import Profile
from bot.channels.dialogue import Dialogue
from bot.channels.telegram.access import Access
from bot.storage import Storage, StorageError, TurnFilter, default_url
from tests.helpers import SAMPLE_CREDIT, answer, invoke, retriever_for, run_ingest, write

TABLES = {
    "users",
    "conversations",
    "turns",
    "feedback",
    "questions_asked",
    "pending_updates",
    "comment_prompts",
    "handovers",
    "handover_messages",
    "bot_state",
}


@pytest.fixture
async def storage(database_url):
    store = await Storage.open(database_url)
    yield store
    await store.close()


async def rows(storage: Storage, sql: str, **params) -> list[tuple]:
    """Run SQL as an admin would, outside the program's API."""
    async with storage.engine.begin() as connection:
        result = await connection.execute(text(sql), params)
        return [tuple(r) for r in result] if result.returns_rows else []


async def test_migrations_create_a_private_wal_database(tmp_path):
    storage = await Storage.open(default_url(tmp_path))
    await storage.close()
    db = tmp_path / "transcripts.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        assert conn.execute("pragma journal_mode").fetchall() == [("wal",)]
    assert TABLES | {"turns_fts", "alembic_version"} <= tables


async def test_migrations_bring_a_new_database_to_the_newest_schema(storage):
    async with storage.engine.connect() as connection:
        tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert TABLES | {"alembic_version"} <= tables
    assert await rows(storage, "select version_num from alembic_version") == [(newest_revision(),)]


def newest_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from bot.storage.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


OPEN_AND_CLOSE = "import asyncio, sys; from bot.storage import Storage; asyncio.run(Storage.open(sys.argv[1]))"


async def test_worker_processes_starting_together_migrate_once(postgres_url):
    """Several webhook workers start at once against one PostgreSQL database: one migrates,
    the others wait for it (an advisory lock) and find the schema current."""
    starts = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", OPEN_AND_CLOSE, postgres_url, stderr=PIPE)
        for _ in range(3)
    ]
    errors = [(await p.communicate())[1].decode() for p in starts]
    assert [p.returncode for p in starts] == [0, 0, 0], errors
    storage = await Storage.open(postgres_url)
    try:
        assert await rows(storage, "select version_num from alembic_version") == [(newest_revision(),)]
    finally:
        await storage.close()


async def test_a_database_newer_than_the_code_is_refused(database_url, storage):
    await rows(storage, "update alembic_version set version_num = '0099'")
    with pytest.raises(StorageError, match=r"schema \(version 0099\) is newer than this version"):
        await Storage.open(database_url)


async def test_context_reads_and_each_turn_records_the_owner_as_seen(storage):
    """A question's context is read (created on first use); the owner's names and last seen
    are written with the turn, so a renamed owner is found by the new @username."""
    conversation, history, profile = await storage.context("tg:7", "tg-chat:7", names=("rosie", "Rosie B"))
    assert history == [] and profile.is_empty()
    first_seen = (await storage.get_user("tg:7")).last_seen
    assert await storage.context("tg:7", "tg-chat:7") == (conversation, [], profile)
    turn = await storage.record_turn(conversation, "tg:7", answer("Cash tight?"), 5, names=("rosie_bakes", None))
    user = await storage.get_user("tg:7")
    assert (user.username, user.display_name) == ("rosie_bakes", "Rosie B") and user.last_seen >= first_seen
    assert await storage.user_by_username("ROSIE_BAKES") == "tg:7"
    conversation_again, history, _profile = await storage.context("tg:7", "tg-chat:7")
    assert conversation_again == conversation and [e.question for e in history] == ["Cash tight?"]
    await storage.mark_delivered(turn, False)
    assert (await storage.get_turn(turn)).delivered is None  # marked within a second, with others
    await storage.flush()
    assert (await storage.get_turn(turn)).delivered is False


async def test_delivery_marks_that_cannot_be_written_are_logged_and_the_next_ones_are(storage, caplog):
    """Marks go in a second later, beside other work: a database failure then is logged (the
    turn's delivery stays 'not known'), raises into nobody's answer, and stops no later mark."""
    conversation = (await storage.context("tg:1", "tg-chat:1"))[0]
    first = await storage.record_turn(conversation, "tg:1", answer("Cash tight?"), 5)
    await rows(storage, "alter table turns rename to turns_away")
    await storage.mark_delivered(first, True)
    await storage.flush()
    assert "1 delivery marks could not be stored" in caplog.text
    await rows(storage, "alter table turns_away rename to turns")
    second = await storage.record_turn(conversation, "tg:1", answer("And now?"), 5)
    await storage.mark_delivered(second, False)
    await storage.flush()
    assert (await storage.get_turn(first)).delivered is None and (await storage.get_turn(second)).delivered is False


async def test_turns_and_feedback_round_trip(storage):
    await storage.touch_user("tg:1", username="rosie")
    conversation = await storage.current_conversation("tg:1", "tg:1")
    turn_id = await storage.record_turn(
        conversation, "tg:1", answer("Cash tight?", mode="llm", model="openai:x", input_tokens=50), 812.5
    )
    await storage.record_feedback(turn_id, "tg:1", "down")
    await storage.add_feedback_comment(turn_id, "tg:1", "I needed steps for a café")
    turn = await storage.get_turn(turn_id)
    assert (turn.question, turn.mode, turn.model, turn.latency_ms, turn.input_tokens) == (
        "Cash tight?",
        "llm",
        "openai:x",
        812.5,
        50,
    )
    assert turn.sources == [
        {
            "number": 1,
            "path": "credit/invoice-finance.md",
            "title": "Invoice finance",
            "heading": "Invoice finance > How",
            "score": 0.61,
            "excerpt": "…",
        }
    ]
    assert (turn.feedback, turn.comments) == ("down", ["I needed steps for a café"])
    await storage.record_feedback(turn_id, "tg:1", "up")  # changing one's mind replaces the rating
    assert (await storage.get_turn(turn_id)).feedback == "up"


async def test_memory_survives_a_restart_and_new_starts_fresh(database_url, storage):
    await storage.touch_user("tg:1")
    conversation = await storage.current_conversation("tg:1", "tg:1")
    await storage.record_turn(conversation, "tg:1", answer("First question?"), 10)
    await storage.set_profile("tg:1", Profile(industry="bakery"))
    await storage.close()
    reopened = await Storage.open(database_url)
    try:
        same = await reopened.current_conversation("tg:1", "tg:1")
        assert same == conversation
        assert [e.question for e in await reopened.history(same)] == ["First question?"]
        assert (await reopened.profile("tg:1")).industry == "bakery"
        fresh = await reopened.new_conversation("tg:1", "tg:1")
        assert fresh != conversation and await reopened.history(fresh) == []
    finally:
        await reopened.close()


async def test_fifty_concurrent_writers_lose_nothing(storage):
    async def owner(n: int) -> None:
        user = f"tg:{n}"
        await storage.touch_user(user)
        conversation = await storage.current_conversation(user, user)
        for i in range(4):
            turn_id = await storage.record_turn(conversation, user, answer(f"q{n}-{i}"), 5)
            await storage.record_feedback(turn_id, user, "up" if i % 2 else "down")

    await asyncio.gather(*(owner(n) for n in range(50)))
    turns = await storage.list_turns(TurnFilter(), limit=None)
    assert sorted(t.question for t in turns) == sorted(f"q{n}-{i}" for n in range(50) for i in range(4))
    assert all(t.feedback in ("up", "down") for t in turns)


async def test_forget_removes_that_owner_and_nothing_of_others(storage):
    for user in ("tg:1", "tg:2"):
        await storage.touch_user(user)
        await storage.set_profile(user, Profile(industry="retail"))
        conversation = await storage.current_conversation(user, user)
        turn = await storage.record_turn(conversation, user, answer(f"question of {user}"), 5)
        await storage.record_feedback(turn, user, "up")
        await storage.record_event("voice_unanswered", user)
    group = await storage.current_conversation("group:9", "tg:2")
    shared_turn = await storage.record_turn(group, "tg:2", answer("group question"), 5)
    await storage.record_feedback(shared_turn, "tg:1", "down")  # tg:1 rated tg:2's answer
    counts = await storage.forget("tg:1")
    assert counts == {"turns": 1, "feedback": 2}
    owned = (("users", "id"), ("turns", "user_id"), ("feedback", "user_id"), ("conversations", "started_by"))
    owned += (("events", "user_id"),)
    for table, column in owned:
        assert await rows(storage, f"select count(*) from {table} where {column} = 'tg:1'") == [(0,)], table
    assert await rows(storage, "select count(*) from turns where user_id = 'tg:2'") == [(2,)]
    assert (await storage.profile("tg:2")).industry == "retail"
    assert [t.question for t in await storage.list_turns(TurnFilter(search="question of"))] == ["question of tg:2"]
    assert await storage.count_events(dt.datetime(2000, 1, 1)) == {"voice_unanswered": 2}  # unlinked, still counted


async def test_forget_keeps_an_admins_block(storage):
    await storage.set_status("tg:5", "blocked")
    await storage.forget("tg:5")
    assert await storage.users_with_status("blocked") == {"tg:5"}


async def test_prune_deletes_only_turns_older_than_the_retention(storage):
    await storage.touch_user("tg:1")
    conversation = await storage.current_conversation("tg:1", "tg:1")
    old = await storage.record_turn(conversation, "tg:1", answer("old question"), 5)
    await storage.record_feedback(old, "tg:1", "up")
    await storage.record_turn(conversation, "tg:1", answer("new question"), 5)
    await rows(storage, "update turns set created_at = :when where id = :id", when=dt.datetime(2020, 1, 1), id=old)
    assert await storage.prune(older_than_days=30) == 1
    assert [t.question for t in await storage.list_turns(TurnFilter())] == ["new question"]
    assert await rows(storage, "select count(*) from feedback") == [(0,)]


async def test_a_storage_failure_is_logged_and_the_owner_still_gets_the_answer(
    storage, settings, kdir, embedder, caplog
):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    run_ingest(settings, embedder)
    dialogue = Dialogue(Advisor(retriever_for(settings, embedder), settings), storage)
    await rows(storage, "drop table turns" + (" cascade" if storage.shared else ""))
    reply = await dialogue.ask("tg:1", "tg:1", "How can I get credit without collateral?")
    assert reply.answer.covered and "[1]" in reply.answer.text
    assert reply.turn_id is None
    assert "the answer is sent anyway" in caplog.text or "answering without memory" in caplog.text


def test_the_terminal_chat_stores_turns_and_remembers_across_runs(tmp_path, kdir, embedder, settings):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    run_ingest(settings, embedder)
    env = {"KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(settings.data_dir)}
    first = invoke("chat", env=env, input="How can I get credit without collateral?\n")
    assert first.returncode == 0, first.stderr
    second = invoke("chat", env=env, input="what about for exporters?\n")
    assert second.returncode == 0, second.stderr
    listed = invoke("transcripts", "list", "--json", env=env)
    turns = json.loads(listed.stdout)
    assert [t["question"] for t in turns] == ["what about for exporters?", "How can I get credit without collateral?"]
    assert "collateral" in turns[0]["standalone_question"]  # the follow-up used the stored memory
    assert turns[0]["conversation_id"] == turns[1]["conversation_id"]


# --------------------------------------------------------------------------- shared by bot processes


async def test_question_limits_count_per_minute_and_per_day(storage):
    day = 86400 * 20_000
    ask = [await storage.take_question("tg:1", 2, 3, now=day + t) for t in (0, 1, 2)]
    assert ask[:2] == [None, None] and ask[2] == pytest.approx(58)  # the third within a minute waits
    assert await storage.take_question("tg:2", 2, 3, now=day + 2) is None  # limits are per owner
    assert await storage.take_question("tg:1", 2, 3, now=day + 61) is None  # the third of the day
    assert await storage.take_question("tg:1", 2, 3, now=day + 200) == pytest.approx(86400 - 200)
    assert await storage.take_question("tg:1", 2, 3, now=day + 86400) is None  # a new UTC day


async def test_a_question_given_back_no_longer_counts(storage):
    day = 86400 * 20_000
    assert [await storage.take_question("tg:1", 2, 3, now=day + t) for t in (0, 1)] == [None, None]
    await storage.take_question("tg:2", 2, 3, now=day + 1)
    await storage.give_back_question("tg:1")  # the second was not answered after all
    assert await storage.take_question("tg:1", 2, 3, now=day + 2) is None
    assert await storage.take_question("tg:1", 2, 3, now=day + 3) == pytest.approx(57)  # the first counts still


async def test_two_processes_share_one_question_limit(database_url, storage):
    other = await Storage.open(database_url)  # a second bot process on the same database
    try:
        results = await asyncio.gather(
            *(
                store.take_question("tg:7", 5, 100, now=1_000_000.0 + i / 100)
                for i, store in enumerate([storage, other] * 10)
            )
        )
    finally:
        await other.close()
    assert sum(r is None for r in results) == 5


async def test_an_admins_block_reaches_every_process_at_once(database_url, storage):
    other = await Storage.open(database_url)
    try:
        here, there = Access(storage, frozenset({1}), frozenset()), Access(other, frozenset({1}), frozenset())
        assert await there.may_use(42)
        await here.block(42)
        assert not await there.may_use(42) and await there.may_use(43)
        await here.allow(42)
        assert await there.may_use(42)
    finally:
        await other.close()


async def test_a_chats_updates_are_answered_in_order_across_processes(database_url, storage):
    other = await Storage.open(database_url)
    answered: list[int] = []

    async def answer(store: Storage, chat: int, update_id: int, seconds: float) -> None:
        async with store.chat_turn(chat, update_id):
            await asyncio.sleep(seconds)
            answered.append(update_id)

    try:
        assert await storage.register_update(500, 1) and await other.register_update(500, 2)
        assert await storage.register_update(501, 3)
        assert not await other.register_update(500, 1)  # delivered again: answered once
        # the later update reaches its process first, and the other chat does not wait at all
        await asyncio.gather(answer(other, 500, 2, 0), answer(storage, 500, 1, 0.3), answer(storage, 501, 3, 0))
    finally:
        await other.close()
    assert answered == [3, 1, 2]


@pytest.mark.hostile
async def test_a_question_a_killed_process_took_and_never_answered_is_claimed_once(database_url, storage):
    """A webhook worker killed while it wrote an answer left no turn: its owner heard nothing
    (3 of 6 in the two-worker kill test). The question's row stays unanswered; once it is old
    enough, one process claims it, and the chat is returned unless it got a turn since."""
    other = await Storage.open(database_url)
    now = 1_000_000.0
    try:
        await storage.set_language("tg:600", "es")
        for chat, update_id in ((600, 1), (600, 2), (601, 3), (602, 4), (603, 5)):
            assert await storage.register_update(chat, update_id)
        async with storage.engine.begin() as connection:
            await connection.execute(text("update pending_updates set received_at = :at"), {"at": now - 400})
            await connection.execute(
                text("update pending_updates set received_at = :at where chat_id = 603"), {"at": now - 60}
            )
        await storage.mark_answered(602, 4)  # answered by a live process
        await storage.touch_user("tg:601")
        conversation = await storage.current_conversation("tg-chat:601", "tg:601")
        await storage.record_turn(conversation, "tg:601", answer("Cash tight?"), 5)  # stored: claim_unsent's
        claims = await asyncio.gather(
            *(s.claim_unanswered(older_than=300, newer_than=900, now=now) for s in (storage, other))
        )
        assert sorted(c for claimed in claims for c in claimed) == [(600, "es")]  # once, for both of its updates
        assert not await storage.claim_unanswered(older_than=300, newer_than=900, now=now + 1)
        assert await storage.claim_unanswered(older_than=30, newer_than=900, now=now) == [(603, None)]  # was too young
    finally:
        await other.close()


async def test_a_comment_prompt_is_answered_once_and_only_by_its_owner(storage):
    await storage.touch_user("tg:1")
    conversation = await storage.current_conversation("tg:1", "tg:1")
    turn = await storage.record_turn(conversation, "tg:1", answer("Cash tight?"), 5)
    await storage.add_comment_prompt(900, 77, turn, "tg:1")
    assert await storage.take_comment_prompt(900, 77, "tg:2") is None
    assert await storage.take_comment_prompt(900, 77, "tg:1") == turn
    assert await storage.take_comment_prompt(900, 77, "tg:1") is None


async def test_an_older_database_is_upgraded_with_its_search_intact(tmp_path):
    """A database from before 0003 gains the new columns in place: its full-text triggers stay."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from bot.storage.database import MIGRATIONS

    path = tmp_path / "old.db"
    with create_engine(f"sqlite:///{path}").begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text("insert into users (id, first_seen, last_seen, status, profile) values ('tg:1', 0, 0, 'active', '{}')")
        )
        connection.execute(text("insert into conversations (chat_id, started_at) values ('tg:1', 0)"))
        connection.execute(
            text(
                "insert into turns (conversation_id, user_id, question, answer, covered, mode, sources, created_at)"
                " values (1, 'tg:1', 'old kombucha question', 'a', 1, 'offline', '[]', 0)"
            )
        )
    storage = await Storage.open(f"sqlite+aiosqlite:///{path}")
    try:
        conversation = await storage.current_conversation("tg:1", "tg:1")
        new = await storage.record_turn(conversation, "tg:1", answer("new kombucha question"), 5)
        await storage.mark_delivered(new, True)
        await storage.flush()  # marks are otherwise written within a second, many together
        found = await rows(storage, "select rowid from turns_fts where turns_fts match 'kombucha' order by rowid")
        assert found == [(1,), (new,)]
        assert (await storage.get_turn(new)).delivered is True
    finally:
        await storage.close()


async def test_a_handover_is_resolved_or_expired_once_whichever_worker_sees_it(storage, database_url):
    """Two processes (two `Storage`s on one database, as two webhook workers) race to close the
    same hand-over and to claim the digest: exactly one of each wins."""
    other = await Storage.open(database_url)
    try:
        handover = await storage.open_handover("tg:5", 5, "Help with a loan", hours=1, language="es")
        await storage.add_handover_message(-100, 42, handover.id, "Help with a loan")
        found, question = await other.handover_of_message(-100, 42)
        assert (found.id, found.user_id, found.status, question) == (handover.id, "tg:5", "open", "Help with a loan")
        assert (await other.active_handover("tg:5"))[0].id == handover.id
        wins = await asyncio.gather(
            storage.resolve_handover(handover.id, "a"), other.resolve_handover(handover.id, "b")
        )
        assert sum(w is not None for w in wins) == 1
        assert await storage.active_handover("tg:5") == (None, None)

        late = await storage.open_handover("tg:5", 5, "Another question", hours=1)
        await rows(
            storage, "update handovers set expires_at = :past where id = :id", past=dt.datetime(2020, 1, 1), id=late.id
        )
        seen = await asyncio.gather(storage.active_handover("tg:5"), other.active_handover("tg:5"))
        assert [s[0] for s in seen] == [None, None] and sum(s[1] is not None for s in seen) == 1  # announced once
        assert await storage.count_handovers(dt.datetime(2020, 1, 1)) == {"asked": 2, "resolved": 1, "open": 0}

        first = await asyncio.gather(storage.claim_state("digest", None, "t1"), other.claim_state("digest", None, "t1"))
        assert sorted(first) == [False, True]
        second = await asyncio.gather(
            storage.claim_state("digest", "t1", "t2"), other.claim_state("digest", "t1", "t2")
        )
        assert sorted(second) == [False, True] and await other.get_state("digest") == "t2"

        assert (await storage.forget("tg:5"))["turns"] == 0
        assert await other.handover_of_message(-100, 42) is None  # /forget takes the hand-overs too
    finally:
        await other.close()


@pytest.mark.hostile
async def test_an_owner_has_one_open_request_however_fast_they_ask(storage, database_url):
    """Taps of "Talk to a consultant" raced each other: 21 cards in 39 s. Requests at once for the
    same owner (from two workers on PostgreSQL; a SQLite file has one process) open one hand-over;
    the others join it."""
    other = await Storage.open(database_url)
    try:
        await storage.touch_user("tg:7", "seven", "Seven")
        workers = (storage, other) if storage.shared else (storage,)
        asks = [(s, f"request {n}") for n in range(6) for s in workers]
        results = await asyncio.gather(*(s.request_handover("tg:7", 7, text, hours=1) for s, text in asks))
        assert sum(opened for _handover, opened in results) == 1
        assert len({handover.id for handover, _opened in results}) == 1
        assert await storage.count_handovers(dt.datetime(2020, 1, 1)) == {"asked": 1, "resolved": 0, "open": 1}
    finally:
        await other.close()
