"""Owners' own documents, end to end against the fake Bot API: a real PDF sent by one owner is
downloaded, read and summarised; that owner's next answer has its passages in the prompt beside
the knowledge's and cites it [D1] with its page; a second owner's never does; admins see that it
exists and its size, not its content; /forget deletes its row and its passages."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3

import pytest

from bot.index import Embeddings
from bot.index.owner_documents import OwnerDocuments
from tests.fakes.openai_server import Reply, last_user_message
from tests.helpers.pdf import LOAN_OFFER, LOAN_QUESTION, pdf_of
from tests.helpers.telegram import ADMIN, CREDIT_Q, OWNER, answers, asked, last_markup, sent_message

OTHER = 222
NAME = "crumbly-crust-loan-offer.pdf"


def buttons(markup: dict) -> dict[str, str]:
    return {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}


def prompts_since(llm, before: int) -> list[str]:
    """What the model was asked after the first `before` requests (none when the question was
    declined without asking it: the knowledge alone did not answer it surely enough)."""
    return [last_user_message(request) for request in llm.answer_requests()[before:]]


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
    before = len(llm.answer_requests())
    [other] = await asked(telegram, OTHER, LOAN_QUESTION)  # answered from the knowledge, or declined
    assert not any("blueberry" in prompt for prompt in prompts_since(llm, before))
    assert "[D1]" not in other and "blueberry" not in other
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
    before = len(llm.answer_requests())
    [again] = await asked(telegram, OWNER, LOAN_QUESTION)  # from the knowledge alone, or declined
    assert not any("blueberry" in prompt for prompt in prompts_since(llm, before)) and "[D1]" not in again


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


NOTES = "# Shop notes\n\n## Opening hours\n\nThe shop opens at seven and closes at four on weekdays.\n"


async def test_retention_deletes_documents_past_the_period_with_their_passages(start_bot, telegram, embedder):
    """The daily documents job (its first run seconds after a start) deletes each document
    older than RETENTION_DAYS, row and passages; a recent one stays; and the passages of a
    document whose row went while the bot was down (the command line's forget) are swept."""
    bot = await start_bot(retention_days=30)
    await send_document(telegram, OWNER, pdf_of(LOAN_OFFER), NAME, "application/pdf")
    await send_document(telegram, OWNER, NOTES.encode(), "notes.md", "text/markdown")
    await send_document(telegram, OWNER, b"# Plan\n\nOpen a second bakery in 2027.", "plan.md", "text/markdown")
    old, recent, forgotten = await bot.storage.documents_of(f"tg:{OWNER}")
    store = OwnerDocuments(bot.settings, Embeddings(embedder))
    assert all(store.count(f"tg:{OWNER}", d.id) > 0 for d in (old, recent, forgotten))
    await bot.stop()  # a month passes for the first document; the third one's row is deleted
    sent = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=31)
    with contextlib.closing(sqlite3.connect(bot.settings.data_dir / "transcripts.db")) as conn, conn:
        conn.execute("update owner_documents set created_at = ? where id = ?", (f"{sent:%Y-%m-%d %H:%M:%S.%f}", old.id))
        conn.execute("delete from owner_documents where id = ?", (forgotten.id,))
    bot = await start_bot(retention_days=30)

    def gone() -> bool:  # its passages go first, then its row
        with contextlib.closing(sqlite3.connect(bot.settings.data_dir / "transcripts.db")) as conn:
            rows = conn.execute("select id from owner_documents order by id").fetchall()
        swept = store.count(f"tg:{OWNER}", forgotten.id) == 0
        return rows == [(recent.id,)] and store.count(f"tg:{OWNER}", old.id) == 0 and swept

    await telegram.wait_for(gone, timeout=120, what="the documents job")
    assert [d.id for d in await bot.storage.documents_of(f"tg:{OWNER}")] == [recent.id]
    assert store.count(f"tg:{OWNER}", recent.id) > 0


