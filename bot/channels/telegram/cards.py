"""What consultants read in the admin chat: the hand-over card and the messages around it.

A card holds what a consultant needs to answer without opening anything else: who the owner
is (name, id, profile), what they asked for, the bot's answer with its sources, and the last
few exchanges. It is Telegram HTML, cut to fit one message.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.advisor.conversation import Exchange, Profile
from bot.channels.telegram.formatting import MESSAGE_LIMIT, escape, shortened, to_plain
from bot.storage import TurnRecord

EARLIER_EXCHANGES = 3
SNIPPET = 300  # characters of an earlier exchange or the bot's answer a card quotes


def owner_label(user_id: str, username: str | None, display_name: str | None) -> str:
    """ "Rosie (@rosie, tg:111)": how consultants recognise an owner, and find them with /transcript."""
    handle = f"@{username}, " if username else ""
    return f"{display_name or 'An owner'} ({handle}{user_id})"


def card_text(
    handover_id: int,
    owner: str,
    request: str,
    profile: Profile,
    turn: TurnRecord | None,
    earlier: list[Exchange],
    hours: float,
) -> str:
    """The card of a hand-over, in HTML."""
    parts = [f"🙋 <b>Request #{handover_id}</b> from <b>{escape(owner)}</b>"]
    if not profile.is_empty():
        parts.append(f"<i>Profile:</i> {escape(profile.describe().replace(chr(10), '; '))}")
    parts.append(f"<b>Request:</b> {escape(shortened(request, 1000))}")
    if turn is not None and turn.mode in ("offline", "llm"):
        coverage = "answered" if turn.covered else "not covered"
        if turn.question.strip() != request.strip():
            parts.append(f"<b>Question:</b> {escape(shortened(turn.question, SNIPPET))}")
        answer = escape(shortened(to_plain(turn.answer), SNIPPET * 2))  # as the owner read it, not its Markdown
        parts.append(f"<b>The bot's answer</b> ({turn.mode}, {coverage}):\n{answer}")
        if turn.sources:
            cited = "; ".join(f"[{stored_label(s)}] {s['title']} ({s['path']})" for s in turn.sources)
            parts.append(f"<b>Sources:</b> {escape(shortened(cited, SNIPPET * 2))}")
    if earlier:
        half = SNIPPET // 2
        lines = [f"Q: {shortened(e.question, half)}\nA: {shortened(to_plain(e.answer), half)}" for e in earlier]
        parts.append("<b>Earlier in the conversation:</b>\n" + escape("\n".join(lines)))
    hint = (
        f"<i>Reply to this message to answer (the owner was told: within {hours:g} hours). "
        "Their next messages arrive here as replies to this card.</i>"
    )
    text = "\n\n".join(parts)
    room = MESSAGE_LIMIT - len(hint) - 10
    return (text if len(text) <= room else text[:room].rsplit("\n", 1)[0]) + "\n\n" + hint


def card_buttons(handover_id: int, claimed_by: str | None = None) -> InlineKeyboardMarkup:
    """Reply (`ho:reply:<id>`), Resolve (`ho:resolve:<id>`), Add to knowledge gaps (`ho:gap:<id>`);
    a claimed request's card shows who has it (`q:claim:<id>`: its claimer may give it back)."""
    rows = [
        [
            InlineKeyboardButton("↩️ Reply", callback_data=f"ho:reply:{handover_id}"),
            InlineKeyboardButton("✅ Resolve", callback_data=f"ho:resolve:{handover_id}"),
        ],
        [InlineKeyboardButton("➕ Add to knowledge gaps", callback_data=f"ho:gap:{handover_id}")],
    ]
    if claimed_by:
        rows.insert(0, [InlineKeyboardButton(f"👤 Claimed by {claimed_by}", callback_data=f"q:claim:{handover_id}")])
    return InlineKeyboardMarkup(rows)


def resolved_buttons(handover_id: int) -> InlineKeyboardMarkup:
    """A resolved card's one button: "📚 Save as knowledge" (`teach:save:<id>`)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("📚 Save as knowledge", callback_data=f"teach:save:{handover_id}")]]
    )


def one_line(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with "…": a quote in a card or the digest."""
    return shortened(" ".join(text.split()), limit)


def stored_label(source: dict) -> str:
    """A stored source's citation label: `3`, or `D1` for a passage of the owner's own document."""
    return f"D{source['number']}" if source.get("kind") == "document" else str(source["number"])
