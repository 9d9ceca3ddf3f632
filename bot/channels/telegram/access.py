"""Who may use the bot, and how often.

ADMIN_USER_IDS may do everything and are never rate-limited. With
ALLOWED_USER_IDS empty the bot is open to all; otherwise only those ids and the
ones an admin `/allow`s may use it. `/block` shuts anyone out. Admin decisions
and the questions counted against the limits live in the database, not in
process memory, so they survive restarts and every bot process sharing the
database applies them at once. When the database cannot say (locked, gone), no
one gets through: the check stops the update, as a refusal would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram.ext import ApplicationHandlerStop

from bot.config import Settings
from bot.storage import OwnerState, Storage


class AccessUnknown(ApplicationHandlerStop):
    """The access check itself failed. An exception in the access gate (a group -1 handler) would
    go to the error handler, and python-telegram-bot would then run the normal handlers anyway;
    this one stops the update there, so no one is answered whose access could not be checked."""


@dataclass
class Access:
    storage: Storage
    admins: frozenset[int]
    configured_allowed: frozenset[int]

    @classmethod
    def from_settings(cls, settings: Settings, storage: Storage) -> Access:
        return cls(storage, frozenset(settings.admin_user_ids), frozenset(settings.allowed_user_ids))

    @property
    def open_to_all(self) -> bool:
        return not self.configured_allowed

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admins

    async def may_use(self, user_id: int) -> bool:
        return (await self.check(user_id))[0]

    async def check(self, user_id: int) -> tuple[bool, OwnerState]:
        """Whether the user may use the bot, and what else is known of them (their /language, an
        open hand-over, their documents), in one read. Raises AccessUnknown, caused by the
        database's error, when the database cannot say."""
        try:
            state = await self.storage.owner_state(f"tg:{user_id}")
        except Exception as exc:
            raise AccessUnknown from exc
        if user_id in self.admins:
            return True, state
        if state.status == "blocked":
            return False, state
        return self.open_to_all or user_id in self.configured_allowed or state.status == "allowed", state

    async def allow(self, user_id: int) -> None:
        await self.storage.set_status(f"tg:{user_id}", "allowed")

    async def block(self, user_id: int) -> None:
        await self.storage.set_status(f"tg:{user_id}", "blocked")


@dataclass
class RateLimiter:
    """Questions per minute (sliding window) and per day (UTC calendar day), per owner. Only
    questions that were answered count: one that was not (a voice note that could not be
    transcribed, an answer /cancel stopped) is given back."""

    storage: Storage
    per_minute: int
    per_day: int
    clock: Callable[[], float] = time.time

    async def check(self, user_id: int) -> float | None:
        """Count a question; None if allowed, else the seconds until the owner may ask again."""
        return await self.storage.take_question(f"tg:{user_id}", self.per_minute, self.per_day, self.clock())

    async def give_back(self, user_id: int) -> None:
        """The owner's latest question was not answered (`Storage.give_back_question`)."""
        await self.storage.give_back_question(f"tg:{user_id}")