async def test_the_owners_delete_button_removes_that_document_and_its_passages(start_bot, telegram, llm, embedder):
    bot = await start_bot()
    await send_document(telegram, OWNER, pdf_of(LOAN_OFFER), NAME, "application/pdf")
    await send_document(telegram, OWNER, NOTES.encode(), "notes.md", "text/markdown")
    loan, notes = await bot.storage.documents_of(f"tg:{OWNER}")
    store = OwnerDocuments(bot.settings, Embeddings(embedder))
    assert store.count(f"tg:{OWNER}", loan.id) > 0

    await asked(telegram, OWNER, "/documents")
    assert f"docdel:{loan.id}" in buttons(last_markup(telegram, OWNER))
    pressed = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(OWNER, f"docdel:{loan.id}", sent_message(telegram, OWNER))
    await telegram.wait_for(lambda: telegram.calls_of("editMessageText", OWNER), what="the listing without it")
    assert telegram.calls_of("answerCallbackQuery")[pressed].params["text"] == (
        f"Deleted {NAME} and everything I read from it."
    )
    listing = telegram.calls_of("editMessageText", OWNER)[-1].params
    assert NAME not in listing["text"] and "1. notes.md" in listing["text"]
    assert buttons(listing["reply_markup"]) == {f"docdel:{notes.id}": "🗑 Delete 1. notes.md"}
    assert [d.id for d in await bot.storage.documents_of(f"tg:{OWNER}")] == [notes.id]
    assert store.count(f"tg:{OWNER}", loan.id) == 0 and store.count(f"tg:{OWNER}", notes.id) > 0

    # the next answer has nothing of it to cite
    llm.responder = lambda body: Reply("The fee is 2.5 percent of the balance [D1]; compare lenders first [1].")
    before = len(llm.answer_requests())
    [answer] = await asked(telegram, OWNER, LOAN_QUESTION)  # from the knowledge alone, or declined
    for prompt in prompts_since(llm, before):
        assert "blueberry" not in prompt and "Crumbly crust loan offer" not in prompt
    assert "[D1]" not in answer and "Your document" not in answer


async def test_a_document_sent_during_a_handover_reaches_the_consultant(start_bot, telegram):
    """Sending a document while a consultant has the request shares it: the file goes to the
    card's thread, and a reply to it reaches the owner. Before the hand-over nothing is shared."""
    bot = await start_bot()
    [alone] = await send_document(telegram, OWNER, NOTES.encode(), "notes.md", "text/markdown")
    assert "consultant" not in alone and not telegram.calls_of("sendDocument")

    admin_before = len(answers(telegram, ADMIN))
    await asked(telegram, OWNER, "/human Please check the loan offer I'm about to send")
    await telegram.wait_for(lambda: len(answers(telegram, ADMIN)) > admin_before, what="the card")
    card = telegram.calls_of("sendMessage", ADMIN)[admin_before].result
    assert "Request #1" in card["text"], card["text"]

    data = pdf_of(LOAN_OFFER)
    [summary] = await send_document(telegram, OWNER, data, NAME, "application/pdf")
    assert summary.startswith("📄 I've read “Crumbly crust loan offer”")
    assert summary.endswith("\nI've passed it on to the consultant too."), summary
    [shared] = telegram.calls_of("sendDocument")
    assert int(shared.params["chat_id"]) == ADMIN
    assert shared.params["reply_parameters"]["message_id"] == card["message_id"]  # in the card's thread
    assert shared.params["document"] == data and shared.params["_filename"] == NAME
    assert shared.params["caption"] == f"📎 Owner{OWNER} (#1) shared a document: {NAME}"
    assert len(await bot.storage.documents_of(f"tg:{OWNER}")) == 2  # the owner's own copy is kept as well

    # the consultant's reply to the shared file is the hand-over's: it reaches the owner
    before = len(answers(telegram, OWNER))
    telegram.message(ADMIN, "The blueberry clause is fair; sign it.", reply_to=shared.result)
    await telegram.wait_for(lambda: len(answers(telegram, OWNER)) > before, what="the consultant's reply")
    assert "blueberry clause is fair" in answers(telegram, OWNER)[-1]


async def test_a_document_over_the_size_limit_is_refused_without_downloading(start_bot, telegram):
    bot = await start_bot(document_max_mb=2)
    claimed = telegram.add_file(pdf_of(LOAN_OFFER), NAME, file_size=5 * 1024 * 1024 + 1)  # its size, as Telegram says
    document = {**claimed, "file_name": NAME, "mime_type": "application/pdf"}
    [refused] = await asked(telegram, OWNER, None, extra={"document": document})
    assert refused == "That file is 5.0 MB; I read documents up to 2 MB."
    assert not telegram.calls_of("getFile") and not telegram.calls_of("download")
    assert await bot.storage.documents_of(f"tg:{OWNER}") == []


