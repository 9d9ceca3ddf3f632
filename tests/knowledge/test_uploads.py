"""An owner's document is read like a knowledge file, and each passage knows its page."""

from __future__ import annotations

import io
import random
import string

import pytest

from bot.knowledge.documents import TooManyPages
from bot.knowledge.files import KnowledgeFileError
from bot.knowledge.reading_apart import read_upload_apart
from bot.knowledge.uploads import document_kind, read_upload
from tests.helpers.pdf import LOAN_OFFER, pdf_of
from tests.knowledge.test_documents import docx_with_body


def test_a_pdf_is_read_with_the_page_of_each_passage():
    upload = read_upload("crumbly-crust-loan-offer.pdf", pdf_of(LOAN_OFFER), "pdf", 50, 150, 30)
    assert (upload.title, upload.kind, upload.pages) == ("Crumbly crust loan offer", "pdf", 3)
    [phrase] = [p for p in upload.passages if "blueberry clause" in p.text]
    assert phrase.page == 3 and upload.passages[0].page == 1
    assert phrase.embedding_text.startswith("Crumbly crust loan offer")


def test_page_caps_and_kinds():
    with pytest.raises(TooManyPages) as caught:
        read_upload("offer.pdf", pdf_of(LOAN_OFFER), "pdf", 2, 150, 30)
    assert (caught.value.pages, caught.value.limit) == (3, 2)
    with pytest.raises(TooManyPages):  # a document without pages: 500 words a page
        read_upload("notes.txt", ("word " * 1200).encode(), "txt", 2, 150, 30)
    plan = read_upload(
        "plan.md", b"# My plan\n\n## Year one\n\nOpen a second shop.\n\n## Year ten\n\nSell it.", "md", 5, 150, 30
    )
    assert (plan.title, plan.pages, plan.sections) == ("My plan", 0, ("Year one", "Year ten"))
    assert [document_kind(n, m) for n, m in [("a.PDF", None), ("x", "application/pdf"), ("a.jpg", "image/jpeg")]] == [
        "pdf",
        "pdf",
        None,
    ]


def docx_of(title: str, sections: list[tuple[str, str]]) -> bytes:
    """A Word document written with python-docx: a Title, then a Heading 1 and a paragraph each."""
    import docx

    document = docx.Document()
    document.add_heading(title, level=0)
    for heading, text in sections:
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_a_word_document_is_read_by_its_sections():
    plan = docx_of(
        "Crumbly Crust business plan",
        [
            ("Market", "Two offices opened near the shop; their staff buy lunch at noon."),
            ("Finance", "The gooseberry reserve keeps three months of rent aside before any new oven."),
        ],
    )
    upload = read_upload("business-plan.docx", plan, "docx", 50, 150, 30)
    assert (upload.file_name, upload.kind, upload.pages) == ("business-plan.docx", "docx", 0)
    assert (upload.title, upload.sections) == ("Crumbly Crust business plan", ("Market", "Finance"))
    [reserve] = [p for p in upload.passages if "gooseberry reserve" in p.text]
    assert reserve.heading.endswith("Finance") and reserve.page == 0
    assert all(p.page == 0 for p in upload.passages)
    assert document_kind("plan", "application/vnd.openxmlformats-officedocument.wordprocessingml.document") == "docx"
    with pytest.raises(TooManyPages) as caught:  # no pages in Word: 500 words a page
        read_upload("long.docx", docx_of("Long", [("All", "word " * 1200)]), "docx", 2, 150, 30)
    assert (caught.value.pages, caught.value.limit) == (3, 2)
    with pytest.raises(KnowledgeFileError, match="not a readable Word"):
        read_upload("broken.docx", plan[: len(plan) // 2], "docx", 50, 150, 30)


async def test_a_document_read_apart_is_read_the_same_and_its_problems_cross_over():
    """Owners' uploads are read in a process of their own (`read_upload_apart`): the same passages,
    the same page cap and the same reasons for an unreadable file."""
    here = read_upload("offer.pdf", pdf_of(LOAN_OFFER), "pdf", 50, 150, 30)
    assert await read_upload_apart("offer.pdf", pdf_of(LOAN_OFFER), "pdf", 50, 150, 30, seconds=30) == here
    with pytest.raises(TooManyPages) as caught:
        await read_upload_apart("offer.pdf", pdf_of(LOAN_OFFER), "pdf", 2, 150, 30, seconds=30)
    assert (caught.value.pages, caught.value.limit) == (3, 2)
    with pytest.raises(KnowledgeFileError, match=r"offer\.pdf: .*PDF"):
        await read_upload_apart("offer.pdf", b"%PDF-1.4 not really", "pdf", 50, 150, 30, seconds=30)


@pytest.mark.hostile
async def test_a_document_that_takes_too_long_or_too_much_memory_is_refused_and_the_bot_goes_on():
    """Six small hostile Word files once kept every owner waiting for four minutes: a reader that
    overruns its time is killed, one that needs more memory than it may have fails alone."""
    words = " ".join(f"w{n % 5000}" for n in range(300_000)).encode()  # ~600 pages of text
    with pytest.raises(KnowledgeFileError, match=r"notes.txt: took over 0.2 s to read"):
        await read_upload_apart("notes.txt", words, "txt", 2000, 150, 30, seconds=0.2)
    rng = random.Random(3)
    tiny = ["".join(rng.choices(string.ascii_lowercase, k=2)) for _ in range(400_000)]
    crowded = docx_with_body("".join(f"<w:p><w:r><w:t>{word}</w:t></w:r></w:p>" for word in tiny))  # 0.9 MB
    limit = 150 * 1024**2  # what a plain document needs, and much less than 400,000 paragraphs do
    with pytest.raises(KnowledgeFileError, match=r"big\.docx: "):
        await read_upload_apart("big.docx", crowded, "docx", 2000, 150, 30, seconds=60, memory=limit)
    plain = await read_upload_apart("plan.md", b"# Plan\n\nOpen a shop.", "md", 5, 150, 30, seconds=30, memory=limit)
    assert plain.title == "Plan"
