"""Hand-over to a person: requests (`handovers`), the messages about them in the admin chat
(`handover_messages`, so a consultant's reply finds its owner), who answered a `human` turn,
turns a consultant flagged as a knowledge gap, and small facts the bot keeps (`bot_state`:
when the daily digest last went out).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("turns", sa.Column("answered_by", sa.String(255)))  # the consultant of a `human` turn
    op.add_column("turns", sa.Column("flagged_gap", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id", ondelete="SET NULL")),
        sa.Column("turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="SET NULL")),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("resolved_at", sa.DateTime),
        sa.Column("resolved_by", sa.String(255)),
    )
    op.create_table(
        "handover_messages",
        sa.Column("chat_id", sa.BigInteger, primary_key=True),
        sa.Column("message_id", sa.BigInteger, primary_key=True),
        sa.Column("handover_id", sa.Integer, sa.ForeignKey("handovers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question", sa.Text),
    )
    op.create_table(
        "bot_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("bot_state")
    op.drop_table("handover_messages")
    op.drop_table("handovers")
    op.execute("ALTER TABLE turns DROP COLUMN flagged_gap")
    op.execute("ALTER TABLE turns DROP COLUMN answered_by")
