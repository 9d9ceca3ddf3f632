"""Photos, end to end against the fake Bot API: real JPEGs with text drawn at test time are
downloaded and read by the real Tesseract (Debian's tesseract-ocr and its language packs), kept
as the owner's private document and summarised in the owner's language (English, Russian,
Chinese, Arabic); a photo without text, or with Tesseract missing or too slow, is answered as
before; the largest photo size within PHOTO_MAX_PIXELS is the one read."""

from __future__ import annotations

import logging
import shutil

import pytest

from bot.index import Embeddings
from bot.index.owner_documents import OwnerDocuments
from bot.storage import TurnFilter
from tests.fakes.openai_server import Reply, last_user_message
from tests.fakes.telegram_server import BOT
from tests.helpers.images import (
    BANK_OFFER,
    CHINESE,
    LOAN_OFFER_AR,
    PRICE_LIST_RU,
    PRICE_LIST_ZH,
    landscape,
    noise,
    text_photo,
)
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked, last_markup

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="Debian's tesseract-ocr is not installed")

OTHER = 222
NO_TEXT = "What would you like to know about this photo?"
CHARGE_Q = "What is the early repayment charge in the Northwind Bank business loan offer?"


def buttons(markup: dict) -> dict[str, str]:
    return {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}


async def photo(telegram, user: int, content: bytes | None = None, caption: str | None = None, **fields) -> list[str]:
    """Send a photo (one size: `content`, 1200 px wide) and wait for the bot's reply (or `count`)."""
    count = fields.pop("count", 1)
    before = len(answers(telegram, user))
    sizes = fields.pop("sizes", None) or ([(content, 1200, 320)] if content is not None else None)
    telegram.photo(user, caption, sizes=sizes, **fields)
    await telegram.wait_for(lambda: len(answers(telegram, user)) >= before + count, what="the reply to a photo")
    return answers(telegram, user)[before:]


async def test_a_photo_of_a_bank_offer_is_kept_as_the_owners_document_and_cited(start_bot, telegram, llm, embedder):
    bot = await start_bot()
    offer = text_photo(BANK_OFFER)
    [summary] = await photo(telegram, OWNER, offer)
    first, second = summary.splitlines()
    assert first.startswith("📷 I've read the text in your photo: “Northwind Bank business loan offer” (words: "), (
        summary
    )
    assert second.startswith("Only you can ask about it: my answers cite it as [D1]")
    assert buttons(last_markup(telegram, OWNER)) == {
        "docask:1:0": "What are the main points of “Northwind Bank business loan offer”?",
        "docask:1:1": "What should I improve in “Northwind Bank business loan offer”?",
    }
    [document] = await bot.storage.documents_of(f"tg:{OWNER}")
    assert (document.kind, document.title) == ("photo", "Northwind Bank business loan offer")
    assert document.file_name.startswith("photo-") and document.file_name.endswith(".jpg")
    store = OwnerDocuments(bot.settings, Embeddings(embedder))
    assert store.count(f"tg:{OWNER}") > 0

    # the same photo again (a forward) is kept once; /documents lists it
    [again] = await photo(telegram, OWNER, offer)
    assert again.startswith("📄 You sent me “Northwind Bank business loan offer” before"), again
    assert len(await bot.storage.documents_of(f"tg:{OWNER}")) == 1
    [listing] = await asked(telegram, OWNER, "/documents")
    assert f"1. {document.file_name}: “Northwind Bank business loan offer”" in listing

    # its text is in the owner's next prompt, cited [D1]; never in another owner's
    llm.responder = lambda body: Reply("The charge is 2% of the balance [D1].")
    [answer] = await asked(telegram, OWNER, CHARGE_Q)
    prompt = last_user_message(llm.answer_requests()[-1])
    assert "[D1] Your document: Northwind Bank business loan offer" in prompt and "heron clause" in prompt
    assert "2% of the balance [D1]" in answer
    before = len(llm.answer_requests())
    await asked(telegram, OTHER, CHARGE_Q)
    assert not any("heron" in last_user_message(r) for r in llm.answer_requests()[before:])


