"""Knowledge drafts: what a consultant is writing from Telegram, until published or discarded.

Every change of status is one guarded UPDATE (from the statuses it may come from), so two
consultants tapping Publish, or two workers, never both publish the same draft.
"""

from __future__ import annotations

from sqlalchemy import select, update

from bot.storage.base import StoreBase
from bot.storage.models import Draft, utcnow

EDITABLE = ("awaiting", "draft", "held")


class Drafts(StoreBase):
    async def create_draft(
        self,
        *,
        kind: str,
        questions: list[str],
        answer: str,
        author: str,
        author_id: int,
        chat_id: int,
        removed: list[str] = (),
        handover_id: int | None = None,
        gap_turn_id: int | None = None,
        status: str = "draft",
    ) -> Draft:
        now = utcnow()
        draft = Draft(
            kind=kind,
            questions=list(questions),
            answer=answer,
            removed=list(removed),
            author=author,
            author_id=author_id,
            chat_id=chat_id,
            handover_id=handover_id,
            gap_turn_id=gap_turn_id,
            status=status,
            created_at=now,
            updated_at=now,
        )
        async with self._writing() as session:
            session.add(draft)
        return draft

    async def get_draft(self, draft_id: int) -> Draft | None:
        async with self.sessions() as session:
            return await session.get(Draft, draft_id)

    async def edit_draft(self, draft_id: int, **values) -> Draft | None:
        """Change an editable draft's questions, answer or removed list (and it becomes a draft
        again, if it was held or awaiting its answer); None when it is published or discarded."""
        async with self._writing() as session:
            result = await session.execute(
                update(Draft)
                .where(Draft.id == draft_id, Draft.status.in_(EDITABLE))
                .values(status="draft", updated_at=utcnow(), **values)
            )
        return await self.get_draft(draft_id) if result.rowcount == 1 else None

    async def move_draft(self, draft_id: int, from_statuses: tuple[str, ...], to: str, **values) -> bool:
        """Change a draft's status if it is in one of `from_statuses` (True when this call did)."""
        async with self._writing() as session:
            result = await session.execute(
                update(Draft)
                .where(Draft.id == draft_id, Draft.status.in_(from_statuses))
                .values(status=to, updated_at=utcnow(), **values)
            )
        return result.rowcount == 1

    async def open_draft_of(self, handover_id: int) -> Draft | None:
        """The hand-over's draft still being written (awaiting, draft or held), if there is one."""
        async with self.sessions() as session:
            return await session.scalar(
                select(Draft)
                .where(Draft.handover_id == handover_id, Draft.status.in_(EDITABLE))
                .order_by(Draft.id.desc())
                .limit(1)
            )

    async def published_drafts(self, paths: list[str]) -> list[Draft]:
        """The published drafts whose files are `paths` (what a rollback takes back)."""
        async with self.sessions() as session:
            found = await session.scalars(select(Draft).where(Draft.status == "published", Draft.path.in_(paths)))
            return list(found)
