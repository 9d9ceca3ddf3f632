"""Which places a question names, so that a file written for one country's owners (front matter
`region: [UK]`) leads only for an owner who asked about that country or lives there.

"How do I get a loan?" from an owner who named no country is answered by the library's general
sections; the UK's Start Up Loans or India's MUDRA scheme come after, as "also relevant" or a
suggestion, not as the answer. A question that says where ("start up loan uk", "loan in Nairobi",
"₹5 lakh for a machine") brings its country's file forward.
"""

from __future__ import annotations

import re
from functools import cache

# Words, currencies and bodies that name a region as front matter writes it (lower case). A region
# not listed here is named by its own name.
ALIASES: dict[str, tuple[str, ...]] = {
    "uk": ("uk", "u.k.", "united kingdom", "britain", "british", "england", "scotland", "wales", "hmrc", "£"),
    "us": ("usa", "u.s.", "u.s.a.", "united states", "america", "american", "sba", "irs", "llc", "401k", "401(k)"),
    "eu": ("eu", "european union", "europe", "european", "eurozone", "€"),
    "india": ("india", "indian", "₹", "rupee", "rupees", "lakh", "crore", "msme", "gst portal", "mudra"),
    "kenya": ("kenya", "kenyan", "nairobi", "mombasa", "ksh", "kes", "kra", "m-pesa", "mpesa"),
    "nigeria": ("nigeria", "nigerian", "lagos", "abuja", "naira", "₦", "firs"),
    "australia": ("australia", "australian", "aussie", "ato", "sydney", "melbourne", "brisbane", "perth", "nsw"),
    "singapore": ("singapore", "s$", "sgd"),
    "malaysia": ("malaysia", "malaysian", "kuala lumpur", "ringgit"),
    "indonesia": ("indonesia", "indonesian", "jakarta", "rupiah"),
    "philippines": ("philippines", "filipino", "manila", "cebu", "peso"),
    "thailand": ("thailand", "thai", "bangkok", "baht"),
    "vietnam": ("vietnam", "viet nam", "vietnamese", "hanoi", "ho chi minh", "dong"),
}
GLOBAL = {"global", "international", "worldwide", "any", "all"}


def is_regional(regions: tuple[str, ...]) -> bool:
    """A section written for some countries' owners, not for everyone."""
    return bool(regions) and not any(region.strip().lower() in GLOBAL for region in regions)


def names_region(question: str, regions: tuple[str, ...]) -> bool:
    """Does `question` name one of `regions` (by name, or a word, currency or body of it)?"""
    text = f" {question.lower()} "
    return any(_pattern(region.strip().lower()).search(text) for region in regions)


@cache
def _pattern(region: str) -> re.Pattern:
    words = set(ALIASES.get(region, (region,)))  # "us" alone is a pronoun: the US is named by its aliases
    named = [re.escape(word) for word in sorted(words, key=len, reverse=True) if word[0].isalnum()]
    signs = [re.escape(word) for word in words if not word[0].isalnum()]  # "£" stands before a number
    # a word must not be part of a longer one ("uk" in "ukulele", "thai" in "thailand's" is fine)
    parts = [rf"(?<!\w)(?:{'|'.join(named)})(?!\w)"] if named else []
    return re.compile("|".join([*parts, *signs]) or r"(?!)")
