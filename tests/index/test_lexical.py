"""BM25 beside the vectors: tokenising by language, junk that cannot dominate, save and load."""

from __future__ import annotations

from bot.index.fusion import Fusion, fuse, fuse_scores
from bot.index.lexical import LexicalIndex, tokenize


def meta(language: str = "en", heading: str = "") -> dict:
    return {"language": language, "heading": heading}


def test_tokens_are_stemmed_without_stop_words_in_the_files_language():
    assert tokenize("How should I be invoicing my customers?") == ["invoic", "custom"]
    assert tokenize("Wie finanziere ich die Rechnungen meiner Kunden?", "de") == ["finanzi", "rechnung", "kund"]


def test_an_exact_rare_term_finds_its_chunk_and_the_heading_counts():
    index = LexicalIndex.build(
        ["a", "b", "c"],
        ["Cash flow and paying suppliers on time.", "The DSCR compares income with loan repayments.", "Hiring."],
        [meta(), meta(), meta(heading="Apprentices > Hiring your first apprentice")],
    )
    assert [i for i, _ in index.search("what is DSCR", 3)] == ["b"]
    assert index.search("taking on an apprentice", 3)[0][0] == "c"
    assert index.search("zzz unknown words", 3) == []


def test_a_chunk_repeating_a_word_does_not_outscore_prose_about_it():
    prose = "Invoice finance advances cash against unpaid invoices, so the invoice pays you early."
    junk = " ".join(["invoice"] * 60)
    index = LexicalIndex.build(["prose", "junk"], [prose, junk], [meta(), meta()])
    assert index.search("invoice finance against unpaid invoices", 2)[0][0] == "prose"


def test_saved_and_loaded_it_answers_the_same(tmp_path):
    index = LexicalIndex.build(["a", "b"], ["Export licences.", "Import duties and tariffs."], [meta(), meta()])
    index.save(tmp_path)
    index.save(tmp_path)  # replacing an earlier one
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.search("tariffs on imports", 2) == index.search("tariffs on imports", 2)
    assert LexicalIndex.load(tmp_path / "nothing") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lexical"]  # no temporary folders left


def test_fusion_by_rank_and_by_score():
    assert fuse(["a", "b", "c"], ["b", "c"], Fusion(method="rrf", lexical_weight=1.0)) == ["b", "c", "a"]
    dense = {"a": 0.62, "b": 0.60}
    assert fuse_scores(dense, {"b": 7.0, "a": 1.0}, Fusion(lexical_weight=0.08)) == ["b", "a"]  # a near-tie broken
    assert fuse_scores({"a": 0.70, "b": 0.55}, {"b": 7.0}, Fusion(lexical_weight=0.08)) == ["a", "b"]  # not a big gap
