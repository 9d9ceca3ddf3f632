"""Storage: the transcript database (SQLAlchemy, async; SQLite or PostgreSQL).

- `database`: engine, SQLite pragmas, file permissions, Alembic migrations at every start
- `models`: the tables; `migrations`: the Alembic scripts that create and change them
- `store`: `Storage`, assembled from `owners`, `conversations`, `turns`, `handovers` (requests
  for a person, and `bot_state`) and `shared` (what several bot processes agree on), on top of
  `base` (engine, write path)
- `records`: `TurnFilter` and `TurnRecord`, for review

May import `bot.advisor` (it stores `Answer`s, `Exchange`s and `Profile`s) and
`bot.config`; never review or channels.
"""

from bot.config import default_database_url as default_url
from bot.storage.database import StorageError, sqlite_path
from bot.storage.records import TurnFilter, TurnRecord
from bot.storage.store import Storage

__all__ = ["Storage", "StorageError", "TurnFilter", "TurnRecord", "default_url", "sqlite_path"]
