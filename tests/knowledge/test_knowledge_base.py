"""The shipped knowledge base: it ingests cleanly, the eval holds, and each seed idea is found."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from bot.advisor import Advisor
from bot.config import load_settings
from bot.index import make_index
from bot.index.evaluation import EvalSetError, load_eval_set
from bot.index.retriever import Retriever
from bot.knowledge import discover, sections
from bot.knowledge.asked import take_asked
from tests.helpers import ROOT, invoke
from tests.helpers.readme import documented

KNOWLEDGE = ROOT / "knowledge"
TOPIC_FOLDERS = ("growth", "credit", "strategy", "trade", "operations")

# Each idea of the 2019 post the product grew from, asked as an owner might, and the file(s)
# that should come first.
SEED_QUESTIONS = [
    ("What did Jack Ma mean by catching shrimps, not whales?", {"strategy/jack-ma-on-smes-at-davos.md"}),
    (
        "How can my small firm grow through leverage instead of building everything itself?",
        {"growth/leverage-instead-of-building-everything.md"},
    ),
    ("Should I join an ecosystem of partners to grow?", {"growth/joining-or-building-an-ecosystem.md"}),
    ("What is the eWTP, the electronic world trade platform?", {"trade/digital-trade-platforms-and-the-ewtp.md"}),
    (
        "Can a lender judge my credit from my sales data and ratings instead of collateral?",
        {"credit/data-driven-lending.md", "credit/collateral-free-finance-options.md"},
    ),
    ("How often should we review our strategy, every five years?", {"strategy/multi-year-strategy-reviews.md"}),
    (
        "Which problems are worth ten years of effort rather than a one-year fad?",
        {"strategy/choosing-ten-year-problems.md"},
    ),
    (
        "What will customers need in 20 years, like the health and happiness industries?",
        {"strategy/what-customers-will-need-in-20-years.md"},
    ),
    ("Is a trade war a disaster for small exporters?", {"trade/tariffs-and-trade-tensions.md"}),
    (
        "Is it true a technology revolution takes 50 years and small firms win the later decades?",
        {"strategy/the-50-year-technology-revolution.md", "strategy/jack-ma-on-smes-at-davos.md"},
    ),
    ("Will firms with fewer than 30 people really own the future?", {"growth/small-fast-teams.md"}),
    (
        "Can every small firm sell like a big one through e-commerce?",
        {"growth/selling-on-marketplaces-and-platforms.md"},
    ),
]


@pytest.fixture(scope="module")
def advisor(shared_index_dir, embedder):
    settings = load_settings(knowledge_dir=KNOWLEDGE, data_dir=shared_index_dir, _env_file=None)
    return Advisor(Retriever(make_index(settings), embedder), settings)


def test_library_shape_and_front_matter():
    files, skipped = discover(KNOWLEDGE)
    assert skipped == []
    by_folder = {}
    for path in files:
        rel = path.relative_to(KNOWLEDGE)
        by_folder.setdefault(rel.parts[0], []).append(rel)
    assert set(by_folder) == set(TOPIC_FOLDERS)
    assert 90 <= len(files) <= 130  # the starter library: about 100 files over the four themes and operations
    for path in files:
        text = path.read_text(encoding="utf-8")
        meta = yaml.safe_load(re.match(r"---\n(.*?)\n---\n", text, re.S).group(1))
        assert {"title", "topic", "tags", "audience", "updated"} <= set(meta), path
        assert meta["topic"] == path.relative_to(KNOWLEDGE).parts[0], path
        advice = [take_asked(body).text for _, body in sections(text.split("---", 2)[2])]
        words = len(" ".join(advice).split())  # what owners read; the ways of asking come on top
        assert 450 <= words <= 2600, (path, words)


def test_every_section_carries_the_ways_owners_ask_it():
    """Each section below a file's title has an `Asked:` block of several ways owners put its
    question (knowledge/README.md), so it is found for the owner's words, not only the consultant's."""
    files, _ = discover(KNOWLEDGE)
    for path in files:
        parts = sections(path.read_text(encoding="utf-8").split("---", 2)[2])
        for heading, body in parts:
            if " > " not in heading:  # the file's introduction
                continue
            ways = take_asked(body).ways
            assert len(ways) >= 5, (path.name, heading, len(ways))
            assert not take_asked(take_asked(body).text).ways, (path.name, heading)  # one block per section


def test_no_contact_details_from_the_seed_post():
    text = " ".join(p.read_text(encoding="utf-8") for p in KNOWLEDGE.rglob("*.md"))
    for needle in ("9126", "bsi.com", "Pitt Street", "Angel Place"):
        assert needle not in text


def test_eval_set_is_big_enough_and_points_at_real_files():
    """At section level, in owners' words: the tuning set and the held-out set together hold at
    least 250 questions, 60 near misses (not covered, but sharing words with the knowledge) and 20
    two-turn follow-ups, and every section they name is a real heading of a real file."""
    tuning = load_eval_set(KNOWLEDGE / "eval" / "questions.yaml")
    held_out = load_eval_set(KNOWLEDGE / "eval" / "held-out.yaml")
    every = tuning + held_out
    assert len(every) >= 250 and sum(q.near_miss for q in every) >= 60 and sum(bool(q.after) for q in every) >= 20
    assert sum(bool(q.after) for q in held_out) >= 10 and sum(q.near_miss for q in held_out) >= 20  # some aside
    headings = {}
    for path in discover(KNOWLEDGE)[0]:
        rel = str(path.relative_to(KNOWLEDGE))
        headings[rel] = {h.split(" > ")[-1] for h, _ in sections(path.read_text(encoding="utf-8")) if " > " in h}
    for question in every:
        assert question.not_covered or question.sections, question.question
        for section in question.sections:
            path, heading = section.split("#", 1)
            assert heading in headings.get(path, ()), section


def test_eval_meets_its_targets(shared_index_dir):
    """What owners see, on the tuning set and on the held-out set (real owners' questions nobody
    wrote beside the files): the answer is confidently wrong at most 5% of the time, near misses
    are declined, and retrieval still finds the right file (recall@5 at file level). The floors
    guard against regressions of the figures in docs/quality.md (the starter library of 112 files
    has more sections close to each question than the first library of 41 had). It is the
    command docs/knowledge-files.md shows, with --json."""
    env = {"DATA_DIR": str(shared_index_dir)}
    result = invoke("eval", *documented("python -m bot eval"), "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    tuning, held_out = report["tuning"], report["held_out"]
    assert tuning["recall_at_5"] >= 0.85 and held_out["recall_at_5"] >= 0.85
    for figures in (tuning, held_out):
        total = sum(figures[k] for k in ("lead_right", "honest_not_covered", "wrongly_declined", "confidently_wrong"))
        assert abs(total - 1) < 0.01
        assert figures["confidently_wrong"] <= 0.05 and figures["near_miss_declined"] >= 0.8
        assert figures["answer_words_max"] <= 230
    # what the answers lead with, right: guards against a regression (docs/quality.md has the figures)
    assert tuning["lead_right"] >= 0.37 and held_out["lead_right"] >= 0.27


def test_questions_in_other_languages_find_the_english_knowledge(shared_index_dir):
    """The multilingual eval: the same topics asked in 11 other languages, searched with the
    multilingual embedding; off-topic ones in other languages are still declined."""
    multilingual = str(KNOWLEDGE / "eval" / "questions.multilingual.yaml")
    result = invoke("eval", multilingual, "--json", env={"DATA_DIR": str(shared_index_dir)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["covered_questions"] >= 45
    assert report["recall_at_5"] >= 0.92
    assert report["not_covered_accuracy"] == 1.0 and report["false_not_covered"] <= 0.05


def test_eval_fails_the_build_when_recall_drops(shared_index_dir, tmp_path):
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "- question: How do I price my services?\n  files: [operations/pricing-your-products-and-services.md]\n"
        "- question: What is invoice factoring?\n  files: [trade/export-readiness-checklist.md]\n"
    )
    result = invoke("eval", str(wrong), "--min-recall", "0.85", env={"DATA_DIR": str(shared_index_dir)})
    assert result.returncode == 1
    assert "recall@5 0.500 is below --min-recall 0.85" in result.stderr
    assert "What is invoice factoring?" in result.stdout  # the miss is listed
    assert "Near misses declined: n/a" in result.stdout  # none in the set: not "0.0% of 0"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- question: Where is the file?\n", r"entry 1: needs 'sections' \(a list of 'path#heading'\)"),
        ("- question: x\n  sections: [a#b\n- question: y\n", r"not valid YAML: expected ','.* \(line 3, column"),
        (  # the sections would be silently ignored
            "- question: Do I need a work visa?\n  expect: not_covered\n  sections: ['credit/loans.md#Loans?']\n",
            r"entry 1: a not-covered question names no sections",
        ),
    ],
)
def test_malformed_eval_file_is_one_clear_line(tmp_path, text, problem):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(EvalSetError, match=problem) as raised:
        load_eval_set(bad)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("question", "expected"), SEED_QUESTIONS)
async def test_each_seed_idea_is_answered_from_the_right_file(advisor, question, expected):
    """Each idea the product grew from leads with a section of its file; or, when the advisor is
    not sure which of the file's sections answers, it says so and offers them (never another file's)."""
    answer = await advisor.answer(question)
    if answer.covered:
        assert answer.lead.path in expected, [s.path for s in answer.sources]
        assert re.search(r"\[1\]", answer.text)
        return
    by_heading = {s.own_heading: s.path for s in advisor.retriever.section_index().sections}
    assert answer.follow_ups and {by_heading[q] for q in answer.follow_ups} <= expected, answer.follow_ups
