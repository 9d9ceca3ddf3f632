"""An owner's document is read like a knowledge file, and each passage knows its page."""

from __future__ import annotations

import pytest

from bot.knowledge.documents import TooManyPages
from bot.knowledge.uploads import document_kind, read_upload
from tests.helpers.pdf import LOAN_OFFER, pdf_of


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