async def test_a_photos_caption_is_answered_with_its_text_in_view(start_bot, telegram, llm):
    """The caption is a question about the photo, answered once its text is kept (counted once)."""
    bot = await start_bot(questions_per_minute=2)
    llm.responder = lambda body: Reply("The early repayment charge is 2% of the balance [D1].")
    summary, answer = await photo(telegram, OWNER, text_photo(BANK_OFFER), caption=CHARGE_Q, count=2)
    assert summary.startswith("📷 I've read the text in your photo"), (summary, answer)
    prompt = last_user_message(llm.answer_requests()[-1])
    assert "heron clause" in prompt and f"<question>\n{CHARGE_Q}\n</question>" in prompt
    assert "2% of the balance [D1]" in answer
    [turn] = await bot.storage.list_turns(TurnFilter(user=f"tg:{OWNER}"))
    assert (turn.question, turn.input_kind) == (CHARGE_Q, "photo")
    await asked(telegram, OWNER, CREDIT_Q)  # reading and its caption were one question of the two
    assert len(llm.answer_requests()) == 2


@pytest.mark.parametrize(
    ("language", "lines", "font", "title", "read"),
    [
        (
            "ru",
            PRICE_LIST_RU,
            None,
            "Прайс-лист пекарни Колосок",
            "📷 Я прочитал текст на вашем фото: «{title}» (слов: ",
        ),
        ("zh", PRICE_LIST_ZH, CHINESE, "面包店价格表", "📷 我已读取您照片中的文字：“{title}”（字数："),
        ("ar", LOAN_OFFER_AR, None, "عرض قرض من البنك", "📷 قرأتُ النص الموجود في صورتك: «{title}»"),
    ],
)
async def test_an_owners_photo_is_read_in_their_language(start_bot, telegram, language, lines, font, title, read):
    """Tesseract reads with the owner's language pack (and English): a Russian price list for a
    Russian owner, a Chinese one for a Chinese owner, an Arabic offer for an Arabic one; the
    summary is in their language."""
    bot = await start_bot()
    content = text_photo(lines, font) if font else text_photo(lines)
    [summary] = await photo(telegram, OWNER, content, language_code=language)
    assert summary.startswith(read.format(title=title)), summary
    [document] = await bot.storage.documents_of(f"tg:{OWNER}")
    assert document.title == title


async def test_a_photo_without_text_keeps_todays_reply(start_bot, telegram, llm):
    """A landscape or noise has no text to keep: the owner is asked what they want to know (in
    their language), a caption is answered as the question, and nothing is stored."""
    bot = await start_bot()
    [line] = await photo(telegram, OWNER, landscape())
    assert line.startswith(NO_TEXT)
    [line] = await photo(telegram, OWNER, noise(), language_code="ru")
    assert line.startswith("Что вы хотите узнать об этой фотографии?"), line
    [answer] = await photo(telegram, OWNER, landscape(), caption=CREDIT_Q)
    assert "invoice finance" in answer
    assert await bot.storage.documents_of(f"tg:{OWNER}") == []
    assert len(telegram.calls_of("getFile")) == 3  # each was downloaded and looked at


async def test_without_tesseract_or_in_time_a_photo_gets_todays_reply_and_it_is_logged(
    start_bot, telegram, tmp_path, monkeypatch, caplog
):
    await start_bot(photo_read_seconds=0.001)
    caplog.set_level(logging.WARNING, logger="bot.knowledge.ocr")
    [line] = await photo(telegram, OWNER, text_photo(BANK_OFFER))
    assert line.startswith(NO_TEXT)
    assert "tesseract took over 0.001 s to read a photo" in caplog.text

    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on it
    caplog.clear()
    for _ in range(2):
        [line] = await photo(telegram, OWNER, text_photo(BANK_OFFER))
        assert line.startswith(NO_TEXT)
    assert caplog.text.count("tesseract is not installed") == 1  # logged once


