"""Consultants teach the advisor, against the fake Bot API: a consultant's reply saved as
knowledge, edited, published and found by the next owner within seconds; a publish the eval
holds back and one published anyway; /rollback and `index rollback`; Discard; a consultant
without publish rights; "Answer this" under /gaps.

The bot reads a small library (two repository files, ingested into the test's own index) so
a publish takes seconds, as it would for a consultant."""

from __future__ import annotations

import shutil
import time

import pytest

from bot.config import load_settings
from bot.index.versions import current_version
from bot.knowledge.runner import run_ingest
from bot.storage import TurnFilter
from tests.fakes.telegram_server import _visible_text
from tests.helpers import ROOT, invoke, write
from tests.helpers.telegram import ADMIN, OWNER, answers, asked, assert_rendered, last_markup, sent_message

SOURDOUGH_Q = "What is the best recipe for sourdough bread?"
GROUP, CONSULTANT, OTHER_OWNER = -1001, 77, 222
SEEDED = ("credit/invoice-finance.md", "credit/what-lenders-look-at.md")
EVAL = """
- question: "borrowing against unpaid invoices"
  sections: ["credit/invoice-finance.md#What is invoice finance?"]
- question: "money stuck in unpaid invoices, any way to unlock it?"
  sections: ["credit/invoice-finance.md#What is invoice finance?"]
"""


def buttons(markup: dict) -> dict[str, str]:
    return {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}


@pytest.fixture
def library(tmp_path) -> dict:
    """Settings of a small library, ingested: version 1 is live."""
    kdir = tmp_path / "library"
    for rel in SEEDED:
        (kdir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "knowledge" / rel, kdir / rel)
    write(kdir, "eval/questions.yaml", EVAL)
    overrides = {
        "knowledge_dir": kdir,
        "index_dir": tmp_path / "library-index",
        "embedding_backend": "onnx-q8",  # the default's MiniLM, as the bot fixtures' embedder
        "llm_model": None,  # offline answers: the section's own words reach the owner
    }
    run_ingest(load_settings(data_dir=tmp_path, _env_file=None, **overrides))
    return overrides


async def press(telegram, user: int, data: str, message: dict, chat: int, count: int = 1) -> list[str]:
    """Press a button; the `count` messages the bot then sends to `chat`."""
    before = len(answers(telegram, chat))
    telegram.press(user, data, message)
    await telegram.wait_for(lambda: len(answers(telegram, chat)) >= before + count, what=f"after {data}", timeout=60)
    return answers(telegram, chat)[before:]


async def handed_over(
    telegram, chat: int, consultant: int, reply: str, wish: bool = False, **where
) -> tuple[dict, dict]:
    """An owner's not-covered question (with `wish`, "Tell me when you know" tapped) → /human →
    a consultant's reply: the card, and the "✓ Sent" message."""
    [declined] = await asked(telegram, OWNER, SOURDOUGH_Q)
    under = sent_message(telegram, OWNER)
    if wish:
        tell_me = next(data for data in buttons(under["reply_markup"]) if data.startswith("wish:"))
        telegram.press(OWNER, tell_me, under)
        await telegram.wait_for(lambda: answers(telegram, OWNER)[-1] != declined, what="the wish noted")
        assert answers(telegram, OWNER)[-1].startswith("🔔 Noted.")
    offer = next(data for data in buttons(under["reply_markup"]) if data.startswith("human:"))
    before = len(answers(telegram, chat))
    telegram.press(OWNER, offer, under)
    await telegram.wait_for(lambda: len(answers(telegram, chat)) > before, what="the card")
    card = telegram.calls_of("sendMessage", chat)[before].result
    [sent] = await asked(telegram, consultant, reply, reply_to=card, chat_id=chat, **where)
    assert sent.startswith("✓ Sent"), sent
    return card, telegram.calls_of("sendMessage", chat)[-1].result


