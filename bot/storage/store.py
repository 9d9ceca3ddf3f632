"""Everything the program stores and reads back: owners, conversations, turns, feedback.

Channels call these methods; nothing else writes to the database. Every method
commits its own work, so a turn is safely on disk as soon as `record_turn`
returns, before the reply goes out. `Storage` is assembled from one part per concern.
"""

from __future__ import annotations

from bot.storage.citations import Citations
from bot.storage.conversations import Conversations
from bot.storage.desk import Desk
from bot.storage.documents import Documents
from bot.storage.drafts import Drafts
from bot.storage.events import Events
from bot.storage.handovers import Handovers
from bot.storage.owners import Owners
from bot.storage.reminders import Reminders
from bot.storage.shared import SharedState
from bot.storage.turns import Turns
from bot.storage.wishes import Wishes


class Storage(
    Owners, Conversations, Turns, Citations, Handovers, Desk, SharedState, Events, Reminders, Documents, Drafts, Wishes
):
    """The transcript database behind an async API (`await Storage.open(url)`)."""
