"""What admins and consultants read in Telegram, as Telegram HTML: a turn (/transcript, the
digest's "Open #turn"), /stats and /gaps.

Owners' words are escaped, never read as markup; the bot's answers are rendered the way the
owner saw them (`formatting.to_html`), so no `**` or `[1](…)` reaches an admin raw. A
consultant's reply shows who sent it; a message an owner wrote during a hand-over says it went
to the consultants rather than showing an empty answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.channels.telegram.formatting import MESSAGE_LIMIT, escape, shortened, split_markdown, to_html
from bot.review.gaps import Theme
from bot.review.stats import KINDS, Stats, kind_of
from bot.storage import TurnRecord

QUESTION_CHARS = 800  # of an owner's question a turn block quotes
COMMENT_CHARS = 200  # with COMMENTS of them, the question and 2,000 of the answer: one message
COMMENTS = 5  # 👎 comments quoted under a turn
RATINGS = {"up": " 👍", "down": " 👎", "mixed": " 👍👎"}


def turn_block(turn: TurnRecord, answer_chars: int = 600) -> str:
    """One turn as an admin reads it: when, how it was answered, the question, the reply (the
    answer rendered, a consultant's reply under their name), feedback and 👎 comments."""
    header = f"<b>#{turn.id}</b> {turn.created_at:%Y-%m-%d %H:%M} · {_how(turn)}{RATINGS.get(turn.feedback or '', '')}"
    lines = [header, f"<b>Q:</b> {escape(shortened(turn.question, QUESTION_CHARS))}"]
    if turn.mode == "human":
        who = f"Consultant {escape(turn.answered_by)}" if turn.answered_by else "A consultant"
        lines.append(f"<b>{who}:</b> {rendered(turn.answer, answer_chars)}")
    elif turn.mode == "handover" and not turn.answer.strip():
        lines.append("<i>→ passed on to the consultants (hand-over open)</i>")
    elif turn.mode == "handover":
        lines.append(f"<i>Hand-over asked; the bot told the owner:</i> {rendered(turn.answer, answer_chars)}")
    else:
        lines.append(f"<b>A:</b> {rendered(turn.answer, answer_chars)}")
    lines += [f"👎 “{escape(shortened(comment, COMMENT_CHARS))}”" for comment in turn.comments[:COMMENTS]]
    if len(turn.comments) > COMMENTS:
        lines.append(f"…and {len(turn.comments) - COMMENTS} more 👎 comments")
    return "\n".join(lines)


def _how(turn: TurnRecord) -> str:
    """'offline answer', 'LLM answer', 'not covered', 'consultant', … (as /stats names them)."""
    how = KINDS[kind_of(turn.mode, turn.covered)]
    if how == "other":
        how = escape(turn.mode)
    if turn.cancelled:
        how += ", stopped by the owner"
    return how


def rendered(markdown: str, limit: int) -> str:
    """The first `limit` characters of an answer (cut at a paragraph, line or sentence) as
    Telegram HTML; a bold or code mark the cut left unpaired is dropped, not shown."""
    pieces = split_markdown(markdown, limit) or [""]
    html = to_html(pieces[0])
    for mark in ("**", "__", "`"):
        html = html.replace(mark, "")
    return html + (" …" if len(pieces) > 1 else "")


def stats_text(stats: Stats, days: int, extra: Iterable[str] = ()) -> str:
    """/stats: volume, feedback, how turns were answered (adding up to 100%), answer latency."""
    ratio = "-" if stats.feedback_ratio is None else f"{stats.feedback_ratio:.0%} 👍"
    lines = [
        f"📊 <b>Last {days} days</b>",
        f"Turns: {stats.turns}",
        f"Owners: {stats.users}",
        f"Feedback: {stats.thumbs_up} 👍 / {stats.thumbs_down} 👎 ({ratio})",
    ]
    if stats.turns:
        lines.append("\n<b>How turns were answered</b>")
        lines += [f"• {kind}: {percent}% ({count})" for kind, count, percent in stats.breakdown()]
    if stats.llm_failures:
        lines.append(f"LLM failures (answered offline): {stats.llm_failures}")
    if stats.latency_ms_p50 is None:
        lines.append("\n<b>Answer time</b>: no answers yet")
    else:
        lines.append(
            f"\n<b>Answer time</b> ({stats.answers} answers): p50 {stats.latency_ms_p50:.0f} ms, "
            f"p95 {stats.latency_ms_p95:.0f} ms"
        )
    topics = ", ".join(f"{escape(topic)} {count}" for topic, count in stats.top_topics[:5]) or "-"
    lines.append(f"Top topics: {topics}")
    lines += [escape(line) for line in extra]
    return "\n".join(lines)


def gaps_text(themes: list[Theme], days: int, shown: int = 8) -> str:
    """/gaps: the biggest knowledge-gap themes, each with its count and closest file."""
    if not themes:
        return f"No knowledge gaps in the last {days} days."
    lines = [f"🕳 <b>Knowledge gaps, last {days} days</b>"]
    for number, theme in enumerate(themes[:shown], start=1):
        closest = f" (closest: <code>{escape(theme.closest_file)}</code>)" if theme.closest_file else ""
        lines.append(f"{number}. {escape(theme.label)} — {theme.count}×{closest}")
    return "\n".join(lines)


def html_messages(blocks: list[str], limit: int = MESSAGE_LIMIT - 96) -> list[str]:
    """Blocks of HTML joined by blank lines into as few messages as fit, never cut inside a block
    (each block is short enough on its own: `turn_block` quotes at most a few thousand characters)."""
    messages: list[str] = []
    for block in blocks:
        if messages and len(messages[-1]) + 2 + len(block) <= limit:
            messages[-1] += "\n\n" + block
        else:
            messages.append(block)
    return messages or [""]
