"""The README's text for the tests that keep it true: its sections, its `$ ` commands, and the
environment they run in."""

from __future__ import annotations

import os
import re

from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """One `## ` section of the README, without its heading."""
    found = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", README, re.DOTALL | re.MULTILINE)
    assert found, f"README lost its {title} section"
    return found.group(1)


def console_commands(text: str | None = None) -> list[str]:
    """The `$ ` commands, in order; by default all but the Deploying section's (tests/system/test_deploying.py
    runs those, which start servers)."""
    text = README.replace(section("Deploying"), "") if text is None else text
    return re.findall(r"^\$ (.+)$", text, re.MULTILINE)


def environment(data_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "LLM_MODEL", "REVIEW_PASSWORD")}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    env["DATA_DIR"] = str(data_dir)
    return env
