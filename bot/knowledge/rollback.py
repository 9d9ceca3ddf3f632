"""Taking back the last publish: the previous index version live again, and its new files kept out.

`roll_back` makes the version before the live one live (`bot.index.versions.roll_back`, under
the ingest lock) and says what changed: the files the rolled-back version had added, removed
or changed. A rollback alone would not last: the next ingest would find the files still in
KNOWLEDGE_DIR and publish them again. So consultants' entries it had added (under
`answers/`) are moved to `answers/.rolled-back/` (never over an earlier one: `-2`, …), which
no ingest reads; any other file is left where it is, and the caller says that the next ingest
brings it back unless it is changed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.index import versions
from bot.index.opening import make_index
from bot.knowledge.answers import ANSWERS_FOLDER
from bot.knowledge.runner import ingest_lock

ROLLED_BACK = ".rolled-back"


@dataclass
class Rollback:
    """What a rollback did: `left` (the version no longer live), `live` (the one live now)."""

    left: int
    live: int
    added: list[str] = field(default_factory=list)  # files the left version had and the live one has not
    removed: list[str] = field(default_factory=list)  # files the live one has again
    changed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # consultants' entries moved to answers/.rolled-back/

    @property
    def kept(self) -> list[str]:
        """Files the next ingest would publish again (added or changed, not moved away)."""
        return [path for path in [*self.added, *self.changed] if path not in self.moved]

    def describe(self) -> str:
        """What a consultant reads: which version is live now, and what changed (files)."""
        lines = [f"Rolled back: index version {self.live} is live again (version {self.left} is no longer used)."]
        for label, paths in (("Taken out", self.added), ("Back as before", self.changed), ("Back", self.removed)):
            if paths:
                lines.append(f"{label}: {', '.join(paths)}")
        if not (self.added or self.changed or self.removed):
            lines.append("The two versions hold the same files.")
        if self.moved:
            lines.append(
                f"Moved to {ANSWERS_FOLDER}/{ROLLED_BACK}/ so the next ingest does not publish it again: "
                + ", ".join(self.moved)
            )
        if self.kept:
            lines.append("Still in the knowledge folder (the next ingest publishes it again): " + ", ".join(self.kept))
        return "\n".join(lines)


class NoEarlierVersion(Exception):
    """There is no earlier index version to go back to (the message says why)."""


def roll_back(settings: Settings) -> Rollback:
    """Make the previous index version live; raises NoEarlierVersion when there is none."""
    if settings.chroma_url:
        raise NoEarlierVersion("the index is on a Chroma server (CHROMA_URL), which keeps no versions")
    root = settings.index_path
    with ingest_lock(settings):
        done = versions.roll_back(root)
        if done is None:
            live = versions.current_version(root)
            raise NoEarlierVersion(
                f"there is no earlier index version to go back to (live: {live if live is not None else 'none'})"
            )
        left, live = done
        before, after = _states(settings, root, left), _states(settings, root, live)
        result = Rollback(
            left,
            live,
            added=sorted(set(before) - set(after)),
            removed=sorted(set(after) - set(before)),
            changed=sorted(p for p in set(before) & set(after) if before[p] != after[p]),
        )
        result.moved = [p for p in result.added if _move_away(settings.knowledge_dir, p)]
    return result


def _states(settings: Settings, root: Path, number: int) -> dict[str, str]:
    index = make_index(settings, versions.live_folder(root, number), create=False, spaces=())
    try:
        return {path: state.content_hash for path, state in index.file_states().items()}
    finally:
        index.close()


def _move_away(knowledge_dir: Path, path: str) -> bool:
    """A consultant's entry (`answers/…`) moved to `answers/.rolled-back/`; True when it was."""
    source = knowledge_dir / path
    if not path.startswith(f"{ANSWERS_FOLDER}/") or not source.is_file():
        return False
    target = knowledge_dir / ANSWERS_FOLDER / ROLLED_BACK / Path(path).relative_to(ANSWERS_FOLDER)
    target.parent.mkdir(parents=True, exist_ok=True)
    number = 1
    while target.exists():  # an entry of that name rolled back before: both are kept
        number += 1
        target = target.with_name(f"{Path(path).stem}-{number}{target.suffix}")
    shutil.move(source, target)
    return True
