"""A hostile walk through the consultants' loop (issue 28), against the fake Bot API: what a
consultancy team and a hostile user found, each a test that failed before its fix."""

from __future__ import annotations

import pytest

from bot.channels.telegram.handlers.deps import ONLY_HERE
from bot.index.versions import current_version
from bot.storage import TurnFilter
from tests.channels.telegram.test_teach import SOURDOUGH_Q, handed_over, library, press  # noqa: F401 (fixture)
from tests.fakes.telegram_server import _visible_text
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, asked, sent_message

pytestmark = pytest.mark.hostile
GAPS_MESSAGE = {"message_id": 1, "chat": {"id": ADMIN, "type": "private"}, "date": 0}  # as forged: any will do
LONG = "How do I price a wedding cake for a hundred guests when flour and butter keep rising? "


async def test_a_draft_edited_with_long_questions_is_still_shown(start_bot, telegram, library):  # noqa: F811
    """Three long "Q:" lines (a Telegram message's worth) made the draft longer than Telegram
    takes: the edit was stored but the consultant saw nothing."""
    await start_bot(**library)
    _card, sent = await handed_over(telegram, ADMIN, ADMIN, "Use a cost sheet.")
    await press(telegram, ADMIN, "teach:save:1", sent, ADMIN)
    edit = "\n".join(f"Q: {n} {LONG * 14}" for n in range(3))
    assert len(edit) < 4096
    [shown] = await asked(telegram, ADMIN, edit, reply_to=sent_message(telegram, ADMIN))
    shown = _visible_text(shown)
    assert shown.startswith("📝 Draft #1") and len(shown) <= 4096 and "Use a cost sheet." in shown


async def test_answer_this_with_long_gap_questions_still_prompts(start_bot, telegram, library):  # noqa: F811
    """ "Answer this" on a gap of long owner questions: the prompt listed them all, past what
    Telegram takes, and the consultant got nothing to reply to."""
    await start_bot(**library)
    for n in range(3):
        await asked(telegram, OWNER, f"{n} {LONG * 16}")
    [prompt] = await press(telegram, ADMIN, "teach:gap:1-2-3", GAPS_MESSAGE, ADMIN)
    assert prompt.startswith("📝 Draft #1: reply to this message") and len(prompt) <= 4096


async def test_a_question_of_marks_only_is_refused_with_a_clear_message(start_bot, telegram, library):  # noqa: F811
    """ "Q: ###" is no way of asking (the file's heading would be empty): the edit crashed in
    silence; now it says why, and the draft keeps its questions."""
    bot = await start_bot(**library)
    _card, sent = await handed_over(telegram, ADMIN, ADMIN, "Use a cost sheet.")
    await press(telegram, ADMIN, "teach:save:1", sent, ADMIN)
    [said] = await asked(telegram, ADMIN, "Q: ###\nQ: - * -\nPrice each tier.", reply_to=sent_message(telegram, ADMIN))
    said = _visible_text(said)
    assert said.startswith("📝 Draft #1") and "Price each tier." in said, said
    assert "Not questions (no words in them), ignored: “###”, “- * -”." in said
    draft = await bot.storage.get_draft(1)
    assert draft.answer == "Price each tier." and all(q.strip("#-* ") for q in draft.questions), draft.questions
    [only] = await asked(telegram, ADMIN, "Q: ##", reply_to=sent_message(telegram, ADMIN))
    assert only.startswith("Nothing to change in draft #1") and "“##”" in only


async def test_tell_me_when_you_know_forged_in_a_group_is_refused(start_bot, telegram, library):  # noqa: F811
    """A group has no "Tell me when you know" (a consultant's help is for private chats), but the
    callback data is easy to forge: another member noted a wish on someone else's question, and
    the answer would later have been posted to the whole group."""
    bot = await start_bot(**library)
    group = -100300
    [declined] = await asked(telegram, OWNER, f"/ask {SOURDOUGH_Q}", chat_id=group, chat_type="supergroup")
    [turn] = await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"), limit=None)
    assert not turn.covered, declined
    for user in (222, OWNER):  # another member, and the asker too: no wish from a group
        before = len(telegram.calls_of("answerCallbackQuery"))
        telegram.press(user, f"wish:{turn.id}:en", sent_message(telegram, group))
        await telegram.wait_for(lambda n=before: len(telegram.calls_of("answerCallbackQuery")) > n, what="the refusal")
        assert telegram.calls_of("answerCallbackQuery")[-1].params.get("text") == "Not permitted."
    assert await bot.storage.open_wishes() == []


