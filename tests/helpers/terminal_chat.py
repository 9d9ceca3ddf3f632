"""The terminal chat as a newcomer's `make run` starts it, driven a question at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.config import Settings
from tests.helpers import ROOT


class TerminalChat:
    """`python -m bot run` with no Telegram token (the terminal chat `make run` starts), driven a
    question at a time through its stdin, its stdout and stderr read as they come."""

    def __init__(self, env: dict, quit_at_exit: bool = True) -> None:
        self.quit_at_exit = quit_at_exit
        full_env = {k: v for k, v in os.environ.items() if k.upper() not in {f.upper() for f in Settings.model_fields}}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=full_env | env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.returncode: int | None = None
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, got=lines: got.extend(iter(s.readline, "")), daemon=True).start()

    @property
    def log(self) -> str:
        return "".join(self.err)

    def ask(self, question: str, timeout: float = 300) -> str:
        """The reply to `question`: the lines up to the "(offline answer, … ms)" that ends it."""
        start = len(self.out)
        self.proc.stdin.write(question + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while not any(line.startswith("(offline answer") for line in self.out[start:]):
            assert time.monotonic() < deadline and self.proc.poll() is None, self.log[-3000:]
            time.sleep(0.05)
        return "".join(self.out[start:])

    def wait_log(self, text: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert time.monotonic() < deadline and self.proc.poll() is None, self.log[-3000:]
            time.sleep(0.1)
        return self.log

    def children(self) -> list[int]:
        """The processes the bot spawned to ingest (not multiprocessing's resource tracker)."""
        pids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in pids if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def __enter__(self) -> TerminalChat:
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.quit_at_exit:
                self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        self.returncode = self.proc.wait(120)


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
