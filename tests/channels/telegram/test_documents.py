"""Owners' own documents, end to end against the fake Bot API: a real PDF sent by one owner is
downloaded, read and summarised; that owner's next answer has its passages in the prompt beside
the knowledge's and cites it [D1] with its page; a second owner's never does; admins see that it
exists and its size, not its content; /forget deletes its row and its passages."""

from __future__ import annotations

from bot.index import Embeddings
from bot.index.owner_documents import OwnerDocuments
from tests.fakes.openai_server import Reply, last_user_message
from tests.helpers.pdf import LOAN_OFFER, LOAN_QUESTION, pdf_of
from tests.helpers.telegram import ADMIN, OWNER, answers, asked, last_markup, sent_message

OTHER = 222
NAME = "crumbly-crust-loan-offer.pdf"


def buttons(markup: dict) -> dict[str, str]:
    return {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}


async def send_document(telegram, user: int, content: bytes, name: str, mime: str) -> list[str]:
    document = {**telegram.add_file(content, name), "file_name": name, "mime_type": mime}
    return await asked(telegram, user, None, extra={"document": document})


async def test_an_owners_pdf_answers_them_only_and_goes_with_forget(start_bot, telegram, llm, embedder):
    bot = await start_bot()
    [summary] = await send_document(telegram, OWNER, pdf_of(LOAN_OFFER), NAME, "application/pdf")
    assert summary.startswith("📄 I've read “Crumbly crust loan offer” (pages: 3, sections: 1).\n"), summary
    assert "cite it as [D1]" in summary and len(summary.splitlines()) == 2
    examples = buttons(last_markup(telegram, OWNER))
    assert examples == {
        "docask:1:0": "What are the main points of “Crumbly crust loan offer”?",
        "docask:1:1": "What should I improve in “Crumbly crust loan offer”?",
    }
    [refused] = await send_document(telegram, OWNER, b"\xff\xd8 jpeg", "shop.jpg", "image/jpeg")
    assert refused == "I can read PDF, Word (.docx), text and Markdown files: please send one of those."

    # the owner's question: both sets of passages in the prompt; the answer cites the document
    llm.responder = lambda body: Reply("The fee is 2.5 percent of the balance [D1]; compare lenders first [1].")
    [answer] = await asked(telegram, OWNER, LOAN_QUESTION)
    prompt = last_user_message(llm.answer_requests()[-1])
    assert "[D1] Your document: Crumbly crust loan offer, page 3\n" in prompt and "blueberry clause" in prompt
    assert "<passages>\n[1] " in prompt
    assert "2.5 percent of the balance [D1]" in answer
    assert "D1. Your document: Crumbly crust loan offer, page 3" in answer
    turn = int(next(d for d in buttons(last_markup(telegram, OWNER)) if d.startswith("src:")).split(":")[1])
    telegram.press(OWNER, f"src:{turn}", sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: "blueberry clause" in answers(telegram, OWNER)[-1], what="the document's excerpt")
    stored = [s for s in (await bot.storage.get_turn(turn)).sources if s.get("kind") == "document"]
    assert stored and stored[0]["excerpt"] == ""  # the transcript keeps where it was cited, not the text

    # a second owner asking the same never gets it, even forging the first owner's buttons
    [other] = await asked(telegram, OTHER, LOAN_QUESTION)
    assert "blueberry" not in last_user_message(llm.answer_requests()[-1]) and "[D1]" not in other
    pressed = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(OTHER, "docdel:1", sent_message(telegram, OTHER))
    await telegram.wait_for(lambda: len(telegram.calls_of("answerCallbackQuery")) > pressed, what="the refusal")
    assert telegram.calls_of("answerCallbackQuery")[-1].params["text"] == "That document is no longer stored."

    # /documents lists it with a delete button; an admin sees that it exists and its size only
    [listing] = await asked(telegram, OWNER, "/documents")
    assert f"1. {NAME}: “Crumbly crust loan offer”, pages: 3, 2 KB" in listing
    assert "docdel:1" in buttons(last_markup(telegram, OWNER))
    [transcript] = await asked(telegram, ADMIN, f"/transcript {OWNER}")
    assert f"Documents (1, content private to the owner): {NAME} (2 KB, 3 pages" in transcript
    assert "blueberry" not in transcript.split("\n\n")[0]

    # /forget: the row and every passage are gone
    store = OwnerDocuments(bot.settings, Embeddings(embedder))
    assert store.count(f"tg:{OWNER}") > 0
    [confirm] = await asked(telegram, OWNER, "/forget")
    assert "Your documents (/documents) are deleted too." in confirm
    telegram.press(OWNER, "forget:yes", sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: telegram.calls_of("editMessageText", OWNER), what="the forget confirmation")
    assert "Your documents are deleted too (1)." in telegram.calls_of("editMessageText", OWNER)[-1].params["text"]
    assert await bot.storage.documents_of(f"tg:{OWNER}") == [] and store.count(f"tg:{OWNER}") == 0
    [again] = await asked(telegram, OWNER, LOAN_QUESTION)
    assert "blueberry" not in last_user_message(llm.answer_requests()[-1]) and "[D1]" not in again


async def test_the_same_document_sent_again_is_kept_once(start_bot, telegram, embedder):
    """A forward or a second tap sends the same file again: it is recognised by its content,
    not read or stored again (its passages would be found twice), and the owner is told."""
    bot = await start_bot()
    await send_document(telegram, OWNER, pdf_of(LOAN_OFFER), NAME, "application/pdf")
    store = OwnerDocuments(bot.settings, Embeddings(embedder))
    passages = store.count(f"tg:{OWNER}")
    [again] = await send_document(telegram, OWNER, pdf_of(LOAN_OFFER), "forwarded.pdf", "application/pdf")
    assert again.startswith("📄 You sent me “Crumbly crust loan offer” before, on 20"), again
    assert "I haven't stored it again" in again and "docask:1:0" in buttons(last_markup(telegram, OWNER))
    assert len(await bot.storage.documents_of(f"tg:{OWNER}")) == 1 and store.count(f"tg:{OWNER}") == passages
    # another owner's copy of the same file is theirs alone
    [theirs] = await send_document(telegram, OTHER, pdf_of(LOAN_OFFER), NAME, "application/pdf")
    assert theirs.startswith("📄 I've read “Crumbly crust loan offer”")
    # a different file under the same name is read
    amended = pdf_of([*LOAN_OFFER, ["Amended: the fee is now 2 percent."]])
    [changed] = await send_document(telegram, OWNER, amended, NAME, "application/pdf")
    assert changed.startswith("📄 I've read") and len(await bot.storage.documents_of(f"tg:{OWNER}")) == 2
