"""Who may use the bot, and how often.

ADMIN_USER_IDS may do everything and are never rate-limited. With
ALLOWED_USER_IDS empty the bot is open to all; otherwise only those ids and the
ones an admin `/allow`s may use it. `/block` shuts anyone out. Admin decisions
are stored (so they survive restarts) and kept in memory (so they take effect at
once and cost nothing per message).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from bot.config import Settings
from bot.storage import Storage


@dataclass
class Access:
    admins: set[int]
    configured_allowed: set[int]
    allowed: set[int] = field(default_factory=set)
    blocked: set[int] = field(default_factory=set)

    @classmethod
    async def load(cls, settings: Settings, storage: Storage) -> Access:
        allowed = await storage.users_with_status("allowed")
        blocked = await storage.users_with_status("blocked")
        return cls(
            admins=set(settings.admin_user_ids),
            configured_allowed=set(settings.allowed_user_ids),
            allowed={_telegram_id(u) for u in allowed if u.startswith("tg:")},
            blocked={_telegram_id(u) for u in blocked if u.startswith("tg:")},
        )

    @property
    def open_to_all(self) -> bool:
        return not self.configured_allowed

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admins

    def may_use(self, user_id: int) -> bool:
        if user_id in self.admins:
            return True
        if user_id in self.blocked:
            return False
        return self.open_to_all or user_id in self.configured_allowed or user_id in self.allowed

    async def allow(self, storage: Storage, user_id: int) -> None:
        await storage.set_status(f"tg:{user_id}", "allowed")
        self.blocked.discard(user_id)
        self.allowed.add(user_id)

    async def block(self, storage: Storage, user_id: int) -> None:
        await storage.set_status(f"tg:{user_id}", "blocked")
        self.allowed.discard(user_id)
        self.blocked.add(user_id)


def _telegram_id(user: str) -> int:
    return int(user.split(":", 1)[1])


class RateLimiter:
    """Questions per minute (sliding window) and per day (UTC calendar day), per owner."""

    def __init__(self, per_minute: int, per_day: int, clock=time.time) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self.clock = clock
        self._recent: dict[int, deque[float]] = defaultdict(deque)
        self._daily: dict[int, tuple[int, int]] = {}

    def check(self, user_id: int) -> float | None:
        """Record a question; None if allowed, else the seconds until the owner may ask again."""
        now = self.clock()
        today = int(now // 86400)
        day, count = self._daily.get(user_id, (today, 0))
        if day != today:
            count = 0
        if count >= self.per_day:
            return (today + 1) * 86400 - now
        recent = self._recent[user_id]
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= self.per_minute:
            return recent[0] + 60 - now
        recent.append(now)
        self._daily[user_id] = (today, count + 1)
        return None
