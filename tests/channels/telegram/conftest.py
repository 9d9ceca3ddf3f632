"""The running bot for the Telegram tests: a fake Bot API, a fake LLM, and `start_bot`."""

from __future__ import annotations

import asyncio

import pytest

from bot.advisor import Advisor
from bot.advisor.chat_model import make_chat_model
from bot.channels.telegram.app import serve
from bot.config import load_settings
from bot.index import make_index
from bot.index.retriever import Retriever, make_retriever
from bot.storage import Storage
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_server import TOKEN, FakeTelegram
from tests.helpers import ROOT
from tests.helpers.telegram import ADMIN


@pytest.fixture
def telegram():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def llm():
    with FakeOpenAI(lambda body: Reply("Use **invoice finance** [1] and supplier credit [2].")) as server:
        yield server


class Bot:
    """A running bot: its settings, storage and a way to stop it."""

    def __init__(self, settings, storage, task, stop, application=None):
        self.settings, self.storage, self.task, self.stop_event = settings, storage, task, stop
        self.application = application  # the running telegram.ext.Application

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, 30)


@pytest.fixture
async def start_bot(tmp_path, shared_index_dir, embedder, telegram, llm):
    """Start the bot with settings overrides; stopped at the end of the test."""
    running: list[Bot] = []

    async def start(*, multilingual: bool = False, **overrides) -> Bot:
        """`multilingual`: the retriever the bot builds itself (MiniLM and e5, so questions in other
        languages than the knowledge's are understood; slower to load) instead of the English one."""
        values = {
            "knowledge_dir": ROOT / "knowledge",
            "data_dir": tmp_path,
            "index_dir": shared_index_dir / "index",
            "telegram_bot_token": TOKEN,
            "telegram_api_base_url": telegram.base_url,
            "llm_model": "openai:fake-model",
            "llm_base_url": llm.base_url,
            "llm_timeout": 10,
            "admin_user_ids": [ADMIN],
            "questions_per_minute": 100,
            "draft_interval": 0.2,
            "_env_file": None,
            **overrides,
        }
        settings = load_settings(**values)
        retriever = make_retriever(settings) if multilingual else Retriever(make_index(settings), embedder)
        advisor = Advisor(retriever, settings, make_chat_model(settings))
        storage = await Storage.open(settings.database)
        stop, ready = asyncio.Event(), asyncio.Event()
        applications = []
        task = asyncio.create_task(
            serve(settings, stop, advisor=advisor, storage=storage, ready=ready, on_ready=applications.append)
        )
        await asyncio.wait_for(_first(ready, task), 30)
        bot = Bot(settings, storage, task, stop, applications[0])
        running.append(bot)
        return bot

    yield start
    for bot in running:
        if not bot.task.done():
            await bot.stop()


async def _first(ready: asyncio.Event, task: asyncio.Task) -> None:
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises the start-up error
    waiter.cancel()
