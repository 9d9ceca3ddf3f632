"""The transcript database: owners, conversations, turns and feedback (SQLAlchemy, async)."""

from bot.storage.database import StorageError, default_url, sqlite_path
from bot.storage.repository import Storage, TurnFilter, TurnRecord

__all__ = ["Storage", "StorageError", "TurnFilter", "TurnRecord", "default_url", "sqlite_path"]
