"""A knowledge file in another language than English (front matter `language: es`), with the real
`python -m bot run`: its start-up ingest records the language with every chunk, /topics lists the
file, and a Spanish question finds it offline, with sources."""

from __future__ import annotations

import json
import sqlite3

from bot.config import load_settings
from bot.index import make_index
from bot.locales import texts
from tests.helpers import SAMPLE_CREDIT, SAMPLE_TRADE, write
from tests.helpers.live_bot import bot_env, running_bot
from tests.helpers.telegram import OWNER, asked

SPANISH_PATH = "legal/registrar-una-marca.md"
SPANISH = """---
title: Registrar una marca comercial
topic: legal
language: es
---

# Registrar una marca comercial

## Por qué registrar la marca

Registrar la marca de tu pequeña empresa en la oficina nacional de propiedad industrial impide que
un competidor venda con el mismo nombre o un logotipo parecido. Sin registro, defender el nombre
ante un tribunal es lento y caro.

## Cómo presentar la solicitud

Busca primero en la base de datos de marcas si el nombre está libre, elige las clases de productos
y servicios que vendes y presenta la solicitud en línea pagando la tasa. El registro dura diez años
y se puede renovar.
"""


async def test_a_spanish_knowledge_file_is_recorded_listed_and_found(tmp_path, kdir):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    write(kdir, SPANISH_PATH, SPANISH)
    settings = load_settings(knowledge_dir=kdir, data_dir=tmp_path / "data", _env_file=None)
    es = texts("es")
    async with running_bot(bot_env(settings), tmp_path / "bot.log") as telegram:  # ingests kdir first
        (topics,) = await asked(telegram, OWNER, "/topics", language_code="es")
        (answer,) = await asked(telegram, OWNER, "¿Cómo registro la marca de mi pequeña empresa?", language_code="es")

    assert "<b>Legal</b>\n• Registrar una marca comercial" in topics
    assert "• Credit without collateral" in topics  # beside the English files
    assert f"<b>{es('Sources')}</b>" in answer and "Registrar una marca comercial" in answer
    assert "inglés" not in answer  # quoting a Spanish file, the answer does not say it is in English
    with sqlite3.connect(settings.data_dir / "transcripts.db") as conn:
        covered, sources = conn.execute("select covered, sources from turns order by id desc limit 1").fetchone()
    assert covered == 1 and json.loads(sources)[0]["path"] == SPANISH_PATH, sources

    index = make_index(settings, create=False)
    try:
        chunks = index.collection.get(include=["metadatas"])["metadatas"]
        languages = {meta["path"]: {m["language"] for m in chunks if m["path"] == meta["path"]} for meta in chunks}
        assert languages == {SPANISH_PATH: {"es"}, "credit/collateral.md": {"en"}, "trade/export.md": {"en"}}
        assert index.catalog().languages == {"en", "es"}
        assert index.catalog().topics["legal"] == ["Registrar una marca comercial"]
    finally:
        index.close()
