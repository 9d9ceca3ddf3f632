"""Embedding backends: the ONNX export gives sentence-transformers' vectors, faster, without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bot.config import load_settings
from bot.index import Embedder, make_embedder
from tests.helpers import ROOT

TEXTS = [
    "How can a small business get credit without collateral?",
    "tariffs",
    "Invoice finance advances cash against unpaid customer invoices. " * 30,  # longer than 256 word pieces
]


def test_onnx_vectors_match_sentence_transformers():
    onnx = make_embedder(load_settings(embedding_backend="onnx", _env_file=None))
    torch = Embedder()  # sentence-transformers on torch
    reference = torch.embed(TEXTS)
    vectors = onnx.embed(TEXTS)
    assert vectors.shape == reference.shape
    assert np.min(np.sum(vectors * reference, axis=1)) > 0.9999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([onnx.embed_query(text) for text in TEXTS])
    assert np.min(np.sum(one_by_one * reference, axis=1)) > 0.9999  # padding in a batch changes nothing
    # the same vectors: an index built with either backend serves the other, no re-embedding
    assert onnx.fingerprint == torch.fingerprint


def test_int8_is_another_model_for_the_index():
    int8 = make_embedder(load_settings(embedding_backend="onnx-int8", _env_file=None))
    assert int8.fingerprint != Embedder().fingerprint  # switching to it re-embeds at the next ingest
    vector = int8.embed_query("How do I price my services?")
    assert vector.shape == (384,) and abs(np.linalg.norm(vector) - 1) < 1e-5


def test_the_default_8_bit_copy_keeps_the_vectors_close_and_is_another_model_for_the_index(embedder):
    """The default backend's MiniLM (`onnx-q8`) rounds each block of 32 weights to bytes: its
    vectors stay within a cosine of 0.999 of the float model's, and an index records it as
    another model (switching re-embeds at the next ingest, never mixes)."""
    float_model = make_embedder(load_settings(embedding_backend="onnx", _env_file=None))
    assert embedder.onnx_file == "encoder.q8.onnx" and embedder.model.path.name == "encoder.q8.onnx"
    vectors, reference = embedder.embed(TEXTS), float_model.embed(TEXTS)
    assert np.min(np.sum(vectors * reference, axis=1)) > 0.999
    assert np.max(np.abs(vectors - reference)) > 1e-4  # rounded: not the float model under another name
    assert embedder.fingerprint not in {float_model.fingerprint, Embedder().fingerprint}


@pytest.mark.parametrize(
    ("backend", "question"),
    [
        ("onnx-q8", "How can a small business get credit without collateral?"),  # MiniLM alone
        ("onnx-q8+e5", "¿Cómo funciona el factoring de facturas?"),  # the default: searched with e5
    ],
)
def test_asking_never_imports_torch(shared_index_dir, backend, question):
    code = (
        "import sys, json; from bot.channels.cli import cli\n"
        f"try:\n cli(['ask', '--json', {question!r}])\n"
        "except SystemExit: pass\n"
        "print(json.dumps({'torch': 'torch' in sys.modules}))"
    )
    env = {"DATA_DIR": str(shared_index_dir), "EMBEDDING_BACKEND": backend, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    answer, modules = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
    assert answer["covered"] and answer["sources"][0]["path"].startswith("credit/")
    assert modules == {"torch": False}


def test_a_serving_warm_up_leaves_nothing_for_the_first_question_to_load(shared_index_dir):
    """The bot warms up before its first poll: one thread per question chosen first, then every
    lazy part loaded. The first owner's question then opens no model session (choosing the
    threads after warming up used to throw one away) and reads no sections of its own; nor does
    anything load the chunks' vector indexes or BM25, which answers no longer need."""
    from bot.index import make_retriever
    from bot.index.language import _identifier

    settings = load_settings(knowledge_dir=ROOT / "knowledge", data_dir=shared_index_dir, _env_file=None)
    retriever = make_retriever(settings)
    retriever.warm_up()
    minilm, e5 = retriever.embeddings.primary.model, retriever.embeddings.multilingual.model
    sessions, index, sections = (minilm.session, e5.session), retriever.index, retriever.section_index()
    assert minilm.threads == e5.threads == 1 and _identifier.cache_info().currsize == 1
    found = retriever.sections("How can a small business get credit without collateral?", second_opinion=True)
    assert found.matches[0].section.path.startswith("credit/")
    assert retriever.sections("¿Cómo obtener crédito sin garantía?").matches[0].section.path.startswith("credit/")
    assert (minilm.session, e5.session) == sessions and retriever.index is index
    assert retriever.section_index() is sections and retriever._lexical is None


