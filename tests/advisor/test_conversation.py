"""Conversation state: the owner profile, history trimming and offline follow-up rewriting."""

from __future__ import annotations

import pytest

from bot.advisor.conversation import (
    Exchange,
    Profile,
    ProfileError,
    asks_for_more,
    heuristic_standalone,
    profile_pairs,
    trim_history,
)


def test_profile_from_key_value_pairs_with_aliases():
    profile = Profile().updated(["industry=bakery", "staff=6", "country=AU", "name=Rosie's Buns"])
    assert profile == Profile(business_name="Rosie's Buns", industry="bakery", staff=6, region="AU")
    assert "Industry: bakery" in profile.describe() and "Staff: 6" in profile.describe()
    assert profile.updated(["staff="]).staff is None  # an empty value clears a field
    assert Profile.from_dict(profile.to_dict()) == profile
    assert Profile().describe() == "not given"


@pytest.mark.parametrize(
    ("typed", "fields"),
    [
        ("business_name=Rosie's Cakes & Co staff=6", {"business_name": "Rosie's Cakes & Co", "staff": 6}),
        ('business_name="Rosie\'s Cakes & Co" staff=6', {"business_name": "Rosie's Cakes & Co", "staff": 6}),
        ("business_name=“Rosie's Cakes” staff=6", {"business_name": "Rosie's Cakes", "staff": 6}),  # a phone's quotes
        ("business_name='Rosie's' region=AU", {"business_name": "Rosie's", "region": "AU"}),
        ('goals="hire staff=2 more" region=AU', {"goals": "hire staff=2 more", "region": "AU"}),  # a key, quoted
        ("staff=2 - 9", {"staff": "2–9"}),  # typed as the button says it
        ("goals=two more shops by 2030 region=Rhône-Alpes, France", {"goals": "two more shops by 2030"}),
    ],
)
def test_profile_values_may_hold_spaces_quotes_and_keys(typed, fields):
    profile = Profile().updated(profile_pairs(typed)).to_dict()
    assert {key: profile[key] for key in fields} == fields


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("colour=blue", "'colour=blue' is not a profile setting"),
        ("industry", "'industry' is not a profile setting"),
        ("staff=six", "staff must be a whole number"),
        ("goals=" + "x" * 300, "goals is too long"),
    ],
)
def test_bad_profile_values_say_how_to_fix_them(pair, message):
    with pytest.raises(ProfileError, match=message):
        Profile().updated([pair])


def test_history_keeps_the_newest_exchanges_within_budget():
    history = [Exchange(f"question {i} " + "word " * 50, f"answer {i}") for i in range(10)]
    kept = trim_history(history, 200)
    assert kept == history[-len(kept) :] and 0 < len(kept) < 10
    assert trim_history(history, 0) == []


def test_offline_follow_up_borrows_the_previous_questions_key_terms():
    history = [Exchange("How can a small business get credit without collateral?", "…")]
    rewritten = heuristic_standalone("what about for exporters?", history)
    assert rewritten.startswith("what about for exporters?")
    assert "credit" in rewritten and "collateral" in rewritten
    assert heuristic_standalone("How do I price my services?", history) == "How do I price my services?"
    assert heuristic_standalone("what about for exporters?", []) == "what about for exporters?"
    # a one-word follow-up has no word pointing back: the advisor decides it is one (see test_llm)
    assert heuristic_standalone("costs?", history) == "costs?"
    assert "collateral" in heuristic_standalone("costs?", history, unclear=True)
    # a longer question that matches nothing is not a follow-up for want of a model
    assert heuristic_standalone("What is the capital of Peru?", history, unclear=True).endswith("Peru?")


@pytest.mark.parametrize(
    "question, more",
    [
        ("what else?", True),
        ("What else can I do?", True),
        ("anything else?", True),
        ("tell me more", True),
        ("Can you tell me more?", True),
        ("more", True),
        ("go on", True),
        ("more details please", True),
        ("How do I get more customers?", False),  # "more" inside a question of its own
        ("What else should a loan application include besides accounts?", False),  # says what it wants
        ("Should I sell more online?", False),
        ("Next year's plan: where do I start?", False),
    ],
)
def test_asking_for_more_is_a_whole_question_not_the_word_more(question, more):
    assert asks_for_more(question) is more


