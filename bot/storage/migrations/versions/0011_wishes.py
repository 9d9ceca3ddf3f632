"""Owners who asked to hear back: `wishes`, one per "Tell me when you know" under a not-covered
answer, open until an entry answering it is published and the owner is told.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wishes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="SET NULL")),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("searched", sa.Text),
        sa.Column("language", sa.String(16)),
        sa.Column("asked_at", sa.DateTime, nullable=False),
        sa.Column("found_in", sa.String(512)),
        sa.Column("told_at", sa.DateTime),
        sa.Column("told_turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="SET NULL")),
    )
    op.create_index("ix_wishes_user_id", "wishes", ["user_id"])
    op.create_index("ix_wishes_told_at", "wishes", ["told_at"])


def downgrade() -> None:
    op.drop_index("ix_wishes_told_at", "wishes")
    op.drop_index("ix_wishes_user_id", "wishes")
    op.drop_table("wishes")
