"""An index of the turns by time with the columns the review's counts read (`ix_turns_period`):
the dashboard's charts and tiles over a period read it alone, not the turns' rows (each ~4 KB with
its answer and sources). At a million turns, a month's dashboard read ~300 MB of rows per query.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = ["created_at", "mode", "covered", "cancelled", "latency_ms", "user_id"]


def upgrade() -> None:
    op.create_index("ix_turns_period", "turns", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_turns_period", table_name="turns")
