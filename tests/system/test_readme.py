"""The README and the docs/ pages stay true: the README's run command works, and so does every
`$ ` command they show (but the deploying page's, which tests/system/test_deploying.py runs).

(`make test`, the README's other command, is what CI runs.)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

from tests.helpers import ROOT
from tests.helpers.readme import COMMANDS_RUN_ELSEWHERE, README, console_commands, environment, section

QUESTION = "How can a small business get credit without collateral?"


def quick_start_commands() -> list[str]:
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", README, re.DOTALL)
    assert block, "README lost its Quick start block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def shell(command: str, data_dir, input: str = "", cwd=ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=environment(data_dir),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_quick_start_has_exactly_a_run_and_a_test_command():
    assert quick_start_commands() == ["make run", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_run_command_answers_with_a_cited_source(shared_index_dir):
    result = shell(quick_start_commands()[0], shared_index_dir, input=QUESTION + "\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[1]" in result.stdout and "Sources:" in result.stdout
    assert re.search(r"\[1\] .+ \(\S+\.md, match \d\.\d\d\)", result.stdout), result.stdout


def test_the_tours_answer_is_what_the_ask_command_prints(shared_index_dir):
    """The README's short tour shows `python -m bot ask` and its answer: the answer's opening, its
    cited source and its suggested questions are what the command prints today."""
    tour = section("A short tour")
    [command] = console_commands(tour)
    shown = re.search(r"```text\n(.*?)```", tour, re.DOTALL).group(1)
    result = shell(command, shared_index_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    printed = " ".join(result.stdout.split())
    opening = " ".join(shown.split("…")[0].split())
    assert printed.startswith(opening), f"the tour's answer is no longer what ask prints:\n{result.stdout}"
    source = re.search(r"\(([\w/-]+\.md), match", shown).group(1)
    assert "[1] " in printed and f"({source}, match" in printed, result.stdout
    for question in re.findall(r"^  - (.+)$", shown, re.MULTILINE):
        assert f"- {question}" in printed, f"{question!r} is no longer suggested:\n{result.stdout}"


def test_readme_console_commands_run_in_order(shared_index_dir, tmp_path):
    """Every `$ ` command of the README and the docs/ pages, page by page in reading order and top
    to bottom, as a reader would type them, in a scratch folder that holds the project's
    knowledge/ and prompts/; servers are started, reached, and stopped."""
    data_dir = tmp_path / "data"
    shutil.copytree(shared_index_dir, data_dir)
    work = tmp_path / "work"
    work.mkdir()
    for name in ("ingest.py", "knowledge", "prompts"):
        (work / name).symlink_to(ROOT / name)
    commands = console_commands()
    assert len(commands) >= 10
    for command in commands:
        if command in COMMANDS_RUN_ELSEWHERE:
            continue  # that test runs it, as shown
        if " review" in command:
            check_server(command, data_dir, work)
            continue
        result = shell(command, data_dir, cwd=work)
        assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr, command


def check_server(command: str, data_dir, cwd) -> None:
    port = int(re.search(r"--port (\d+)", command).group(1)) if "--port" in command else 8001
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        env=environment(data_dir),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            assert proc.poll() is None, f"{command}\n{proc.stderr.read()[-2000:]}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=2)
                return
            except urllib.error.HTTPError as exc:
                assert exc.code in (401, 403), command  # up, and not open to anonymous visitors
                return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"{command} did not start serving")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
