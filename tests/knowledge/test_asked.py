"""The `Asked:` block as consultants really write it: bold, with a blank line before its list,
twice in one section, empty, or shown as an example inside a code fence. The ways come out,
the advice stays, and nothing of the block is left for an owner to read."""

from __future__ import annotations

import pytest

from bot.knowledge.asked import MAX_CHARACTERS, MAX_WAYS, take_asked

ADVICE = "A window round is built street by street."


@pytest.mark.parametrize(
    "label, gap",
    [("Asked:", ""), ("**Asked:**", ""), ("Asked:", "\n"), ("__Asked:__", "\n"), ("Also asked:", "")],
    ids=["plain", "bold", "blank-line-after", "underscored-with-blank-line", "also-asked"],
)
def test_the_usual_ways_of_writing_the_label_are_all_taken_out(label, gap):
    body = f"{label}\n{gap}- how to get window cleaning customers\n- building a round\n\n{ADVICE}"
    asked = take_asked(body)
    assert asked.ways == ("how to get window cleaning customers", "building a round")
    assert asked.text == ADVICE


def test_every_block_in_a_section_is_taken_and_the_advice_between_them_kept():
    """Two sections under one heading are read as one: both blocks go, both texts stay."""
    second = "Asked:\n- nail clipping price\n- price of grooming\n\nCharge by size."
    body = f"Asked:\n- price of grooming\n\n{ADVICE}\n\n{second}"
    asked = take_asked(body)
    assert asked.ways == ("price of grooming", "nail clipping price")
    assert asked.text == f"{ADVICE}\n\nCharge by size."


def test_a_label_with_nothing_under_it_is_dropped_not_quoted():
    asked = take_asked(f"Asked:\n\n{ADVICE}")
    assert asked.ways == () and asked.text == ADVICE


def test_an_asked_block_inside_a_code_fence_is_an_example_and_stays_text():
    body = f"The format:\n\n```markdown\nAsked:\n- cheapest way to heat a polytunnel\n```\n\n{ADVICE}"
    asked = take_asked(body)
    assert asked.ways == () and asked.text == body


def test_a_list_that_is_advice_stays_when_no_label_precedes_it():
    body = f"{ADVICE}\n\n- ask neighbours\n- leave a card"
    assert take_asked(body).text == body


def test_ways_are_capped_in_number_and_length():
    items = "\n".join(f"- way {number} " + "x" * 300 for number in range(MAX_WAYS + 20))
    asked = take_asked(f"Asked:\n{items}\n\n{ADVICE}")
    assert len(asked.ways) == MAX_WAYS and all(len(way) <= MAX_CHARACTERS for way in asked.ways)
    assert asked.text == ADVICE
