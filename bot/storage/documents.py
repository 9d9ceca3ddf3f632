"""Owners' own documents: one row each, with what was read (name, title, pages, sections, size),
never their text. The passages live in the owner's private vector store
(`bot.index.owner_documents`); these rows are what decides which of them may be searched, so a
document whose row is gone is never retrieved, even before its passages are swept away."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from bot.storage.base import StoreBase
from bot.storage.models import OwnerDocument, User, utcnow


class Documents(StoreBase):
    async def add_document(
        self,
        user_id: str,
        chat_id: int,
        file_name: str,
        *,
        title: str | None = None,
        kind: str | None = None,
        pages: int | None = None,
        sections: int | None = None,
        chunks: int | None = None,
        size_bytes: int | None = None,
        content_sha256: str | None = None,
    ) -> OwnerDocument:
        """Record a document an owner sent (creating the owner on first sight); returns the row."""
        document = OwnerDocument(
            user_id=user_id,
            chat_id=chat_id,
            file_name=file_name[:255],
            title=(title or "")[:255] or None,
            kind=kind,
            pages=pages,
            sections=sections,
            chunks=chunks,
            size_bytes=size_bytes,
            content_sha256=content_sha256,
            created_at=utcnow(),
        )
        async with self._writing() as session:
            if await session.get(User, user_id) is None:
                session.add(User(id=user_id, profile={}))
                await session.flush()
            session.add(document)
        return document

    async def same_document(self, user_id: str, content_sha256: str) -> OwnerDocument | None:
        """The owner's document with exactly this content, if they sent it before."""
        async with self.sessions() as session:
            return await session.scalar(
                select(OwnerDocument)
                .where(OwnerDocument.user_id == user_id, OwnerDocument.content_sha256 == content_sha256)
                .limit(1)
            )

    async def documents_of(self, user_id: str) -> list[OwnerDocument]:
        """An owner's documents, oldest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(OwnerDocument).where(OwnerDocument.user_id == user_id).order_by(OwnerDocument.id)
            )
            return list(rows)

    async def document_ids(self, user_id: str) -> frozenset[int]:
        """The ids of an owner's documents: what their questions may search (one cheap read)."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(OwnerDocument.id).where(OwnerDocument.user_id == user_id))
            return frozenset(row[0] for row in rows)

    async def get_document(self, user_id: str, document_id: int) -> OwnerDocument | None:
        """One document, only for its owner (None for anyone else's, or one that is gone)."""
        async with self.sessions() as session:
            return await session.scalar(
                select(OwnerDocument).where(OwnerDocument.id == document_id, OwnerDocument.user_id == user_id)
            )

    async def delete_document(self, user_id: str, document_id: int) -> bool:
        """Delete an owner's document row; False when it was not theirs or is gone."""
        async with self._writing() as session:
            result = await session.execute(
                delete(OwnerDocument).where(OwnerDocument.id == document_id, OwnerDocument.user_id == user_id)
            )
        return result.rowcount == 1

    async def delete_documents(self, document_ids: list[int]) -> int:
        """Delete many document rows at once (retention); how many went."""
        async with self._writing() as session:
            result = await session.execute(delete(OwnerDocument).where(OwnerDocument.id.in_(document_ids)))
        return result.rowcount

    async def documents_older_than(self, days: float) -> list[OwnerDocument]:
        """Documents sent more than `days` ago (retention deletes them; a few minutes: those whose
        storing a killed bot left unfinished)."""
        cutoff = utcnow() - dt.timedelta(days=days)
        async with self.sessions() as session:
            return list(await session.scalars(select(OwnerDocument).where(OwnerDocument.created_at < cutoff)))

    async def all_document_keys(self) -> set[tuple[str, int]]:
        """(owner, id) of every stored document: the passages that may stay in the vector store."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(OwnerDocument.user_id, OwnerDocument.id))
            return {(user, document) for user, document in rows}
