"""State that several bot processes must share: questions asked (rate limits), updates
received and answered (per-chat order, no update answered twice), and open "what was
missing?" prompts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questions_asked",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("asked_at", sa.Float, nullable=False),  # Unix time: the limiter works in seconds
    )
    op.create_index("ix_questions_asked_user_time", "questions_asked", ["user_id", "asked_at"])
    op.create_table(
        "pending_updates",
        sa.Column("chat_id", sa.BigInteger, primary_key=True),
        sa.Column("update_id", sa.BigInteger, primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("answered_at", sa.Float),  # kept a while, so a redelivered update is not answered twice
    )
    op.create_table(
        "comment_prompts",
        sa.Column("chat_id", sa.BigInteger, primary_key=True),
        sa.Column("message_id", sa.BigInteger, primary_key=True),
        sa.Column("turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("comment_prompts")
    op.drop_table("pending_updates")
    op.drop_index("ix_questions_asked_user_time", "questions_asked")
    op.drop_table("questions_asked")
