"""Users, conversations, turns and feedback; full-text search on turns (SQLite).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(255)),
        sa.Column("display_name", sa.String(255)),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("profile", sa.JSON, nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("chat_id", sa.String(64), nullable=False, index=True),
        sa.Column("started_by", sa.String(64), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("closed_at", sa.DateTime),
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("standalone_question", sa.Text),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("covered", sa.Boolean, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("model", sa.String(255)),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("best_score", sa.Float),
        sa.Column("latency_ms", sa.Float),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_turns_conversation_id", "turns", ["conversation_id"])
    op.create_index("ix_turns_user_id", "turns", ["user_id"])
    op.create_index("ix_turns_created_at", "turns", ["created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("turn_id", "user_id"),
    )
    op.create_index("ix_feedback_turn_id", "feedback", ["turn_id"])
    op.create_index("ix_feedback_user_id", "feedback", ["user_id"])
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_full_text_search()


def _sqlite_full_text_search() -> None:
    """An FTS5 index of questions and answers, kept in step by triggers (the layout Datasette
    and sqlite-utils use, so Datasette offers a search box on the turns table)."""
    op.execute("CREATE VIRTUAL TABLE turns_fts USING fts5(question, answer, content='turns', content_rowid='id')")
    op.execute(
        "CREATE TRIGGER turns_ai AFTER INSERT ON turns BEGIN "
        "INSERT INTO turns_fts (rowid, question, answer) VALUES (new.id, new.question, new.answer); END"
    )
    op.execute(
        "CREATE TRIGGER turns_ad AFTER DELETE ON turns BEGIN "
        "INSERT INTO turns_fts (turns_fts, rowid, question, answer) "
        "VALUES ('delete', old.id, old.question, old.answer); END"
    )
    op.execute(
        "CREATE TRIGGER turns_au AFTER UPDATE ON turns BEGIN "
        "INSERT INTO turns_fts (turns_fts, rowid, question, answer) "
        "VALUES ('delete', old.id, old.question, old.answer); "
        "INSERT INTO turns_fts (rowid, question, answer) VALUES (new.id, new.question, new.answer); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS turns_fts")
    op.drop_table("feedback")
    op.drop_table("turns")
    op.drop_table("conversations")
    op.drop_table("users")
