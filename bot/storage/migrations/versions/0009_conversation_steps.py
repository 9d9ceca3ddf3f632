"""Multi-step conversations shared by every worker: `conversation_steps`, where an owner is in
the guided /profile, a /human request, the time-zone question or a check-in, so that the next
step is understood whichever webhook worker receives it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_steps",
        sa.Column("chat_id", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conversation_steps")
