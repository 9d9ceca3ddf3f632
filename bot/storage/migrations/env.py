"""Alembic environment: migrations run on the connection the program hands over.

`bot.storage.database.migrate` calls Alembic with an open (sync-wrapped) connection in
`config.attributes["connection"]`, so migrations run inside the program at start, for
SQLite and PostgreSQL alike.
"""

from alembic import context

from bot.storage.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