async def test_queue_of_twenty_requests_from_owners_with_long_names_is_sent(start_bot, telegram):
    """/queue with 20 open requests from owners whose Telegram names are long (first and last
    name, 64 characters each, and a username): the list went past Telegram's 4,096 characters
    and the consultant got nothing."""
    bot = await start_bot()
    for n in range(20):
        owner = f"tg:{9_000_000_000 + n}"
        await bot.storage.touch_user(owner, username=f"u{n}" + "x" * 30, display_name=f"{n} " + "Ann " * 31)
        await bot.storage.open_handover(owner, 9_000_000_000 + n, f"{n} " + LONG * 2, hours=24)
    [queue, *more] = await asked(telegram, ADMIN, "/queue")
    assert not more, more
    queue = _visible_text(queue)
    assert queue.startswith("📋 Open requests (20, oldest first)") and len(queue) <= 4096, len(queue)
    assert "#1 " in queue and "more." in queue


async def test_save_as_knowledge_tapped_twice_makes_one_draft(start_bot, telegram, library):  # noqa: F811
    """A double tap on "Save as knowledge" made two drafts of one exchange; both could be
    published, and the library held the same answer twice (`…-2.md`)."""
    bot = await start_bot(**library)
    _card, sent = await handed_over(telegram, ADMIN, ADMIN, "Use a cost sheet.")
    [first] = await press(telegram, ADMIN, "teach:save:1", sent, ADMIN)
    [second] = await press(telegram, ADMIN, "teach:save:1", sent, ADMIN)
    assert _visible_text(first).startswith("📝 Draft #1") and _visible_text(second).startswith("📝 Draft #1"), second
    assert "already" in _visible_text(second)
    assert await bot.storage.get_draft(2) is None


async def test_a_publish_that_cannot_write_the_folder_keeps_the_draft(start_bot, telegram, library):  # noqa: F811
    """The knowledge folder cannot take the entry (here `answers` is a file, as a folder without
    write access is for a root test process): the consultant is told, nothing goes live, and the
    draft is kept to publish again."""
    bot = await start_bot(**library)
    (library["knowledge_dir"] / "answers").write_text("not a folder")
    _card, sent = await handed_over(telegram, ADMIN, ADMIN, "Use a cost sheet for every cake.")
    await press(telegram, ADMIN, "teach:save:1", sent, ADMIN)
    _, failed = await press(telegram, ADMIN, "teach:publish:1", sent_message(telegram, ADMIN), ADMIN, count=2)
    assert failed.startswith("Could not publish draft #1:") and "The draft is kept; try again." in failed, failed
    assert (await bot.storage.get_draft(1)).status == "draft"
    assert current_version(bot.settings.index_path) == 1


async def test_the_teams_commands_do_not_show_owners_data_in_an_owners_group(start_bot, telegram, llm):
    """A consultant (CONSULTANT_USER_IDS) typing /transcript, /queue or /gaps in a group of owners
    posted other owners' questions, names and requests where every member reads them."""
    consultant, group = 77, -100400
    await start_bot(consultant_user_ids=[consultant])
    await asked(telegram, OWNER, CREDIT_Q)
    for command in (f"/transcript {OWNER}", "/queue", "/gaps", "/digest", "/stats"):
        [said] = await asked(telegram, consultant, command, chat_id=group, chat_type="supergroup")
        assert said == ONLY_HERE and CREDIT_Q not in said, (command, said)
    [history] = await asked(telegram, consultant, f"/transcript {OWNER}")  # privately: as before
    assert CREDIT_Q in history
    [admins] = await asked(telegram, ADMIN, "/queue", chat_id=group, chat_type="supergroup")
    assert admins == ONLY_HERE  # an admin's slip too
