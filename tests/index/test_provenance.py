"""Which models embedded an index, and searching it only with models that fit: the rule, a running
advisor that meets a version embedded with other models, a Chroma server, and the bot's start."""

from __future__ import annotations

import logging
import re

import pytest

from bot.config import load_settings
from bot.index import IndexMismatchError, make_embeddings, make_retriever
from bot.index.provenance import mismatch, missing_spaces, recorded_models
from bot.index.versions import current_version
from bot.knowledge import runner as ingest_runner
from bot.knowledge.ingest import Recipe
from tests.helpers import SAMPLE_CREDIT, SAMPLE_TRADE, write
from tests.helpers.live_bot import OLD_QUESTION, ask, bot_env, running_bot

FIX = "run `python ingest.py` to re-embed"
CREDIT = "credit/collateral.md"


def embeddings(backend: str):
    return make_embeddings(load_settings(embedding_backend=backend, embedding_cache=False, _env_file=None))


def built_with(backend: str, files: int = 3) -> dict[str, int]:
    """The recipes an index's files record ({recipe: files}) after an ingest with `backend`."""
    return {Recipe(500, 50, True, embeddings(backend).fingerprint).key: files}


def test_the_recipe_key_names_the_models_it_was_embedded_with():
    assert recorded_models(Recipe(500, 50, True, "a1+b2").key) == ("a1", "b2")
    assert recorded_models("") is None  # a chunk stored without a recipe tells nothing


def test_an_index_is_searched_only_with_the_models_that_embedded_it():
    assert mismatch(built_with("e5"), embeddings("onnx+e5")) == (
        f"the index was built with EMBEDDING_BACKEND=e5 but the setting is onnx+e5: {FIX}"
    )
    assert mismatch(built_with("onnx+e5"), embeddings("e5")) == (
        f"the index was built with EMBEDDING_BACKEND=onnx+e5 but the setting is e5: {FIX}"
    )
    assert mismatch(built_with("onnx-int8"), embeddings("onnx")) == (
        f"the index was built with EMBEDDING_BACKEND=onnx-int8 but the setting is onnx: {FIX}"
    )
    # an index from before the 8-bit default is re-embedded, not searched with other vectors
    assert mismatch(built_with("onnx+e5"), embeddings("onnx-q8+e5")) == (
        f"the index was built with EMBEDDING_BACKEND=onnx+e5 but the setting is onnx-q8+e5: {FIX}"
    )
    assert mismatch({Recipe(500, 50, True, "0123456789ab").key: 1}, embeddings("e5")) == (
        f"the index was built with other embedding models (0123456789ab) than EMBEDDING_BACKEND=e5: {FIX}"
    )
    assert mismatch(built_with("onnx"), embeddings("torch")) is None  # the same model, the same vectors
    assert mismatch(built_with("onnx+e5"), embeddings("onnx")) is None  # fewer spaces than the index keeps
    assert mismatch({}, embeddings("onnx+e5")) is None  # an empty index
    # a file that turned unreadable keeps its chunks from the old model: the index is still searched
    assert mismatch(built_with("onnx+e5") | built_with("e5", files=1), embeddings("onnx+e5")) is None
    # a space the setting searches that the index lacks: searched, with a warning
    assert mismatch(built_with("onnx"), embeddings("onnx+e5")) is None
    assert missing_spaces(built_with("onnx"), embeddings("onnx+e5")) == (
        "the index was built with EMBEDDING_BACKEND=onnx, without the e5 space the setting onnx+e5 also "
        f"searches: questions searched there are asked to come back until it is built (a first start builds "
        f"it behind the bot; else {FIX})"
    )
    assert missing_spaces(built_with("onnx+e5"), embeddings("onnx+e5")) is None


def test_a_running_advisor_keeps_its_version_when_an_ingest_used_other_models(settings, kdir, caplog):
    onnx = settings.model_copy(update={"embedding_backend": "onnx"})
    e5 = settings.model_copy(update={"embedding_backend": "e5"})
    write(kdir, CREDIT, SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    ingest_runner.run_ingest(onnx)
    retriever = make_retriever(onnx)
    assert retriever.retrieve(OLD_QUESTION)[0].path == CREDIT

    ingest_runner.run_ingest(e5)  # every file embedded again, with e5, into version 2
    assert current_version(settings.index_path) == 2
    with caplog.at_level(logging.INFO, logger="bot.index.reloader"):
        assert retriever.retrieve(OLD_QUESTION)[0].path == CREDIT
        assert retriever.retrieve(OLD_QUESTION)[0].path == CREDIT
    assert retriever.index.version == 1
    assert [r.getMessage() for r in caplog.records if r.name == "bot.index.reloader"] == [
        "index version 2 is not used (staying on version 1): the index was built with EMBEDDING_BACKEND=e5 "
        f"but the setting is onnx: {FIX}"
    ]

    ingest_runner.run_ingest(onnx)  # embedded with the advisor's model again: version 3, followed
    assert retriever.retrieve(OLD_QUESTION)[0].path == CREDIT
    assert retriever.index.version == 3


def test_a_chroma_server_index_is_refused_until_an_ingest_re_embeds_it(chroma_server, settings, kdir):
    served = settings.model_copy(update={"chroma_url": chroma_server})
    write(kdir, CREDIT, SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    ingest_runner.run_ingest(served.model_copy(update={"embedding_backend": "e5"}))

    onnx = served.model_copy(update={"embedding_backend": "onnx"})
    retriever = make_retriever(onnx)
    refusal = f"the index was built with EMBEDDING_BACKEND=e5 but the setting is onnx: {FIX}"
    with pytest.raises(IndexMismatchError, match=f"^{re.escape(refusal)}$"):
        retriever.retrieve(OLD_QUESTION)

    ingest_runner.run_ingest(onnx)  # in place, on the server: the same retriever looks again
    assert retriever.retrieve(OLD_QUESTION)[0].path == CREDIT


async def test_the_bot_re_embeds_at_start_and_says_so_in_one_line_when_it_cannot(settings, kdir, tmp_path):
    write(kdir, CREDIT, SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    ingest_runner.run_ingest(settings.model_copy(update={"embedding_backend": "e5"}))
    env = bot_env(settings)  # the default backend, onnx-q8+e5

    elsewhere = kdir.rename(tmp_path / "elsewhere")  # the start-up ingest cannot re-embed
    async with running_bot(env, tmp_path / "stuck.log") as telegram:
        reply = await ask(telegram, 100, OLD_QUESTION)
    assert "something went wrong" in reply and "don't have material" not in reply
    log = (tmp_path / "stuck.log").read_text()
    line = (
        "ERROR bot.index.retriever: cannot search the knowledge index: the index was built with "
        f"EMBEDDING_BACKEND=e5 but the setting is onnx-q8+e5: {FIX}\n"
    )
    assert log.count(line) == 1, log

    elsewhere.rename(kdir)
    fresh = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'started.db'}"}  # the fake's update ids start at 1 again
    async with running_bot({**env, **fresh}, tmp_path / "started.log") as telegram:
        reply = await ask(telegram, 100, OLD_QUESTION)
    assert "1. Credit without collateral" in reply
    assert "cannot search the knowledge index" not in (tmp_path / "started.log").read_text()
