"""The terminal chat shows Markdown as a terminal should (issue 30, item 16): rendered by Rich
when stdout is a terminal, plain text without Markdown marks in a pipe or a file."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from tests.helpers import ROOT, run_cli, write

QUESTION = "How do I show a lender my business is good for the money?"
TRUST = """---
title: Credit without collateral
topic: credit
---

# Credit without collateral

## How do I show a lender my business is good for the money?

Asked:
- how do I look trustworthy to a lender
- no assets, how do I show the bank I can repay

Making lenders trust you without collateral means making your business easy to read:

- **Traceable sales:** run takings through a business account, card terminals and platforms.
- **Paying suppliers on time:** this builds your credit profile and earns trade references.
- **Clean monthly numbers:** up-to-date books that match your bank statements.
"""


@pytest.fixture
def trust_env(tmp_path, kdir):
    write(kdir, "credit/trust.md", TRUST)
    env = {"KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(tmp_path / "data")}
    started = run_cli("ingest", env=env)
    assert started.returncode == 0, started.stderr
    return env


def test_a_piped_chat_shows_plain_text_without_markdown_marks(trust_env):
    result = run_cli("chat", env=trust_env, input=QUESTION + "\n")
    assert result.returncode == 0, result.stderr
    answer = result.stdout.split("Sources:")[0]
    assert "• Traceable sales: run takings through a business account" in answer
    assert "**" not in answer and "\n- " not in answer and "\x1b[" not in answer


def test_a_chat_on_a_terminal_renders_the_markdown(trust_env):
    """stdout a pseudo-terminal, stdin a pipe (so the questions are scripted): bold is bold."""
    env = {k: v for k, v in os.environ.items() if k not in {"KNOWLEDGE_DIR", "DATA_DIR"}}
    env.update(trust_env, TERM="xterm-256color", COLUMNS="100", LINES="40")
    main, side = pty.openpty()
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat"],
        stdin=subprocess.PIPE,
        stdout=side,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=env,
    )
    os.close(side)
    chat.stdin.write(f"{QUESTION}\n".encode())
    chat.stdin.close()
    shown = b""
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the chat closed the terminal
            break
        if not data:
            break
        shown += data
    os.close(main)
    assert chat.wait(timeout=300) == 0
    text = shown.decode()
    assert "\x1b[1m" in text  # Rich's bold
    assert "Traceable sales:" in text and "**" not in text
    assert "Sources:" in text
