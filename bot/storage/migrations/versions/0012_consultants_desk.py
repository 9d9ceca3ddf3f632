"""The consultants' desk: who claimed an open request (`handovers.claimed_by`, its name and
time), the owner's rating of the help after it was resolved (`handovers.rating`, `rated_at`), and
the names consultants chose with /myname (`consultant_names`).

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("handovers", sa.Column("claimed_by", sa.BigInteger))  # the consultant's Telegram id
    op.add_column("handovers", sa.Column("claimed_by_name", sa.String(255)))
    op.add_column("handovers", sa.Column("claimed_at", sa.DateTime))
    op.add_column("handovers", sa.Column("rating", sa.String(8)))  # up | down, the owner's after Resolve
    op.add_column("handovers", sa.Column("rated_at", sa.DateTime))
    op.create_table(
        "consultant_names",
        sa.Column("user_id", sa.BigInteger, primary_key=True),  # the consultant's Telegram id
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("consultant_names")
    with op.batch_alter_table("handovers") as batch:
        for column in ("rated_at", "rating", "claimed_at", "claimed_by_name", "claimed_by"):
            batch.drop_column(column)
