"""The review browser in a real browser: `python -m bot review` as a user starts it, and
headless Chromium driven by Playwright. Shared by `tests/review/test_review_browser.py`
and `bench/review_screenshots.py`, so the docs' screenshots and the README's picture come from the tested path.

The browser is Debian's `chromium` (`.ci/run` installs it); Playwright never downloads
one. Without it, `chromium()` is None and callers skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from tests.helpers import ROOT, free_port

LOGIN = re.compile(r"http://\S+/-/auth-token\?token=\w+")
VIEWPORT = {"width": 1280, "height": 900}


def chromium() -> str | None:
    """The system Chromium, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class ReviewServer:
    """`python -m bot review` on a free loopback port, on `data_dir`, until the block ends;
    `login` is the one-time login link it prints (None with REVIEW_PASSWORD), `base` its address."""

    def __init__(self, data_dir: Path, env: dict | None = None, args: tuple[str, ...] = (), timeout: float = 180):
        self.data_dir, self.args, self.timeout = data_dir, args, timeout
        settings = {f.upper() for f in Settings.model_fields}
        self.env = {k: v for k, v in os.environ.items() if k.upper() not in settings}
        self.env.update({"DATA_DIR": str(data_dir), "KNOWLEDGE_DIR": str(ROOT / "knowledge"), "HF_HUB_OFFLINE": "1"})
        self.env.update(env or {})
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "review-server.log"

    def __enter__(self) -> ReviewServer:
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "review", "--port", str(self.port), *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            self.login = self._wait()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait(self) -> str | None:
        """The login link (None with a REVIEW_PASSWORD), once the server answers (it prints the
        link before it listens)."""
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"review exited:\n{self.output()[-3000:]}")
            found = LOGIN.search(self.output())
            if (found or self.env.get("REVIEW_PASSWORD")) and _answers(f"{self.base}/-/versions.json"):
                return found.group(0) if found else None
            time.sleep(0.3)
        raise AssertionError(f"review did not start in {self.timeout:.0f} s:\n{self.output()[-3000:]}")


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True  # 403 before logging in: it is up
    except OSError:
        return False
    return True


@dataclass
class PageLog:
    """What went wrong while pages were open: console errors and uncaught exceptions, and
    requests to anywhere but the review server (blocked, so nothing leaves the machine)."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@contextmanager
def browser_page(login: str | None = None, only: str | None = None):
    """A headless Chromium page, logged in through `login` when given, and its `PageLog`;
    with `only` (a base URL) every request elsewhere is blocked and logged."""
    from playwright.sync_api import sync_playwright

    log = PageLog()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium())
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("console", lambda message: log.errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: log.errors.append(str(error)))
            if only:

                def block(route) -> None:
                    log.blocked.append(route.request.url)
                    route.abort()

                page.route(lambda url: not (url == only or url.startswith(only + "/")), block)
            if login:
                page.goto(login)
            yield page, log
        finally:
            browser.close()


def wait_for_charts(page, selectors: list[str], timeout_ms: int = 30_000) -> None:
    """Wait until each chart selector (e.g. `#chart-latency svg .mark-rect path`) has drawn marks."""
    for selector in selectors:
        page.wait_for_selector(selector, state="attached", timeout=timeout_ms)