async def test_a_reply_saved_edited_and_published_reaches_the_next_owner_within_seconds(start_bot, telegram, library):
    bot = await start_bot(**library)
    reply = "Owner111, feed your starter the night before; call me on +44 7700 900123 if it fails."
    _card, sent = await handed_over(telegram, ADMIN, ADMIN, reply, wish=True)
    [wish] = await bot.storage.open_wishes(f"tg:{OWNER}")
    assert buttons(sent["reply_markup"]) == {"teach:save:1": "📚 Save as knowledge"}

    [draft] = await press(telegram, ADMIN, "teach:save:1", sent, ADMIN)
    assert "<b>Draft #1</b>" in draft and "<code>answers/" in draft  # HTML, as every admin text
    draft = _visible_text(draft)
    assert draft.startswith("📝 Draft #1 — answers/what-is-the-best-recipe-for-sourdough-bread.md")
    assert "Removed as owner details: a phone number, a name — check." in draft
    assert "words: too little to answer a question on its own (short)" in draft  # what the linter would say
    assert "+44" not in draft and "Owner111" not in draft and "[name], feed your starter" in draft
    assert f"Ways owners ask it\n• {SOURDOUGH_Q}\n" in draft and "(by Owner1; source: consultant)" in draft
    assert set(buttons(last_markup(telegram, ADMIN))) == {"teach:publish:1", "teach:discard:1"}

    edit = (
        f"Q: {SOURDOUGH_Q}\nQ: how do I bake sourdough at home\n"
        "Mix 500 g flour, 350 g water, 100 g active starter and 10 g salt; fold every 30 minutes, "
        "prove overnight in the fridge and bake at 250 °C in a covered pot."
    )
    [edited] = await asked(telegram, ADMIN, edit, reply_to=sent_message(telegram, ADMIN))
    edited = _visible_text(edited)
    assert edited.startswith("📝 Draft #1") and "Edited by Owner1." in edited
    assert "• how do I bake sourdough at home" in edited and "feed your starter" not in edited

    started = time.monotonic()
    published = await press(telegram, ADMIN, "teach:publish:1", sent_message(telegram, ADMIN), ADMIN, count=2)
    assert published[0].startswith("⏳ Publishing draft #1")
    path = "answers/what-is-the-best-recipe-for-sourdough-bread.md"
    assert published[1].startswith(f"📚 Published draft #1 as {path} (index version 2 is live)")
    [answer] = await asked(telegram, OTHER_OWNER, "How do I make sourdough bread at home?")
    elapsed = time.monotonic() - started
    assert "350 g water" in answer and elapsed < 10, (elapsed, answer)
    print(f"published and answered in {elapsed:.1f} s")
    [turn] = await bot.storage.list_turns(TurnFilter(user=f"tg:{OTHER_OWNER}"), limit=None)
    assert turn.covered and turn.sources[0]["path"] == path
    entry = (library["knowledge_dir"] / path).read_text()
    assert 'author: "Owner1"' in entry and "source: consultant" in entry and "+44" not in entry
    assert (await bot.storage.get_draft(1)).status == "published"

    # the owner who asked to hear back gets one follow-up: their question, the answer, its source
    def follow_ups() -> list[str]:
        texts = [_visible_text(text) for text in answers(telegram, OWNER)]
        return ["\n".join(texts[n:]) for n, text in enumerate(texts) if "🔔 You asked me to tell you" in text]

    await telegram.wait_for(lambda: follow_ups(), what="the follow-up", timeout=30)
    [follow_up] = follow_ups()
    assert SOURDOUGH_Q in follow_up and "350 g water" in follow_up, follow_up
    assert "Sources" in follow_up and follow_up.count(SOURDOUGH_Q) >= 2, follow_up  # asked, and the entry's title
    assert {data.split(":")[0] for data in buttons(last_markup(telegram, OWNER))} >= {"fb", "src"}
    assert not await bot.storage.open_wishes(f"tg:{OWNER}") and wish.question == SOURDOUGH_Q

    # the same draft is not published twice
    before = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(ADMIN, "teach:publish:1", sent_message(telegram, ADMIN, -3))
    await telegram.wait_for(lambda: len(telegram.calls_of("answerCallbackQuery")) > before, what="the refusal")
    assert telegram.calls_of("answerCallbackQuery")[-1].params["text"] == "Draft #1 is published; not published again."
    assert_rendered(telegram, ADMIN, html_only=False)  # drafts and their confirmations: no raw Markdown


