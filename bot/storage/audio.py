"""Owners' voice notes on disk, kept only with STORE_AUDIO=true: DATA_DIR/audio/<owner>/, the
folders readable by the bot's user alone (0700), each file 0600. /forget deletes an owner's
folder; retention deletes files older than RETENTION_DAYS, like the turns."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AudioFolder:
    root: Path  # DATA_DIR/audio

    @classmethod
    def under(cls, data_dir: Path) -> AudioFolder:
        return cls(Path(data_dir) / "audio")

    def owner_folder(self, user_id: str) -> Path:
        return self.root / re.sub(r"[^\w-]", "-", user_id)  # tg:111 → tg-111

    def keep(self, user_id: str, name: str, audio: bytes) -> Path:
        """Write one voice note (`name`: e.g. the message id and extension) and return its path."""
        folder = self.owner_folder(user_id)
        for path in (self.root, folder):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        path = folder / (stamp + "-" + re.sub(r"[^\w.-]", "-", name))
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(audio)
        os.chmod(path, 0o600)
        return path

    def forget(self, user_id: str) -> int:
        """Delete every voice note kept for the owner; how many there were."""
        folder = self.owner_folder(user_id)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.iterdir() if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count

    def prune(self, older_than_days: int) -> int:
        """Delete voice notes older than the retention period; how many."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_days * 86_400
        old = [p for p in self.root.glob("*/*") if p.is_file() and p.stat().st_mtime < cutoff]
        for path in old:
            path.unlink(missing_ok=True)
        return len(old)
