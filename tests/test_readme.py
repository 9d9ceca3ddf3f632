"""The README stays true: its run command works, and so does every `$ ` command it shows.

(`make test`, the README's other command, is what CI runs.)
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
QUESTION = "How can a small business get credit without collateral?"


def quick_start_commands() -> list[str]:
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", README, re.DOTALL)
    assert block, "README lost its Quick start block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def console_commands() -> list[str]:
    return re.findall(r"^\$ (.+)$", README, re.MULTILINE)


def shell(command: str, data_dir, input: str = "", timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "LLM_MODEL")}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    env["DATA_DIR"] = str(data_dir)
    return subprocess.run(
        command, shell=True, cwd=ROOT, env=env, input=input, capture_output=True, text=True, timeout=timeout
    )


def test_quick_start_has_exactly_a_run_and_a_test_command():
    assert quick_start_commands() == ["make run", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_run_command_answers_with_a_cited_source(shared_index_dir):
    result = shell(quick_start_commands()[0], shared_index_dir, input=QUESTION + "\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[1]" in result.stdout and "Sources:" in result.stdout
    assert re.search(r"\[1\] .+ \(\S+\.md, match \d\.\d\d\)", result.stdout), result.stdout


@pytest.mark.parametrize("command", console_commands())
def test_readme_console_command_runs(command, shared_index_dir):
    result = shell(command, shared_index_dir)
    assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
