"""An owner's own document answers that owner's questions beside the knowledge base, cited [D1]
with its page, offline too; nobody else's question ever finds it; deleted, it is gone."""

from __future__ import annotations

from bot.advisor import Advisor
from bot.advisor.citations import clean_citations
from bot.index import Embeddings
from bot.index.owner_documents import Owner, OwnerDocuments
from bot.knowledge.uploads import read_upload
from tests.helpers import retriever_for
from tests.helpers.pdf import LOAN_OFFER, LOAN_QUESTION, pdf_of


def store_loan_offer(store: OwnerDocuments, owner: str, document: int) -> None:
    upload = read_upload("crumbly-crust-loan-offer.pdf", pdf_of(LOAN_OFFER), "pdf", 50, 150, 30)
    metadatas = [
        {"title": upload.title, "heading": p.heading, "page": p.page, "chunk_index": p.chunk_index}
        for p in upload.passages
    ]
    store.add(
        owner, document, [p.text for p in upload.passages], [p.embedding_text for p in upload.passages], metadatas
    )


async def test_the_owners_document_is_cited_for_them_only(indexed, embedder):
    store = OwnerDocuments(indexed, Embeddings(embedder))
    store_loan_offer(store, "tg:1", 1)
    advisor = Advisor(retriever_for(indexed, embedder), indexed, owner_documents=store)

    answer = await advisor.answer(LOAN_QUESTION, owner=Owner("tg:1", frozenset({1})))
    assert "blueberry clause" in answer.text and "[D1]" in answer.text, answer.text
    [document] = [s for s in answer.sources if s.kind == "document"]
    assert (document.label, document.title, document.path) == (
        "D1",
        "Your document: Crumbly crust loan offer, page 3",
        "doc:1",
    )

    # another owner (even one naming the document's id), or no owner: never found
    for owner in (Owner("tg:2", frozenset({1})), None):
        other = await advisor.answer(LOAN_QUESTION, owner=owner)
        assert "blueberry" not in other.text and all(s.kind != "document" for s in other.sources)
    # a document the database no longer lists is not searched, even with its passages still stored
    assert "blueberry" not in (await advisor.answer(LOAN_QUESTION, owner=Owner("tg:1", frozenset({2})))).text

    assert store.count("tg:1") > 0 and store.document_keys() == {("tg:1", 1)}
    store.delete("tg:1", 1)
    assert store.count("tg:1") == 0 and store.document_keys() == set()


def test_citations_of_documents_are_checked_like_the_knowledges():
    text, cited = clean_citations("Fee 2.5% [D1]. Ovens [D4]. Lenders [2, D1]. Bad [7].", {1, 2, "D1"})
    assert text == "Fee 2.5% [D1]. Ovens. Lenders [2, D1]. Bad." and cited == ["D1", 2]
