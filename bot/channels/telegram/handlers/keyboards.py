"""The inline keyboards under messages, and the callback data their buttons send back.

`bot.channels.telegram.handlers.buttons` answers the taps."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

EXAMPLE_QUESTIONS = [
    "How can I get working capital without collateral?",
    "Should I sell cross-border?",
    "What should my 10-year plan look like?",
    "What should a small business outsource first?",
]


def example_questions() -> InlineKeyboardMarkup:
    """One button per example question (`ask:<n>`), under /start."""
    rows = [[InlineKeyboardButton(q, callback_data=f"ask:{i}")] for i, q in enumerate(EXAMPLE_QUESTIONS)]
    return InlineKeyboardMarkup(rows)


def feedback_buttons(turn_id: int, next_questions: list[str] = ()) -> InlineKeyboardMarkup:
    """👍 / 👎 / Sources (`fb:up:<turn>`, `fb:down:<turn>`, `src:<turn>`), and a row for each
    suggested next question (`next:<turn>:<n>`: the n-th of the turn's stored `follow_ups`)."""
    rows = [
        [
            InlineKeyboardButton("👍", callback_data=f"fb:up:{turn_id}"),
            InlineKeyboardButton("👎", callback_data=f"fb:down:{turn_id}"),
            InlineKeyboardButton("Sources", callback_data=f"src:{turn_id}"),
        ]
    ]
    rows += [[InlineKeyboardButton(q, callback_data=f"next:{turn_id}:{n}")] for n, q in enumerate(next_questions)]
    return InlineKeyboardMarkup(rows)


def forget_confirmation() -> InlineKeyboardMarkup:
    """/forget's confirmation: delete, or keep everything."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes, delete my data", callback_data="forget:yes"),
                InlineKeyboardButton("Cancel", callback_data="forget:no"),
            ]
        ]
    )
