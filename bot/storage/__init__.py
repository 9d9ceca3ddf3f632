"""Storage: the transcript database (SQLAlchemy, async; SQLite or PostgreSQL).

- `database`: engine, SQLite pragmas, file permissions, Alembic migrations at every start
- `revisions`: is the schema at the migrations' head? (told without importing Alembic)
- `sqlite_trips`: SQLite statements run, fetched and closed in one trip to aiosqlite's thread
- `models`: the tables; `migrations`: the Alembic scripts that create and change them
- `store`: `Storage`, assembled from `owners`, `conversations`, `turns`, `handovers` (requests
  for a person, and `bot_state`), `shared` (what several bot processes agree on) and `events`
  (what is counted but is no turn: voice notes left unanswered), on top of `base` (engine, write path)
- `records`: `TurnFilter`, `TurnRecord`, and `TurnFacts`, `GapCandidate` and `TurnCitations` (parts
  of a turn), for review
- `citations`: part of `Storage` too: what owners' questions cited (the weekly suggestions), the
  files a quarter's questions reached counted by the database
- `reminders`: part of `Storage` too: reminders and quarterly check-ins (each claimed by one
  process before it is sent), owners' time zones and check-in answers
- `audio`: `AudioFolder`, owners' voice notes kept on disk (only with STORE_AUDIO=true)
- `documents`: part of `Storage` too: owners' own documents (what was read, never the text)
- `drafts`: part of `Storage` too: knowledge entries consultants write from Telegram, until published
- `wishes`: part of `Storage` too: owners who asked to hear back when a question is answered
- `desk`: part of `Storage` too: the consultants' open requests, claims, owners' ratings of the
  help, and consultants' /myname names

May import `bot.advisor` (it stores `Answer`s, `Exchange`s and `Profile`s) and
`bot.config`; never review or channels.
"""

from bot.config import default_database_url as default_url
from bot.storage.audio import AudioFolder
from bot.storage.database import StorageError, sqlite_path
from bot.storage.owners import OwnerState
from bot.storage.records import GapCandidate, TurnCitations, TurnFacts, TurnFilter, TurnRecord
from bot.storage.store import Storage

__all__ = [
    "AudioFolder",
    "GapCandidate",
    "OwnerState",
    "Storage",
    "StorageError",
    "TurnCitations",
    "TurnFacts",
    "TurnFilter",
    "TurnRecord",
    "default_url",
    "sqlite_path",
]
