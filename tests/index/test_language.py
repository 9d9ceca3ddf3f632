"""The language identifier read from its unpacked copy gives py3langid's own answers, and
falls back to py3langid's way (the model read into memory) when the copy cannot be written or
is damaged."""

from __future__ import annotations

import threading

import pytest
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

from bot.index.language import identifier, unpacked_model

SHIPPED = MODEL_DIR / MODEL_FILE
QUESTIONS = [
    "How can I get working capital without collateral?",
    "¿Cómo consigo crédito sin garantía para mi panadería?",
    "Como exportar para a Argentina?",
    "Comment trouver des clients à l'étranger ?",
    "Как получить кредит без залога?",
    "如何在没有抵押的情况下获得贷款？",
    "كيف أحصل على قرض بدون ضمان؟",
    "बिना गारंटी के ऋण कैसे मिलेगा?",
    "Bagaimana cara mendapatkan pinjaman tanpa jaminan?",
    "cash flow tips",
    "",
]


@pytest.fixture(scope="module")
def py3langid_own():
    return LanguageIdentifier.from_model_file(SHIPPED, norm_probs=True)


def test_the_model_read_on_demand_ranks_every_language_as_py3langid_does(tmp_path, py3langid_own):
    mapped = identifier(SHIPPED, tmp_path)
    assert not isinstance(mapped.tk_nextmove, type(py3langid_own.tk_nextmove))  # read on demand, not loaded
    for text in QUESTIONS:
        assert mapped.rank(text) == py3langid_own.rank(text), text
        assert mapped.classify(text) == py3langid_own.classify(text), text


def test_an_unwritable_place_or_a_damaged_copy_falls_back_to_py3langid(tmp_path, py3langid_own, caplog):
    caplog.set_level("INFO")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    fallback = identifier(SHIPPED, blocked / "langid")
    assert fallback.classify(QUESTIONS[1]) == py3langid_own.classify(QUESTIONS[1])
    assert "language model read into memory" in caplog.text

    folder = unpacked_model(SHIPPED, tmp_path / "ok")
    (folder / "nextmove.bin").write_bytes(b"\0" * 10)  # truncated
    caplog.clear()
    assert identifier(SHIPPED, tmp_path / "ok").classify(QUESTIONS[4]) == py3langid_own.classify(QUESTIONS[4])
    assert "language model read into memory" in caplog.text


def test_two_processes_unpacking_at_once_each_get_a_whole_copy(tmp_path):
    folders, errors = [], []

    def unpack():
        try:
            folders.append(unpacked_model(SHIPPED, tmp_path))
        except Exception as exc:  # any failure fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=unpack) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(folders)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [folders[0].name]  # no scratch left behind
