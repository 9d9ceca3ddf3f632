"""The same document sent twice is kept once: `owner_documents.content_sha256`, the SHA-256 of
the file as sent, by which an owner's repeat of a document they already sent is recognised
(rows from before 0008 have none, and are not matched).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("owner_documents", sa.Column("content_sha256", sa.String(64)))


def downgrade() -> None:
    op.execute("ALTER TABLE owner_documents DROP COLUMN content_sha256")
