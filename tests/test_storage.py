"""The transcript database on a real SQLite file: migrations, round-trips, rights, concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import stat

import pytest
from conftest import SAMPLE_CREDIT, invoke, retriever_for, run_ingest, write

from bot.advisor import Advisor, Answer, Source
from bot.conversation import Profile
from bot.dialogue import Dialogue
from bot.storage import Storage, StorageError, TurnFilter, default_url


def answer(question: str, text: str = "Use invoice finance [1].", **extra) -> Answer:
    """An Answer as the advisor returns it (the storage layer's input)."""
    source = Source(1, "credit/invoice-finance.md", "Invoice finance", "Invoice finance > How", 0.61, "…")
    fields = {"covered": True, "mode": "offline", "sources": [source], "standalone_question": question}
    fields["best_score"] = 0.61
    fields.update(extra)
    return Answer(question=question, text=text, **fields)


@pytest.fixture
async def storage(tmp_path):
    store = await Storage.open(default_url(tmp_path))
    yield store
    await store.close()


def rows(db, sql: str) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def test_migrations_create_a_private_wal_database(tmp_path, storage):
    db = tmp_path / "transcripts.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    tables = {r[0] for r in rows(db, "select name from sqlite_master where type = 'table'")}
    assert {"users", "conversations", "turns", "feedback", "turns_fts", "alembic_version"} <= tables
    assert rows(db, "select version_num from alembic_version") == [("0001",)]
    assert rows(db, "pragma journal_mode") == [("wal",)]


async def test_a_database_newer_than_the_code_is_refused(tmp_path, storage):
    with sqlite3.connect(tmp_path / "transcripts.db") as conn:
        conn.execute("update alembic_version set version_num = '0099'")
    with pytest.raises(StorageError, match=r"schema \(version 0099\) is newer than this version"):
        await Storage.open(default_url(tmp_path))


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


async def test_memory_survives_a_restart_and_new_starts_fresh(tmp_path, storage):
    await storage.touch_user("tg:1")
    conversation = await storage.current_conversation("tg:1", "tg:1")
    await storage.record_turn(conversation, "tg:1", answer("First question?"), 10)
    await storage.set_profile("tg:1", Profile(industry="bakery"))
    await storage.close()
    reopened = await Storage.open(default_url(tmp_path))
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


async def test_forget_removes_that_owner_and_nothing_of_others(tmp_path, storage):
    for user in ("tg:1", "tg:2"):
        await storage.touch_user(user)
        await storage.set_profile(user, Profile(industry="retail"))
        conversation = await storage.current_conversation(user, user)
        turn = await storage.record_turn(conversation, user, answer(f"question of {user}"), 5)
        await storage.record_feedback(turn, user, "up")
    group = await storage.current_conversation("group:9", "tg:2")
    shared_turn = await storage.record_turn(group, "tg:2", answer("group question"), 5)
    await storage.record_feedback(shared_turn, "tg:1", "down")  # tg:1 rated tg:2's answer
    counts = await storage.forget("tg:1")
    assert counts == {"turns": 1, "feedback": 2}
    db = tmp_path / "transcripts.db"
    owned = (("users", "id"), ("turns", "user_id"), ("feedback", "user_id"), ("conversations", "started_by"))
    for table, column in owned:
        assert rows(db, f"select count(*) from {table} where {column} = 'tg:1'") == [(0,)], table
    assert rows(db, "select count(*) from turns where user_id = 'tg:2'") == [(2,)]
    assert (await storage.profile("tg:2")).industry == "retail"
    assert [t.question for t in await storage.list_turns(TurnFilter(search="question of"))] == ["question of tg:2"]


async def test_forget_keeps_an_admins_block(storage):
    await storage.set_status("tg:5", "blocked")
    await storage.forget("tg:5")
    assert await storage.users_with_status("blocked") == {"tg:5"}


async def test_prune_deletes_only_turns_older_than_the_retention(tmp_path, storage):
    await storage.touch_user("tg:1")
    conversation = await storage.current_conversation("tg:1", "tg:1")
    old = await storage.record_turn(conversation, "tg:1", answer("old question"), 5)
    await storage.record_feedback(old, "tg:1", "up")
    await storage.record_turn(conversation, "tg:1", answer("new question"), 5)
    with sqlite3.connect(tmp_path / "transcripts.db") as conn:
        conn.execute("update turns set created_at = ? where id = ?", (dt.datetime(2020, 1, 1), old))
    assert await storage.prune(older_than_days=30) == 1
    assert [t.question for t in await storage.list_turns(TurnFilter())] == ["new question"]
    assert rows(tmp_path / "transcripts.db", "select count(*) from feedback") == [(0,)]


async def test_a_storage_failure_is_logged_and_the_owner_still_gets_the_answer(
    tmp_path, storage, settings, kdir, embedder, caplog
):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    run_ingest(settings, embedder)
    dialogue = Dialogue(Advisor(retriever_for(settings, embedder), settings), storage)
    with sqlite3.connect(tmp_path / "transcripts.db") as conn:
        conn.execute("drop table turns")
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
