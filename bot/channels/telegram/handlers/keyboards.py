"""The inline keyboards under messages, and the callback data their buttons send back.

`bot.channels.telegram.handlers.buttons` answers the taps. Labels are in the owner's language
(`_`); callback data never is, so a tap means the same whatever language it was shown in.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.advisor.smalltalk import EXAMPLE_QUESTIONS
from bot.locales import LANGUAGES, N_, Translate


def example_questions(_: Translate = str) -> InlineKeyboardMarkup:
    """One button per example question (`ask:<n>`), under /start and a greeting."""
    rows = [[InlineKeyboardButton(_(q), callback_data=f"ask:{i}")] for i, q in enumerate(EXAMPLE_QUESTIONS)]
    return InlineKeyboardMarkup(rows)


def feedback_buttons(
    turn_id: int, next_questions: list[str] = (), _: Translate = str, steps: bool = False, language: str = ""
) -> InlineKeyboardMarkup:
    """👍 / 👎 / Sources (`fb:up:<turn>`, `fb:down:<turn>`, `src:<turn>`), a row for each
    suggested next question (`closest_questions`), and under an answer with steps (`has_steps`)
    "Remind me" (`rm:<turn>`)."""
    rows = [
        [
            InlineKeyboardButton("👍", callback_data=f"fb:up:{turn_id}"),
            InlineKeyboardButton("👎", callback_data=f"fb:down:{turn_id}"),
            InlineKeyboardButton(_("Sources"), callback_data=f"src:{turn_id}"),
        ]
    ]
    rows += closest_questions(turn_id, next_questions, language)
    if steps:
        rows.append([InlineKeyboardButton("⏰ " + _(REMIND_ME), callback_data=f"rm:{turn_id}")])
    return InlineKeyboardMarkup(rows)


def closest_questions(turn_id: int, questions: list[str], language: str = "") -> list[list[InlineKeyboardButton]]:
    """A row for each question the knowledge base answers that the turn suggests asking next
    (`next:<turn>:<language>:<n>`: the n-th of the turn's stored `follow_ups`, answered in the
    language of the answer it is under, whatever the question's own)."""
    lang = f"{language}:" if language else ""
    return [[InlineKeyboardButton(q, callback_data=f"next:{turn_id}:{lang}{n}")] for n, q in enumerate(questions)]


REMIND_ME = N_("Remind me")
STEP_LINE = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+\S", re.MULTILINE)


def has_steps(text: str) -> bool:
    """The answer lists steps: two or more numbered or bulleted lines."""
    return len(STEP_LINE.findall(text)) >= 2


TALK_TO_A_CONSULTANT = N_("Talk to a consultant")


def consultant_button(turn_id: int, _: Translate = str) -> list[InlineKeyboardButton]:
    """The row under a not-covered answer, added under an answer rated 👎 (`human:<turn>`)."""
    return [InlineKeyboardButton("🙋 " + _(TALK_TO_A_CONSULTANT), callback_data=f"human:{turn_id}")]


TELL_ME = N_("Tell me when you know")


def tell_me_button(turn_id: int, _: Translate = str, language: str = "") -> list[InlineKeyboardButton]:
    """The row under a not-covered answer in a private chat: hear back once an entry that answers
    it is published (`wish:<turn>:<language>`, the answer's language, which the owner hears back
    in; `bot.channels.telegram.handlers.hear_back`)."""
    lang = f":{language}" if language else ""
    return [InlineKeyboardButton("🔔 " + _(TELL_ME), callback_data=f"wish:{turn_id}{lang}")]


def forget_confirmation(_: Translate = str) -> InlineKeyboardMarkup:
    """/forget's confirmation: delete, or keep everything."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("Yes, delete my data"), callback_data="forget:yes"),
                InlineKeyboardButton(_("Cancel"), callback_data="forget:no"),
            ]
        ]
    )


def languages() -> InlineKeyboardMarkup:
    """/language: one button per language the bot speaks (`lang:<code>`), each in itself."""
    buttons = [InlineKeyboardButton(name, callback_data=f"lang:{code}") for code, name in LANGUAGES.items()]
    return InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)])
