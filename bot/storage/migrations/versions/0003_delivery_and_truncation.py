"""Whether each answer reached the owner, and whether the model's answer was cut short.

Columns are added in place (SQLite's ALTER TABLE, not Alembic's copy-and-move batch mode,
which would drop the full-text triggers on `turns`). On SQLite the update trigger now fires
only when a question or answer changes, not when a turn is marked delivered.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("turns", sa.Column("delivered", sa.Boolean))  # null: not known (turns from before 0003)
    op.add_column("turns", sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false()))
    if op.get_bind().dialect.name == "sqlite":
        _update_trigger("AFTER UPDATE OF question, answer ON turns")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _update_trigger("AFTER UPDATE ON turns")
    op.execute("ALTER TABLE turns DROP COLUMN truncated")
    op.execute("ALTER TABLE turns DROP COLUMN delivered")


def _update_trigger(when: str) -> None:
    op.execute("DROP TRIGGER IF EXISTS turns_au")
    op.execute(
        f"CREATE TRIGGER turns_au {when} BEGIN "
        "INSERT INTO turns_fts (turns_fts, rowid, question, answer) "
        "VALUES ('delete', old.id, old.question, old.answer); "
        "INSERT INTO turns_fts (rowid, question, answer) VALUES (new.id, new.question, new.answer); END"
    )