async def test_a_held_publish_published_anyway_then_rolled_back(start_bot, telegram, library):
    bot = await start_bot(**library)
    _card, sent = await handed_over(telegram, ADMIN, ADMIN, "Sell your unpaid invoices to a factor.")
    await press(telegram, ADMIN, "teach:save:1", sent, ADMIN)
    copycat = "Q: borrowing against unpaid invoices\nQ: money stuck in unpaid invoices, any way to unlock it?"
    await asked(telegram, ADMIN, copycat, reply_to=sent_message(telegram, ADMIN))

    _, held = await press(telegram, ADMIN, "teach:publish:1", sent_message(telegram, ADMIN), ADMIN, count=2)
    assert held.startswith(
        "Draft #1: Held: this entry would take the lead from 2 questions the library answered before."
    ), held
    assert "“borrowing against unpaid invoices” → credit/invoice-finance.md#What is invoice finance?" in held
    assert set(buttons(last_markup(telegram, ADMIN))) == {"teach:force:1", "teach:edit:1"}
    assert current_version(bot.settings.index_path) == 1 and (await bot.storage.get_draft(1)).status == "held"
    assert not (library["knowledge_dir"] / "answers").exists() or not any(
        (library["knowledge_dir"] / "answers").glob("*.md")
    )

    [again] = await press(telegram, ADMIN, "teach:edit:1", sent_message(telegram, ADMIN), ADMIN)
    assert _visible_text(again).startswith("📝 Draft #1") and "Held by the eval" in again
    _, done = await press(telegram, ADMIN, "teach:force:1", sent_message(telegram, ADMIN, -2), ADMIN, count=2)
    assert done.startswith("📚 Published draft #1 as answers/borrowing-against-unpaid-invoices.md (index version 2")

    [rolled] = await asked(telegram, ADMIN, "/rollback")
    assert rolled.startswith("Rolled back: index version 1 is live again (version 2 is no longer used).")
    assert "Taken out: answers/borrowing-against-unpaid-invoices.md" in rolled and "answers/.rolled-back/" in rolled
    assert (await bot.storage.get_draft(1)).status == "rolled_back"
    assert (library["knowledge_dir"] / "answers/.rolled-back/borrowing-against-unpaid-invoices.md").exists()
    [none] = await asked(telegram, ADMIN, "/rollback")
    assert none == "Nothing rolled back: there is no earlier index version to go back to (live: 1)."
    [refused] = await asked(telegram, OWNER, "/rollback")
    assert refused == "Not permitted."

    env = {"KNOWLEDGE_DIR": str(library["knowledge_dir"]), "INDEX_DIR": str(library["index_dir"])}
    result = invoke("index", "rollback", env=env)
    assert result.returncode == 2 and "nothing rolled back: there is no earlier index version" in result.stderr


async def test_discard_answer_a_gap_and_a_consultant_without_publish_rights(start_bot, telegram, library):
    bot = await start_bot(**library, admin_chat_id=GROUP, consultants_may_publish=False)
    telegram.chats[GROUP] = "supergroup"
    group = {"chat_type": "supergroup"}
    card, _sent = await handed_over(telegram, GROUP, CONSULTANT, "Use a strong flour.", **group)
    # a resolved card keeps one button: Save as knowledge
    await press(telegram, CONSULTANT, "ho:resolve:1", card, GROUP)

    def edited() -> list:  # the resolved card's (the claim by the reply edited them first)
        calls = telegram.calls_of("editMessageReplyMarkup", GROUP)
        return [c for c in calls if "teach:save" in str(c.params.get("reply_markup"))]

    await telegram.wait_for(edited, what="the resolved card's buttons")
    [resolved] = edited()
    assert int(resolved.params["message_id"]) == card["message_id"]
    assert buttons(resolved.params["reply_markup"]) == {"teach:save:1": "📚 Save as knowledge"}
    await press(telegram, CONSULTANT, "teach:save:1", resolved.result, GROUP)
    draft = sent_message(telegram, GROUP)
    [refused] = await press(telegram, CONSULTANT, "teach:publish:1", draft, GROUP)
    assert refused == (
        "Draft #1 was not published. Only an admin may publish here — ask one, or set CONSULTANTS_MAY_PUBLISH."
    )
    assert (await bot.storage.get_draft(1)).status == "draft" and current_version(bot.settings.index_path) == 1
    [discarded] = await press(telegram, CONSULTANT, "teach:discard:1", draft, GROUP)
    assert discarded == "🗑 Draft #1 discarded by Owner77; nothing was published."
    [edit_refused] = await asked(telegram, CONSULTANT, "Use rye.", reply_to=draft, chat_id=GROUP, **group)
    assert edit_refused == "Draft #1 is discarded; nothing was changed."

    # "✍️ Answer this" under /gaps: the gap's owner questions, the answer a reply to the prompt
    [gaps] = await asked(telegram, ADMIN, "/gaps", chat_id=GROUP, **group)
    assert SOURDOUGH_Q[:20] in gaps
    [(data, label)] = [(d, t) for d, t in buttons(last_markup(telegram, GROUP)).items() if d.startswith("teach:gap:")]
    assert label == "✍️ Answer this: 1"
    [prompt] = await press(telegram, CONSULTANT, data, sent_message(telegram, GROUP), GROUP)
    assert prompt.startswith("📝 Draft #2: reply to this message with the answer") and SOURDOUGH_Q in prompt
    await bot.stop()  # the draft is in the database: a restarted bot (or another worker) continues it
    bot = await start_bot(**library, admin_chat_id=GROUP, consultants_may_publish=False)
    [gap_draft] = await asked(
        telegram,
        CONSULTANT,
        "Bake it in a covered pot.",
        reply_to=sent_message(telegram, GROUP),
        chat_id=GROUP,
        **group,
    )
    gap_draft = _visible_text(gap_draft)
    assert gap_draft.startswith("📝 Draft #2") and f"Ways owners ask it\n• {SOURDOUGH_Q}" in gap_draft
    assert "Bake it in a covered pot." in gap_draft and (await bot.storage.get_draft(2)).kind == "gap"
