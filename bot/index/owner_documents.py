"""Owners' own documents: a private vector store, apart from the knowledge index.

Each owner's passages are records of one Chroma collection, keyed by owner and document id, in
a place of their own: DATA_DIR/owner_documents (never inside INDEX_DIR, whose versions each
ingest rebuilds and switches), or the Chroma server when CHROMA_URL is set (a collection named
`<CHROMA_COLLECTION>-owner-documents-<space>`). Every read names the owner and the documents
the transcript database still lists for them, so a passage is never found for anyone else,
nor after its document was deleted. Passages are embedded with the multilingual model, so a
question in any language finds them, and scored on the scale MIN_SCORE is set on; the vector
cache is never used for them. It stores what it is given and knows nothing of files or owners'
chats.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import NamedTuple

from bot.config import Settings
from bot.index.embedder import BaseEmbedder
from bot.index.opening import make_chroma_client
from bot.index.retriever import Passage, passage_from
from bot.index.spaces import Embeddings

FOLDER = "owner_documents"
PAGE = 5000  # records read at a time when sweeping


class Owner(NamedTuple):
    """Whose documents to search: the owner's key (`tg:123`) and the ids of the documents the
    transcript database lists for them."""

    key: str
    documents: frozenset[int]


DELETE_BATCH = 500  # documents a delete names at once


class OwnerDocuments:
    """The owners' passages, opened on first use (no model and no Chroma at construction)."""

    def __init__(self, settings: Settings, embeddings: Embeddings) -> None:
        self.settings = settings
        self.embedder: BaseEmbedder = embeddings.multilingual
        self._collection = None
        self._lock = threading.Lock()

    @property
    def collection(self):
        if self._collection is None:
            with self._lock:
                if self._collection is None:
                    self._collection = self._open()
        return self._collection

    def _never_stored(self) -> bool:
        """Whether no passage was ever stored here: a local store whose folder was never made (no
        owner sent a document). The daily sweep (`passage_counts`) then has nothing to read,
        without opening Chroma for it (~0.5 s of CPU and tens of MB, seconds after every start)."""
        return (
            self._collection is None and not self.settings.chroma_url and not (self.settings.data_dir / FOLDER).exists()
        )

    def _open(self):
        remote = bool(self.settings.chroma_url)
        folder = None if remote else self.settings.data_dir / FOLDER
        if folder is not None:  # owners' text: readable by the bot's user only, like the transcripts
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
        client = make_chroma_client(self.settings, folder)
        prefix = f"{self.settings.chroma_collection[:30]}-" if remote else ""
        name = f"{prefix}owner-documents-{self.embedder.space or 'default'}"
        return client.get_or_create_collection(name, embedding_function=None, metadata={"hnsw:space": "cosine"})

    def add(
        self, owner: str, document: int, texts: Sequence[str], embedding_texts: Sequence[str], metadatas: Sequence[dict]
    ) -> int:
        """Embed and store one document's passages (`metadatas`: title, heading, page, chunk_index
        each); returns how many."""
        if not texts:
            return 0
        vectors = self.embedder.embed(list(embedding_texts), cached=False)
        records = [{**meta, "owner": owner, "document": document, "path": f"doc:{document}"} for meta in metadatas]
        ids = [f"{owner}#{document}#{meta['chunk_index']}" for meta in metadatas]
        self.collection.upsert(ids=ids, embeddings=vectors, documents=list(texts), metadatas=records)
        return len(ids)

    def search(self, owner: Owner, question: str, k: int) -> list[Passage]:
        """The `k` passages of the owner's listed documents nearest to `question`, best first."""
        if not owner.documents or k < 1:
            return []
        where = {"$and": [{"owner": owner.key}, {"document": {"$in": sorted(owner.documents)}}]}
        result = self.collection.query(
            query_embeddings=[self.embedder.embed_query(question)],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            passage_from(text, meta, self.embedder.calibrate(1.0 - float(distance)), kind="document")
            for text, meta, distance in zip(
                result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
            if meta.get("owner") == owner.key and meta.get("document") in owner.documents  # kept twice
        ]

    def passage(self, owner: str, document: int, chunk_index: int) -> str | None:
        """One passage's text (for the Sources button), only for its owner."""
        where = {"$and": [{"owner": owner}, {"document": document}, {"chunk_index": chunk_index}]}
        found = self.collection.get(where=where, include=["documents"])
        return found["documents"][0] if found["ids"] else None

    def delete(self, owner: str, document: int | None = None) -> None:
        """Delete one document's passages, or (`document=None`) all of the owner's."""
        where = {"owner": owner} if document is None else {"$and": [{"owner": owner}, {"document": document}]}
        self.collection.delete(where=where)

    def delete_documents(self, documents: Sequence[int]) -> None:
        """Delete the passages of many documents (their ids are unique across owners) in a few
        calls: retention's 1,000 documents one by one took minutes."""
        for start in range(0, len(documents), DELETE_BATCH):
            self.collection.delete(where={"document": {"$in": list(documents[start : start + DELETE_BATCH])}})

    def count(self, owner: str | None = None, document: int | None = None) -> int:
        """How many passages are stored (of an owner, of one of their documents)."""
        if owner is None:
            return self.collection.count()
        where = {"owner": owner} if document is None else {"$and": [{"owner": owner}, {"document": document}]}
        return len(self.collection.get(where=where, include=[])["ids"])

    def document_keys(self) -> set[tuple[str, int]]:
        """(owner, document id) of every document with passages here: compared with the database's
        list, those it no longer has are the passages to sweep (the command line's forget and prune
        delete rows while a running bot holds a local store)."""
        return set(self.passage_counts())

    def passage_counts(self) -> dict[tuple[str, int], int]:
        """How many passages each document (owner, id) has here: one with fewer than its row says
        was cut off while it was stored (the bot was killed mid-embedding)."""
        counts: dict[tuple[str, int], int] = {}
        if self._never_stored():
            return counts
        offset = 0
        while True:
            page = self.collection.get(include=["metadatas"], limit=PAGE, offset=offset)
            for meta in page["metadatas"] or []:
                key = (meta["owner"], int(meta["document"]))
                counts[key] = counts.get(key, 0) + 1
            if len(page["ids"]) < PAGE:
                return counts
            offset += PAGE
