"""Which places a question names (`bot.index.regions`), so one country's file leads only for it."""

from __future__ import annotations

import pytest

from bot.index.regions import is_regional, names_region


@pytest.mark.parametrize(
    ("question", "regions", "named"),
    [
        ("start up loan uk?", ("UK",), True),
        ("I need £5,000 for a van", ("UK",), True),
        ("can HMRC give me time to pay?", ("UK",), True),
        ("ukulele shop finance", ("UK",), False),  # a word, not part of one
        ("can you help us grow?", ("US",), False),  # "us" is a pronoun: the US is named by its aliases
        ("SBA 7(a) loan for a bakery", ("US",), True),
        ("loan for my salon in Nairobi", ("Kenya", "Nigeria"), True),
        ("₦2 million for a generator", ("Kenya", "Nigeria"), True),
        ("how do I get a loan?", ("India",), False),
        ("MUDRA loan limits", ("India",), True),
        ("a loan in Peru", ("Peru",), True),  # a region without aliases is named by its name
    ],
)
def test_a_question_names_a_region_by_name_alias_currency_or_body(question, regions, named):
    assert names_region(question, regions) is named


def test_only_a_file_for_some_countries_is_regional():
    assert is_regional(("UK",)) and is_regional(("Kenya", "Nigeria"))
    assert not is_regional(()) and not is_regional(("global",)) and not is_regional(("Global", "UK"))
