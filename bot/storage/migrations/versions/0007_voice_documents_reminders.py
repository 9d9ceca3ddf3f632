"""Owners asking the way they work: how a question arrived (`turns.input_kind`: voice, photo,
document), events worth counting that are not turns (`events`: a voice note nobody could
transcribe), owners' private documents (`owner_documents`: what was read, never the content),
reminders and strategy check-ins (`reminders`), and the owner's time zone and check-in state.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("turns", sa.Column("input_kind", sa.String(16)))  # null: typed text
    op.add_column("users", sa.Column("timezone", sa.String(64)))  # IANA name, e.g. Europe/Berlin
    op.add_column("users", sa.Column("checkin", sa.JSON))  # the quarterly check-in: on/off, priorities
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("user_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    )
    op.create_table(
        "owner_documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("title", sa.String(255)),
        sa.Column("kind", sa.String(16)),  # pdf | docx | txt | md
        sa.Column("pages", sa.Integer),
        sa.Column("sections", sa.Integer),
        sa.Column("chunks", sa.Integer),
        sa.Column("size_bytes", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, server_default="reminder"),  # reminder | checkin
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False, index=True),  # naive UTC
        sa.Column("every", sa.String(64)),  # a repeating reminder's interval as the owner said it
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),  # pending | sent | cancelled
        sa.Column("language", sa.String(16)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
    )


def downgrade() -> None:
    op.drop_table("reminders")
    op.drop_table("owner_documents")
    op.drop_table("events")
    op.execute("ALTER TABLE users DROP COLUMN checkin")
    op.execute("ALTER TABLE users DROP COLUMN timezone")
    op.execute("ALTER TABLE turns DROP COLUMN input_kind")