async def test_the_largest_photo_size_within_the_limit_is_read(start_bot, telegram):
    """Telegram offers a photo in several sizes: the thumbnail is too small to read, and one over
    PHOTO_MAX_PIXELS is never downloaded; the largest size within it is read."""
    await start_bot(photo_max_pixels=2_000_000)
    sizes = [(landscape(90, 60), 90, 60), (text_photo(BANK_OFFER), 1200, 320), (landscape(), 2560, 1920)]
    [summary] = await photo(telegram, OWNER, sizes=sizes)
    assert summary.startswith("📷 I've read the text in your photo: “Northwind Bank business loan offer”"), summary
    [fetched] = telegram.calls_of("getFile")
    assert telegram.files[fetched.params["file_id"]][1] == sizes[1][0]


async def test_a_photo_with_text_sent_during_a_handover_reaches_the_consultant(start_bot, telegram):
    """While a consultant has the owner's request, a photo with text is shared with them like a
    document (the photo itself, in the card's thread), and its caption is theirs to answer."""
    bot = await start_bot()
    admin_before = len(answers(telegram, ADMIN))
    await asked(telegram, OWNER, "/human Please check the bank's offer I'm about to send")
    await telegram.wait_for(lambda: len(answers(telegram, ADMIN)) > admin_before, what="the card")
    card = telegram.calls_of("sendMessage", ADMIN)[admin_before].result

    offer = text_photo(BANK_OFFER)
    summary, passed = await photo(telegram, OWNER, offer, caption="Is this a fair fee?", count=2)
    assert passed == "Passed on to the consultant."
    assert summary.startswith("📷 I've read the text in your photo: “Northwind Bank business loan offer”")
    assert summary.endswith("\nI've passed it on to the consultant too."), summary
    [shared] = telegram.calls_of("sendDocument")
    assert int(shared.params["chat_id"]) == ADMIN and shared.params["document"] == offer
    assert shared.params["reply_parameters"]["message_id"] == card["message_id"]
    await telegram.wait_for(lambda: "Is this a fair fee?" in "\n".join(answers(telegram, ADMIN)), what="the caption")
    assert len(await bot.storage.documents_of(f"tg:{OWNER}")) == 1


async def test_a_photo_whose_text_cannot_be_stored_is_answered_as_before(start_bot, telegram, tmp_path, caplog):
    """The owners' store cannot be opened (a file where its folder goes): the photo's caption is
    still answered, as a question counted once, and the fault is logged."""
    (tmp_path / "owner_documents").write_text("not a folder")
    bot = await start_bot(questions_per_minute=1)
    [answer] = await photo(telegram, OWNER, text_photo(BANK_OFFER), caption=CREDIT_Q)
    assert "invoice finance" in answer, answer
    assert "could not keep the text of a photo" in caplog.text
    assert await bot.storage.documents_of(f"tg:{OWNER}") == []


async def test_a_photo_in_a_group_is_not_read_into_anyones_store(start_bot, telegram):
    """Owners' documents stay private: in a group the photo is not downloaded nor read; its
    caption, addressed to the bot, is answered as before."""
    bot = await start_bot()
    group = -100777
    before = len(answers(telegram, group))
    caption = f"@{BOT['username']} {CREDIT_Q}"
    telegram.photo(OWNER, caption, sizes=[(text_photo(BANK_OFFER), 1200, 320)], chat_id=group, chat_type="supergroup")
    await telegram.wait_for(lambda: len(answers(telegram, group)) > before, what="the answer in the group")
    assert "invoice finance" in answers(telegram, group)[-1]
    assert not telegram.calls_of("getFile") and await bot.storage.documents_of(f"tg:{OWNER}") == []
