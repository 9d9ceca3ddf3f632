"""Turns an owner cancelled (/cancel), the owner's profile as it was when they asked, and the
next questions suggested under an answer (its buttons ask them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("turns", sa.Column("cancelled", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("turns", sa.Column("profile", sa.JSON))  # what shaped the answer; null: none given
    op.add_column("turns", sa.Column("follow_ups", sa.JSON))


def downgrade() -> None:
    op.execute("ALTER TABLE turns DROP COLUMN follow_ups")
    op.execute("ALTER TABLE turns DROP COLUMN profile")
    op.execute("ALTER TABLE turns DROP COLUMN cancelled")