@pytest.mark.hostile
async def test_a_document_a_killed_bot_left_half_stored_is_read_again_or_swept(start_bot, telegram, embedder):
    """A kill -9 while an owner's document was embedded left it in /documents with no searchable
    content; sending it again got "I still have it", and no answer could ever cite it. Here the
    state a kill leaves is made by removing a stored document's passages while the bot is down."""
    bot = await start_bot()
    await send_document(telegram, OWNER, pdf_of(LOAN_OFFER), NAME, "application/pdf")
    await send_document(telegram, OWNER, NOTES.encode(), "notes.md", "text/markdown")
    cut, old = await bot.storage.documents_of(f"tg:{OWNER}")
    await bot.stop()
    store = OwnerDocuments(bot.settings, Embeddings(embedder))
    for document in (cut, old):
        store.delete(f"tg:{OWNER}", document.id)  # its row was written, its passages never were
    sent = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    with contextlib.closing(sqlite3.connect(bot.settings.data_dir / "transcripts.db")) as conn, conn:
        conn.execute("update owner_documents set created_at = ? where id = ?", (f"{sent:%Y-%m-%d %H:%M:%S.%f}", old.id))
    bot = await start_bot()

    [again] = await send_document(telegram, OWNER, pdf_of(LOAN_OFFER), NAME, "application/pdf")
    assert again.startswith("📄 I've read “Crumbly crust loan offer”"), again  # not "I still have it"
    [stored] = [d for d in await bot.storage.documents_of(f"tg:{OWNER}") if d.file_name == NAME]
    assert stored.id != cut.id and store.count(f"tg:{OWNER}", stored.id) == stored.chunks > 0

    for _ in range(120):  # the hour-old unfinished one goes at the documents job's first run
        if old.id not in {d.id for d in await bot.storage.documents_of(f"tg:{OWNER}")}:
            break
        await asyncio.sleep(0.5)
    assert [d.id for d in await bot.storage.documents_of(f"tg:{OWNER}")] == [stored.id]


@pytest.mark.hostile
async def test_a_document_that_reads_too_long_is_refused_while_other_owners_are_answered(start_bot, telegram):
    """Uploads once shared the answers' small thread pool: six slow Word files stopped every
    answer for minutes. Now each is read in a process of its own with DOCUMENT_READ_SECONDS."""
    await start_bot(document_read_seconds=1, document_max_pages=2000)
    slow = " ".join(f"w{n % 5000}" for n in range(300_000)).encode()  # ~600 pages: seconds to split
    document = {**telegram.add_file(slow, "notes.txt"), "file_name": "notes.txt", "mime_type": "text/plain"}
    telegram.message(OWNER, None, extra={"document": document})
    [answer] = await asked(telegram, OTHER, CREDIT_Q)
    assert "invoice finance" in answer.lower()
    await telegram.wait_for(lambda: any("couldn't read notes.txt" in t for t in answers(telegram, OWNER)), 60, "no")


@pytest.mark.hostile
async def test_uploads_count_against_the_owners_question_limits(start_bot, telegram):
    """Reading a document costs more than a question; uploads were not counted at all."""
    bot = await start_bot(questions_per_minute=2)
    for n in range(2):
        plan = f"# Plan {n}\n\nOpen shop {n}.".encode()
        [read] = await send_document(telegram, OWNER, plan, f"p{n}.md", "text/markdown")
        assert read.startswith("📄 I've read")
    [limited] = await send_document(telegram, OWNER, b"# Plan 3\n\nOpen shop 3.", "p3.md", "text/markdown")
    assert limited.startswith("You've asked a lot of questions — please try again in")
    assert len(await bot.storage.documents_of(f"tg:{OWNER}")) == 2