def _older_export(tmp_path):
    """A copy of MiniLM's export as releases before the split made it: the whole model only."""
    import shutil

    from bot.index.onnx_model import ONNX_FILE

    folder = tmp_path / "onnx"
    folder.mkdir()
    for name in ("tokenizer.json", "pooling.json", ONNX_FILE):
        shutil.copy(Embedder(backend="onnx").onnx_dir / name, folder / name)
    (folder / "whole.onnx").hardlink_to(folder / ONNX_FILE)  # the same model, opened as another file: unsplit
    return folder


def test_the_word_table_is_read_beside_the_model_with_the_same_vectors(tmp_path):
    """An older export gets its word table split off at first use (once); the vectors are the
    whole model's, so the index built with it needs nothing re-embedded. The table's rows are
    read, not held: the session holds ~45 MB less."""
    from bot.index.onnx_model import SPLIT_FILE, WORDS_FILE, OnnxEncoder

    folder = _older_export(tmp_path)
    split = OnnxEncoder(folder)
    assert split.words is not None and (folder / SPLIT_FILE).exists() and (folder / WORDS_FILE).exists()
    assert split.path == folder / SPLIT_FILE and "word_vectors" in [i.name for i in split.session.get_inputs()]
    whole = OnnxEncoder(folder, "whole.onnx")
    assert whole.words is None
    assert np.abs(split.encode(TEXTS) - whole.encode(TEXTS)).max() < 1e-6


def test_an_older_export_gets_its_8_bit_copy_at_first_use(tmp_path, caplog, embedder):
    """An export from before the 8-bit copy (the whole model only) is split and copied in 8-bit
    blocks when the default backend first opens it, without torch, once; its vectors are the
    copy `export-onnx` makes."""
    import logging

    from bot.index.onnx_model import Q8_FILE, SPLIT_FILE, OnnxEncoder

    folder = _older_export(tmp_path)
    with caplog.at_level(logging.INFO):
        encoder = OnnxEncoder(folder, Q8_FILE)
    assert (folder / SPLIT_FILE).exists() and encoder.path == folder / Q8_FILE and encoder.words is not None
    assert "8-bit copy" in caplog.text
    assert np.abs(encoder.encode(TEXTS) - embedder.model.encode(TEXTS)).max() < 1e-6
    made = (folder / Q8_FILE).stat().st_mtime_ns
    OnnxEncoder(folder, Q8_FILE)
    assert (folder / Q8_FILE).stat().st_mtime_ns == made  # once


def test_a_word_table_that_cannot_be_read_leaves_the_whole_model_in_use(tmp_path, caplog):
    """A folder the split cannot write into (here a directory where the table goes), or a table
    cut short: the whole model answers, with a warning naming the fix."""
    from bot.index.onnx_model import SPLIT_FILE, WORDS_FILE, OnnxEncoder

    folder = _older_export(tmp_path)
    (folder / WORDS_FILE).mkdir()
    encoder = OnnxEncoder(folder)
    assert encoder.words is None and encoder.path.name == "model.onnx" and not (folder / SPLIT_FILE).exists()
    reference = OnnxEncoder(folder, "whole.onnx").encode(TEXTS)
    assert np.abs(encoder.encode(TEXTS) - reference).max() < 1e-6
    assert "word table kept in memory" in caplog.text

    (folder / WORDS_FILE).rmdir()
    OnnxEncoder(folder)  # split now
    (folder / WORDS_FILE).write_bytes((folder / WORDS_FILE).read_bytes()[:1_000_000])
    cut = OnnxEncoder(folder)
    assert cut.words is None and np.abs(cut.encode(TEXTS) - reference).max() < 1e-6
    assert "export-onnx --force" in caplog.text
