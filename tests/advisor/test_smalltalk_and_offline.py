"""Small talk is recognised in many languages and only in short messages; offline answers read
like advice: the best passage first, whole lists, nothing repeated, short, never empty."""

from __future__ import annotations

import re

import pytest

from bot.advisor import Advisor
from bot.advisor.conversation import Profile
from bot.advisor.smalltalk import PHRASES, small_talk
from bot.locales import LANGUAGES
from tests.helpers import retriever_for, run_ingest, write


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", "greeting"),
        ("Hello there!", "greeting"),
        ("Привет", "greeting"),
        ("hola", "greeting"),
        ("Selamat pagi", "greeting"),
        ("thanks!!! 🙏", "thanks"),
        ("Muchas gracias", "thanks"),
        ("спасибо", "thanks"),
        ("ok", "ack"),
        ("who are you?", "identity"),
        ("What can you do?", "capabilities"),
        ("bye", "farewell"),
        ("你好！", "greeting"),
        ("谢谢", "thanks"),
        ("好的", "ack"),
        ("再见", "farewell"),
        ("你好啊", "greeting"),  # a particle, no space
        ("好的，谢谢！", "thanks"),  # two small talks, the weightier answered
        ("Hi, who are you?", "identity"),
        ("Olá!", "greeting"),  # accents as typed or not
        ("¿Quien eres?", "identity"),
        ("شكراً", "thanks"),
    ],
)
def test_small_talk_is_recognised(text, kind):
    assert small_talk(text).kind == kind


def test_every_language_the_bot_speaks_has_its_small_talk():
    """ "你好" was searched as a question and declined: Chinese had no phrases."""
    missing = [(kind, code) for kind, by_language in PHRASES.items() for code in LANGUAGES if code not in by_language]
    assert missing == []
    assert small_talk("您好").language == "zh" and small_talk("非常感谢!").language == "zh"


@pytest.mark.parametrize(
    "text",
    [
        "hi, how do I get a loan without collateral?",
        "no",
        "yes",
        "thanks for the loan tips, what about leasing?",
        "okay so how do I price cakes",
        "你好，我该如何给蛋糕定价？",
    ],
)
def test_questions_are_not_small_talk(text):
    assert small_talk(text) is None


QUESTIONS = [
    "How do I get working capital without collateral?",
    "Should I sell cross-border?",
    "What should my 10-year plan look like?",
    "How do I price my cakes?",
    "What does invoice finance cost?",
    "How do I choose what to outsource first?",
    "How should I prepare for tariffs?",
    "How many staff should a small team have?",
    "A lender says their business loan needs no collateral. What's the catch, and what should I check before signing?",
]


@pytest.fixture(scope="module")
def advisor(shared_index_dir, embedder):
    from bot.config import load_settings
    from tests.helpers import ROOT

    settings = load_settings(knowledge_dir=ROOT / "knowledge", data_dir=shared_index_dir, _env_file=None)
    return Advisor(retriever_for(settings, embedder), settings)


@pytest.mark.parametrize("question", QUESTIONS)
async def test_offline_answers_read_like_advice(advisor, question):
    answer = await advisor.offline_answer(question)
    text = answer.text
    first_line = text.splitlines()[0]
    assert not re.match(r"\W*(example|for example|e\.g\.|figure|table|source)\b", first_line, re.IGNORECASE)
    assert not first_line.startswith(("- ", "* ")) and not re.match(r"\d+[.)] ", first_line)
    assert not first_line.rstrip(" [1]").endswith("?")
    assert len(text.split()) <= 220
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == len(set(lines))
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
    assert numbers == sorted(set(numbers)) == [s.number for s in answer.sources]  # each cited once, in order
    assert len({(s.path, s.heading) for s in answer.sources}) == len(answer.sources)
    assert text.count("**") % 2 == 0


async def test_a_numbered_list_is_quoted_whole_with_its_introduction(advisor):
    """The section's opening paragraph, then its list whole: every step, in order, after the
    sentence that introduces it (a sentence picker used to drop step 5 of seven)."""
    answer = await advisor.offline_answer("What should my 10-year plan look like?")
    lines = answer.text.splitlines()
    items = re.findall(r"^(\d+)\. ", answer.text, re.MULTILINE)
    assert items == [str(n) for n in range(1, 8)]  # the section's seven parts, none dropped
    first_item = next(n for n, line in enumerate(lines) if line.startswith("1. "))
    assert lines[first_item - 1].endswith(":") and not lines[0].startswith("1. ")


async def test_a_should_i_answer_starts_where_its_section_does_not_with_its_caveats(advisor):
    """The section answering "Should my small business sell cross-border…?" is two chunks; its
    second ("Think twice if: …") matches the question best, but an answer opening with the
    caveats reads as a warning: it starts from the section's opening, which says what it is."""
    answer = await advisor.offline_answer("Should I sell cross-border?")
    assert answer.sources[0].path == "trade/selling-cross-border-via-platforms.md"
    assert answer.text.startswith("Selling cross-border through marketplaces lets a small firm")
    assert "tends to suit you if:" in answer.text
    assert not answer.text.startswith("Think twice")


EXPORTING = """---
title: First exports
audience: [exporters]
---
# First exports

## Pricing for export

Price exports from your landed cost: product, freight, insurance, duties and the importer's margin,
then compare with local prices in the target market.
"""
LOANS = """---
title: Loans
---
# Loans

## Small loans

Lenders look at steady sales, clean books and a clear repayment plan before they offer a small business loan.
"""
SHOPFRONT = """---
title: Shopfront
audience: [Sole-Traders, retailers]
---
# Shopfront

## Window displays

Change the window display every month and put your best-selling product where passers-by see it first.
"""


async def test_the_profile_shapes_an_offline_answer_only_where_the_passage_is_written_for_it(settings, kdir, embedder):
    write(kdir, "trade/exporting.md", EXPORTING)
    write(kdir, "credit/loans.md", LOANS)
    write(kdir, "operations/shopfront.md", SHOPFRONT)
    run_ingest(settings, embedder)
    advisor = Advisor(retriever_for(settings, embedder), settings)
    exporter = Profile(stage="selling abroad")
    export = await advisor.offline_answer("How should I price my products for export?", exporter)
    assert export.text.startswith("For a business like yours (exporters):")
    loan = await advisor.offline_answer("What do lenders look at before a small loan?", exporter)
    assert "business like yours" not in loan.text
    # a shop run alone fits the file for retailers and sole traders, in the file's words, folded
    window = "How often should I change my window display?"
    shop = await advisor.offline_answer(window, Profile(industry="retail", staff=1))
    assert shop.text.startswith("For a business like yours (sole traders, retailers):")
    team = await advisor.offline_answer(window, Profile(staff="10–49"))
    assert "business like yours" not in team.text
