"""The language an owner chose with /language (null: their Telegram app's).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(16)))


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN language")
