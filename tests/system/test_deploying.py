"""The deploying page (docs/deploying.md), followed as written: its settings, its commands in order,
and units and a proxy that run the same commands on the same ports.

Only what points at the site's own machines is replaced: DATABASE_URL (a test database on the
throwaway PostgreSQL server), the bot token and Bot API address (a fake Telegram), and the
knowledge folder (two small files, so the ingest takes seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import aiohttp

from tests.fakes.telegram_server import TOKEN, FakeTelegram
from tests.helpers import ROOT, SAMPLE_CREDIT, SAMPLE_TRADE, write
from tests.helpers.readme import console_commands, doc, environment

DEPLOYING = doc("deploying")
QUESTION = "How can a small business get credit without collateral?"


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DEPLOYING, re.DOTALL)


def settings_block() -> dict[str, str]:
    [block] = fenced("sh")
    return dict(line.split("=", 1) for line in block.splitlines() if line.strip())


def unit(name: str) -> dict[str, str]:
    """A systemd unit shown on the page, as {key: value} (keys are unique in ours)."""
    [text] = [t for t in fenced("ini") if t.startswith(f"# /etc/systemd/system/{name}\n")]
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def as_typed(exec_start: str, directory: str) -> str:
    """A unit's ExecStart as typed in its WorkingDirectory with the virtual environment active."""
    return exec_start.replace(f"{directory}/.venv/bin/", "")


def test_the_units_and_the_proxy_run_the_pages_commands():
    chroma, ingest, *workers = console_commands(DEPLOYING)
    single, worker = unit("sme-advisor.service"), unit("sme-advisor-worker@.service")
    server = unit("sme-advisor-chroma.service")
    assert as_typed(single["ExecStart"], single["WorkingDirectory"]) == "python -m bot run"
    assert as_typed(server["ExecStart"], server["WorkingDirectory"]) == chroma
    ports = [re.match(r"TELEGRAM_WEBHOOK_PORT=(\d+) (.+)$", w).groups() for w in workers]
    typed = as_typed(worker["ExecStart"], worker["WorkingDirectory"])
    assert worker["Environment"] == "TELEGRAM_WEBHOOK_PORT=%i" and {cmd for _, cmd in ports} == {typed}
    enabled = re.search(r"systemctl enable --now\s+(.+?)`", DEPLOYING, re.DOTALL).group(1).split()
    assert enabled == [f"sme-advisor-worker@{port}" for port, _ in ports]
    [nginx] = fenced("nginx")
    assert re.findall(r"server 127\.0\.0\.1:(\d+);", nginx) == [port for port, _ in ports]
    webhook = urlparse(settings_block()["TELEGRAM_WEBHOOK_URL"])
    assert f"server_name {webhook.hostname};" in nginx and f"location {webhook.path} {{" in nginx
    assert ingest == "python ingest.py"


async def test_the_scaled_setup_runs_as_written(tmp_path, kdir, postgres_url):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    work = tmp_path / "work"  # the install folder: the project's scripts, its own data/
    work.mkdir()
    for name in ("ingest.py", "prompts"):
        (work / name).symlink_to(ROOT / name)
    settings = settings_block()
    chroma, ingest, *workers = console_commands(DEPLOYING)
    servers: list[subprocess.Popen] = []
    with FakeTelegram() as telegram:
        env = environment(work / "data")
        env.pop("DATA_DIR")  # the default, data/ in the install folder
        env.update(settings, DATABASE_URL=postgres_url, KNOWLEDGE_DIR=str(kdir))
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=telegram.base_url)

        def start(command: str) -> None:
            """A server command in the background, its log in the install folder."""
            with open(work / f"server-{len(servers)}.log", "w") as log:
                servers.append(
                    subprocess.Popen(
                        command, shell=True, cwd=work, env=env, start_new_session=True, stdout=log, stderr=log
                    )
                )

        try:
            start(chroma)
            await wait_until_up(f"{settings['CHROMA_URL']}/api/v2/heartbeat", servers[0], work / "server-0.log")
            result = await asyncio.to_thread(
                subprocess.run, ingest, shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=300
            )
            assert result.returncode == 0, result.stderr[-2000:]
            for command in workers:
                start(command)
            await telegram.wait_for(lambda: len(telegram.calls_of("setWebhook")) == 2, 180, "both workers")
            for call in telegram.calls_of("setWebhook"):
                assert call.params["url"] == settings["TELEGRAM_WEBHOOK_URL"]
                assert call.params["secret_token"] == settings["TELEGRAM_WEBHOOK_SECRET"]
            path = urlparse(settings["TELEGRAM_WEBHOOK_URL"]).path
            async with aiohttp.ClientSession() as http:
                for owner, command in enumerate(workers, start=100):
                    port = re.match(r"TELEGRAM_WEBHOOK_PORT=(\d+)", command).group(1)
                    update = telegram.message_update(owner, QUESTION)
                    await post_when_up(http, f"http://127.0.0.1:{port}{path}", update, settings)
            for owner in (100, 101):
                await telegram.wait_for(lambda o=owner: telegram.texts(o), 60, f"the answer to owner {owner}")
                assert "1. Credit without collateral ›" in telegram.texts(owner)[0]  # cited from the index
        finally:
            for server in servers:  # as systemd stops a unit: SIGTERM to its processes
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGTERM)
            for server in servers:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.wait(30)
    assert not (work / "data" / "index").exists()  # the index is on the Chroma server
    assert not (work / "data" / "transcripts.db").exists()  # the transcripts are in PostgreSQL


async def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    for _ in range(300):
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            await asyncio.to_thread(urllib.request.urlopen, url, timeout=1)
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


async def post_when_up(http: aiohttp.ClientSession, url: str, update: dict, settings: dict) -> None:
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": settings["TELEGRAM_WEBHOOK_SECRET"],
    }
    for _ in range(100):
        with contextlib.suppress(aiohttp.ClientConnectionError):
            async with http.post(url, data=json.dumps(update), headers=headers) as response:
                assert response.status == 200, await response.text()
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not accept the update")
