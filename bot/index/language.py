"""Which language a text is in: py3langid, whose model ships inside the package (nothing is
downloaded), ~0.3 ms a question. It decides which embedding space a question is searched in
and which language the advisor's fixed texts are in."""

from __future__ import annotations

from functools import lru_cache

MIN_WORDS = 2  # a single word ("ok", "loans") says too little about its language


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=4096)
def detect_language(text: str, confidence: float = 0.5) -> str | None:
    """The ISO 639-1 code of `text`'s language ("en", "ru", "zh"…), or None when unsure."""
    if len(text.split()) < MIN_WORDS and not any(ord(c) > 0x2E80 for c in text):  # CJK needs no spaces
        return None
    language, probability = _identifier().classify(text)
    return language if probability >= confidence else None


@lru_cache(maxsize=4096)
def likely_languages(text: str, count: int = 3) -> list[tuple[str, float]]:
    """The `count` likeliest languages of `text` with their probabilities, likeliest first: for
    decisions that can use an unsure guess (a search space) where `detect_language` says None."""
    return [(code, float(p)) for code, p in _identifier().rank(text)[:count]]
