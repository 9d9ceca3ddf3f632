"""Which embedding space a question is searched in, and e5's scores on MiniLM's scale."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.index import E5Embedder, Embedder, Embeddings, make_embeddings


@pytest.fixture(scope="module")
def both():
    return Embeddings(Embedder(), E5Embedder())


@pytest.mark.parametrize(
    ("question", "space"),
    [
        ("How do I get working capital without collateral?", "minilm"),
        ("Как получить оборотный капитал без залога?", "e5"),
        ("没有抵押品怎样获得资金？", "e5"),
        ("¿capital?", "e5"),  # too short to tell, and not plain ASCII: the multilingual model is safe for both
        ("translate 'good morning' into Japanese", "minilm"),  # unsure, but plain ASCII
        ("loans?", "minilm"),
        ("cash flow tips", "minilm"),  # English the likeliest, though unsure
        ("eWTP for my shop?", "minilm"),  # read as Nigerian Pidgin first, English a close second
        ("Como conseguir capital de giro sem garantia?", "e5"),  # Portuguese at 0.45: unsure, but not English
        ("Como exportar para a Argentina?", "e5"),
    ],
)
def test_english_questions_go_to_minilm_and_the_rest_to_e5(both, question, space):
    assert both.for_question(question).space == space


def test_a_knowledge_base_with_other_languages_sends_english_questions_to_e5_too(both):
    assert both.for_question("How do I get a loan without collateral?", languages={"en", "es"}).space == "e5"


def test_one_space_answers_everything():
    alone = Embeddings(Embedder())
    assert alone.for_question("Как получить кредит?").space == "minilm"


def test_backends_make_their_spaces():
    def spaces(backend):
        return [
            e.space for e in make_embeddings(load_settings(embedding_backend=backend, _env_file=None)).embedders
        ]
    assert spaces("onnx+e5") == spaces("onnx-q8+e5") == ["minilm", "e5"]
    assert spaces("onnx") == ["minilm"] and spaces("e5") == ["e5"]


def test_e5_similarities_are_calibrated_onto_minilms_scale():
    e5 = E5Embedder()
    assert e5.calibrate(0.80) == pytest.approx(0.32, abs=0.01)  # MIN_SCORE's default, on e5's scale
    assert e5.calibrate(0.65) == 0.0 < e5.calibrate(0.85) < e5.calibrate(0.9) < e5.calibrate(1.0) <= 1.0


def test_e5_finds_the_english_passage_for_a_russian_question():
    e5 = E5Embedder()
    passages = e5.embed(["Invoice finance advances cash against unpaid invoices.", "How to bake sourdough bread."])
    scores = passages @ e5.embed_query("Как получить деньги по неоплаченным счетам?")
    assert scores[0] > scores[1]


def test_a_question_embedded_in_both_spaces_at_once_gets_each_models_own_vector(both):
    """The second model runs beside the first (two cores: an English question costs the slower
    model's time, not both), from several threads at once, each question its own vectors."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    questions = [f"How do I price cakes for {n} guests?" for n in range(6)]
    alone = [{e.space: e.embed([q], questions=True)[0] for e in both.embedders} for q in questions]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(lambda q: both.embed_question(q, both.embedders), questions))
    for one, other in zip(alone, together, strict=True):
        assert list(other) == ["minilm", "e5"]
        for space in one:
            assert np.allclose(one[space], other[space], atol=1e-5)


def test_embedding_many_texts_reports_its_work_as_it_goes():
    """A first ingest's progress line moves while a group of passages is embedded (each part's
    share of the work as it finishes), not only once the group is written."""
    embeddings = make_embeddings(load_settings(embedding_cache=False, _env_file=None))  # the default: ONNX, threads
    texts = [f"Passage {n} about invoices and cash flow." for n in range(300)]
    shares: list[float] = []
    [vectors] = embeddings.embed_kinds([texts], [False], shares.append)
    assert len(shares) >= 4 and abs(sum(shares) - 1.0) < 1e-9
    assert vectors["e5"].shape == (300, 384) and vectors[None].shape == (300, 384)