def test_token_budgets_told_from_bytes_are_the_exact_ones():
    """A text's UTF-8 bytes bound its tokens, so the shortcut that spares the encoding never
    changes which exchanges are kept or whether a message is cut."""
    from bot.advisor.conversation import Exchange
    from bot.knowledge.tokens import count_tokens, fits_tokens

    texts = [
        "How do I price cakes?",
        "¿Cómo fijo precios?",
        "我该如何给蛋糕定价？",
        "Как поднять цены?",
        "a" * 40,
        "🙂 ok",
    ]
    for text in texts:
        for limit in range(0, 60):
            assert fits_tokens(text, limit) == (count_tokens(text) <= limit)

    def exact(history, budget):
        kept, used = [], 0
        for exchange in reversed(history):
            cost = count_tokens(exchange.question) + count_tokens(exchange.answer)
            if used + cost > budget:
                break
            kept.append(exchange)
            used += cost
        return list(reversed(kept))

    history = [Exchange(q, a * 3) for q, a in zip(texts, reversed(texts), strict=True)]
    for budget in range(0, 400, 7):
        assert trim_history(history, budget) == exact(history, budget)


@pytest.mark.parametrize(
    "sentence",
    ["We sell bread in three towns and we want to grow " * 40, "我们在三个城区卖面包想要扩大规模" * 60, "x" * 3000],
)
def test_a_sentence_too_long_on_its_own_keeps_its_end_within_the_limit(sentence):
    """Cut with whatever counter the advisor holds: from a word where there are words, from a
    character where there are none (Chinese, one endless string), as close to the limit as fits."""
    from bot.advisor.conversation import focus_question
    from bot.knowledge.tokens import count_tokens

    def pieces(text: str) -> int:  # another tokenizer's kind of count
        return len(text.split()) + len(text) // 3

    for count in (count_tokens, pieces):
        focus = focus_question(sentence, 50, count)
        assert focus.cut and focus.text.startswith("…") and 40 <= count(focus.text) <= 50
        assert " ".join(sentence.split()).endswith(focus.text[1:].strip())


async def test_a_long_conversation_without_a_chat_model_is_measured_without_its_encoding(shared_index_dir):
    """The remembered conversation and a long message are counted in the multilingual model's
    pieces: the serving process never loads tiktoken's encoding (~40 MB) for a budget no prompt
    needs exactly (a pasted Russian paragraph passed QUESTION_MAX_TOKENS in bytes and loaded it)."""
    from bot.advisor import make_advisor
    from bot.advisor.conversation import Exchange
    from bot.config import load_settings
    from bot.knowledge.tokens import token_encoding
    from tests.helpers import ROOT

    settings = load_settings(
        knowledge_dir=ROOT / "knowledge", data_dir=shared_index_dir, memory_tokens=300, _env_file=None
    )
    advisor = make_advisor(settings)
    counter = advisor.retriever.embeddings.token_counter
    history = [Exchange(f"How do I price cakes for event {n}?", "Start from your costs. " * 30) for n in range(8)]
    kept = trim_history(history, 300, counter)
    assert kept and kept == history[-len(kept) :] and len(kept) < len(history)
    assert sum(counter(e.question) + counter(e.answer) for e in kept) <= 300

    token_encoding.cache_clear()
    answer = await advisor.answer("And what about cupcakes?", history)
    assert answer.text and token_encoding.cache_info().currsize == 0
    pasted = "Мы продаём хлеб в трёх районах города и хотим расти. " * 40 + "Как получить кредит без залога?"
    answer = await advisor.answer(pasted, history)
    assert answer.notes and "Как получить кредит без залога?" in answer.notes[0]
    assert token_encoding.cache_info().currsize == 0
