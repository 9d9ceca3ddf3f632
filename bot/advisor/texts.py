"""The advisor's fixed texts, in the owner's language: what it says when the model is down, an
answer was cut, a question is empty or outside the knowledge base, or a long message was cut.

Each takes `_`, the owner's translator (`bot.locales.texts`). Which language: the question's
own when it is confidently one the bot speaks, else the owner's (Telegram's language_code or
their /language choice), else English.
"""

from __future__ import annotations

from bot.index.language import detect_language
from bot.locales import DEFAULT, N_, Translate, supported


def language_for(question: str, owner_language: str | None) -> str:
    return supported(detect_language(question)) or supported(owner_language) or DEFAULT


def fallback_note(_: Translate) -> str:
    return (
        "_"
        + _("The AI model is not available right now, so these are the most relevant passages from the knowledge base.")
        + "_"
    )


def english_knowledge(_: Translate) -> str:
    """The line an offline answer to a question in another language leads with."""
    return "_" + _("My knowledge base is written in English, so for now I can only answer in English:") + "_"


def other_languages_later(_: Translate) -> str:
    """A question in another language while the index that reads it is still being built (a
    first start answers English questions first)."""
    return _(
        "I have only just started and am still learning to read questions in your language. "
        "Please ask again in a few minutes, or ask in English."
    )


def cut_short(_: Translate) -> str:
    return _("The answer was cut short; ask for the rest, or ask a narrower question.")


def empty_question(_: Translate) -> str:
    return _(
        "Ask me a question about your business — for example: "
        "“How can I get working capital without collateral?” or “Should I sell cross-border?”"
    )


# The topics knowledge files name in their front matter (`topic:`), as an owner is shown them;
# "general" is a file's that names none.
TOPICS = {
    "growth": N_("Growth"),
    "credit": N_("Credit"),
    "strategy": N_("Strategy"),
    "trade": N_("Trade"),
    "operations": N_("Operations"),
    "general": N_("General"),
}


def topic_name(_: Translate, topic: str) -> str:
    """A topic key as a group's header: a known one in the owner's language, another readably
    ('customer-service' → 'Customer service'), as the knowledge base wrote it."""
    words = " ".join(topic.replace("-", " ").replace("_", " ").split())
    known = TOPICS.get(words.lower() or "general")
    return _(known) if known else words[:1].upper() + words[1:]


def not_covered(_: Translate, topics: dict[str, list[str]]) -> str:
    """Say plainly that the question is outside the knowledge base, and what it does cover."""
    lines = [
        _("I don't have material on that in my knowledge base, so I won't guess."),
        _("For questions outside it, an accountant, a lawyer or your bank's business team can help."),
        "",
        _("I can help with:"),
    ]
    lines += [f"- {topic_name(_, topic)}: {'; '.join(titles[:3])}" for topic, titles in topics.items()]
    return "\n".join(lines)


def not_sure(_: Translate) -> str:
    """A question the knowledge base may answer, but not surely enough to lead with a section."""
    return _(
        "I'm not sure my knowledge base answers exactly that, so I won't guess. "
        "The closest questions I can answer are below; if none fits, a consultant can help."
    )


def all_we_have(_: Translate) -> str:
    """A follow-up whose fitting sections the owner has already been shown (others may come
    close: they are offered as questions, not claimed to answer)."""
    return _(
        "Beyond what I've already shown you, my knowledge base has nothing that fits this well, so I won't guess. "
        "For your particular case, a consultant can help."
    )


def long_message(_: Translate, question: str | None, context: bool) -> str:
    """What of a long message was answered (`question`: its asking sentence, if it had one;
    `context`: whether text before it was kept too)."""
    if question is None:
        return _("Your message was long and I found no question in it, so I used its end.")
    if context:
        return _(
            "Your message was long, so I answered its question (“{question}”) with the text just before it."
        ).format(question=question)
    return _("Your message was long, so I answered its question (“{question}”).").format(question=question)


def also_relevant(_: Translate) -> str:
    return _("Also relevant:")


def for_a_business_like_yours(_: Translate, fits: list[str]) -> str:
    return _("For a business like yours ({details}):").format(details=", ".join(fits))


def your_document(_: Translate, title: str, page: int = 0) -> str:
    """How a passage of the owner's own document is named among the sources."""
    if page:
        return _("Your document: {title}, page {page}").format(title=title, page=page)
    return _("Your document: {title}").format(title=title)