@pytest.mark.hostile
async def test_retention_at_scale_deletes_a_thousand_documents_and_keeps_the_recent_ones(start_bot, telegram, embedder):
    """Never tried before the second hostile test: 1,000 documents of 50 owners past
    RETENTION_DAYS (three passages each) all go, rows and passages, at the documents job after a
    start, and the bot answers meanwhile; the documents of the last days stay."""
    bot = await start_bot(retention_days=30)
    store = OwnerDocuments(bot.settings, Embeddings(embedder))
    owners = [f"tg:{9000 + n}" for n in range(50)]
    ids, vectors, texts, metadatas = [], [], [], []
    vector = embedder.embed(["Note: stock count and rent."])[0]  # one vector for all: the setup, not the test
    for n in range(1000):
        owner = owners[n % 50]
        document = await bot.storage.add_document(owner, 9000 + n % 50, f"note-{n}.md", chunks=3)
        for part in range(3):
            ids.append(f"{owner}#{document.id}#{part}")
            vectors.append(vector)
            texts.append(f"Note {n}, part {part}: stock count and rent.")
            metadatas.append(
                {"owner": owner, "document": document.id, "path": f"doc:{document.id}", "chunk_index": part}
            )
    store.collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metadatas)
    kept = await bot.storage.add_document(owners[0], 9000, "recent.md", chunks=1)
    store.add(
        owners[0],
        kept.id,
        ["Recent note."],
        ["Recent note."],
        [{"title": "r", "heading": "", "page": 0, "chunk_index": 0}],
    )
    await bot.stop()
    old = f"{dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=40):%Y-%m-%d %H:%M:%S.%f}"
    with contextlib.closing(sqlite3.connect(bot.settings.data_dir / "transcripts.db")) as conn, conn:
        conn.execute("update owner_documents set created_at = ? where id != ?", (old, kept.id))
    bot = await start_bot(retention_days=30)
    [answer] = await asked(telegram, OWNER, CREDIT_Q)  # answered while the job works
    assert "invoice finance" in answer.lower()

    async def rows() -> list[int]:
        return [d.id for o in owners for d in await bot.storage.documents_of(o)]

    for _ in range(240):
        if store.count() == 1 and await rows() == [kept.id]:
            break
        await asyncio.sleep(0.5)
    assert store.count() == 1 and store.count(owners[0], kept.id) == 1
    assert await rows() == [kept.id]


PLAN_PAGES = [
    [
        "Crumbly Crust Bakery Business Plan 2027",
        "We bake sourdough and pastries for two cafés and a farmers' market in Leeds.",
        "Next year we want to open a second shop and hire three bakers.",
    ],
    ["Finance.", "The second shop needs 60,000 pounds: half from savings, half from a bank loan."],
]


async def test_a_documents_title_is_its_own_title_line_or_heading_not_its_file_name(start_bot, telegram):
    """A plan sent as "Plan.pdf" is named by its title line ("Crumbly Crust Bakery Business Plan
    2027"), a text file by its first line, a Markdown file by its first heading whatever its
    level: in the summary, the example questions and /documents. (They were all "Plan".) A first
    line that is a sentence is no title: then the file's name is used."""
    await start_bot()
    title = "Crumbly Crust Bakery Business Plan 2027"
    [summary] = await send_document(telegram, OWNER, pdf_of(PLAN_PAGES), "Plan.pdf", "application/pdf")
    assert summary.startswith(f"📄 I've read “{title}” (pages: 2, "), summary
    assert set(buttons(last_markup(telegram, OWNER)).values()) == {
        f"What are the main points of “{title}”?",
        f"What should I improve in “{title}”?",
    }
    text = "Ten-year plan for Rosie's Cakes\n\nOpen a second shop in 2027 and a third in 2030.\n"
    [read] = await send_document(telegram, OWNER, text.encode(), "plan.txt", "text/plain")
    assert read.startswith("📄 I've read “Ten-year plan for Rosie's Cakes”"), read
    markdown = "## План развития пекарни\n\nОткрыть второй магазин в 2027 году.\n".encode()
    [read] = await send_document(telegram, OTHER, markdown, "plan.md", "text/markdown")
    assert read.startswith("📄 I've read “План развития пекарни”"), read
    sentence = b"We want to open a second shop next year, and hire three bakers.\n\nThe loan is the question.\n"
    [read] = await send_document(telegram, OTHER, sentence, "plan.txt", "text/plain")
    assert read.startswith("📄 I've read “Plan”"), read
    [listing] = await asked(telegram, OWNER, "/documents")
    assert f"1. Plan.pdf: “{title}”, pages: 2" in listing and "2. plan.txt: “Ten-year plan for Rosie" in listing
