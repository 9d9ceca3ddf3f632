"""BM25 beside the vectors: tokenising by language, junk that cannot dominate, save and load."""

from __future__ import annotations

import json
import subprocess
import sys

from bot.index.fusion import Fusion, fuse, fuse_scores
from bot.index.lexical import LexicalIndex, tokenize
from tests.helpers import ROOT


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


def test_a_paragraph_repeated_across_files_is_not_read_and_its_chunk_is_junk(tmp_path):
    footer = "Written by the Harbour Export Desk (2026). For help with export finance, write to the desk."
    texts = [
        f"{footer}",  # a chunk that is only the footer
        "Letters of credit: the buyer's bank promises to pay once the documents arrive.",
        "Incoterms say who pays for freight, insurance and duties, and where the goods change hands on"
        f" the way.\n\n{footer.replace('2026', '2025')}",  # another year: the same footer
        "Currency risk: invoice in your own currency, or agree a forward rate with your bank before you"
        f" quote a price abroad.\n\n{footer}",
    ]
    metas = [{"path": p} for p in ("a.md", "b.md", "c.md", "d.md")]
    index = LexicalIndex.build(["a", "b", "c", "d"], texts, metas)
    assert index.junk == {"a"}  # the others are mostly their own prose
    assert [i for i, _ in index.search("help with export finance", 4)] == []  # the footer's words are not read
    assert index.search("letters of credit", 4)[0][0] == "b"
    index.save(tmp_path)
    assert LexicalIndex.load(tmp_path).junk == {"a"}
    assert LexicalIndex.build(["a", "b"], texts[:2], metas[:2]).junk == frozenset()  # in one file only: its own


def test_stop_words_are_bm25s_lists_read_without_importing_bm25s():
    """Tokenising a question (which a serving bot does) reads bm25s's stop word lists from their
    file; bm25s itself, and the scipy it imports, load only with a BM25 index."""
    script = (
        "import sys, json; from bot.index.lexical import tokenize, _STOPWORDS, _stopwords;"
        "words = tokenize('How can the small business get credit?');"
        "loaded = [m for m in ('bm25s', 'scipy') if m in sys.modules];"
        "import bm25s.stopwords as b;"
        "same = all(_stopwords(k) == frozenset(getattr(b, n)) for k, n in _STOPWORDS.items());"
        "print(json.dumps([words, loaded, same]))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["small", "busi", "get", "credit"], [], True]
