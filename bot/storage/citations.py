"""What owners' questions cited, for the weekly content suggestions (`bot.review.suggestions`):
read without the answers, and over a quarter of a busy bot's turns counted by the database."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import and_, func, or_, select

from bot.storage.base import StoreBase
from bot.storage.models import Turn
from bot.storage.records import TurnCitations, TurnFilter
from bot.storage.turns import _filtered

ANSWER_MODES = ("offline", "llm")  # the advisor's answers: the turns that cite knowledge
# what Python's str.strip() strips (every character whose isspace() is true; tested): a question
# of these alone is no question (`owner_question`)
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class Citations(StoreBase):
    async def stream_citations(self, filters: TurnFilter) -> AsyncIterator[TurnCitations]:
        """The matching turns' owners, questions and cited sources, oldest first, without the answers."""
        columns = (
            Turn.id,
            Turn.user_id,
            Turn.created_at,
            Turn.mode,
            Turn.cancelled,
            Turn.question,
            Turn.standalone_question,
        )
        statement = _filtered(select(*columns, Turn.sources), filters).order_by(Turn.id)
        async with self.sessions() as session:
            result = await session.stream(statement.execution_options(yield_per=2000))
            async for rows in result.partitions():
                for row in rows:
                    yield TurnCitations(*row[:7], row[7] or [])

    async def reached_files(self, filters: TurnFilter) -> tuple[bool, set[str]]:
        """Whether any matching turn is an owner's question to the advisor (an answer, not
        cancelled, with words: `bot.review.coverage.owner_question`), and the paths of the
        knowledge sources those cited (a source without a `kind` is knowledge). Counted by the
        database: a quarter of a million-turn database is ~200,000 answers, whose sources took
        ~7 s to stream to Python and parse there."""
        postgresql = self.engine.dialect.name == "postgresql"
        if postgresql:  # an element of a JSON array, and its fields
            sources = func.json_array_elements(Turn.sources).table_valued("value").render_derived(name="source")
            path = sources.c.value.op("->>")("path")
            kind = sources.c.value.op("->>")("kind")
            unkind = func.json_typeof(sources.c.value.op("->")("kind")).is_(None)
            trim = func.btrim
        else:
            sources = func.json_each(Turn.sources).table_valued("value").alias("source")
            path = func.json_extract(sources.c.value, "$.path")
            kind = func.json_extract(sources.c.value, "$.kind")
            unkind = func.json_type(sources.c.value, "$.kind").is_(None)
            trim = func.trim
        asked = func.coalesce(func.nullif(Turn.standalone_question, ""), Turn.question)
        owner_question = and_(Turn.mode.in_(ANSWER_MODES), Turn.cancelled.isnot(True), trim(asked, WHITESPACE) != "")
        knowledge = or_(unkind, kind == "knowledge")
        statement = _filtered(select(path).distinct(), filters).where(owner_question)
        statement = statement.select_from(Turn).outerjoin(sources, knowledge)  # a question citing nothing: one NULL
        async with self.sessions() as session:
            found = (await session.execute(statement)).scalars().all()
        return bool(found), {p for p in found if p is not None}
