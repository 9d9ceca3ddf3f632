"""The README and the docs/ pages, for the tests that keep them true: their sections, their `$ `
commands, their links, and the environment the commands run in.

The README is the front page; `docs/*.md` hold the rest. Every `$ ` command on any of them is run
by a test: tests/system/test_readme.py runs them page by page in reading order (the README, then
the pages in the order its Documentation section lists them), except those of the pages in
`RUN_ELSEWHERE`, which the test named there runs (they start servers)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.helpers import ROOT

README_PATH = ROOT / "README.md"
DOCS = ROOT / "docs"
README = README_PATH.read_text(encoding="utf-8")
# a page whose `$ ` commands another test runs: page -> that test
RUN_ELSEWHERE = {"docs/deploying.md": "tests/system/test_deploying.py"}
# a single command another test runs as shown, on the same index (`documented`): command -> that
# test. The whole eval takes minutes; running it twice only made the suite longer.
COMMANDS_RUN_ELSEWHERE = {
    "python -m bot eval --max-wrong 0.05 --min-recall 0.85": "tests/knowledge/test_knowledge_base.py",
}

COMMAND = re.compile(r"^\$ (.+)$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.DOTALL | re.MULTILINE)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def doc(name: str) -> str:
    """The text of docs/<name>.md."""
    path = DOCS / f"{name}.md"
    assert path.exists(), f"docs/ lost its {name}.md page"
    return path.read_text(encoding="utf-8")


def section(title: str, text: str = README) -> str:
    """One `## ` section of a page (the README by default), without its heading."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.DOTALL | re.MULTILINE)
    assert found, f"the page lost its {title} section"
    return found.group(1)


def name(path: Path) -> str:
    """A page as the repository names it: README.md, docs/deploying.md."""
    return path.relative_to(ROOT).as_posix()


def pages() -> list[Path]:
    """The README, then the docs/ pages in the order the README's Documentation section lists
    them (the order a reader meets them), then any page it does not list."""
    listed = [ROOT / target for target in LINK.findall(section("Documentation")) if target.startswith("docs/")]
    ordered = list(dict.fromkeys(path for path in listed if path.suffix == ".md"))
    return [README_PATH, *ordered, *sorted(set(DOCS.glob("*.md")) - set(ordered))]


def console_commands(text: str | None = None) -> list[str]:
    """The `$ ` commands of `text`, in order; by default those of every page in reading order,
    but for the pages in RUN_ELSEWHERE."""
    if text is None:
        text = "\n".join(p.read_text(encoding="utf-8") for p in pages() if name(p) not in RUN_ELSEWHERE)
    return COMMAND.findall(text)


def shown_commands(text: str) -> list[str]:
    """Every line that shows a command to type (`$ `, indented or not): what a test must run."""
    return [line.strip()[2:] for line in text.splitlines() if re.match(r"^\s*\$ ", line)]


def prose(text: str) -> str:
    """`text` without its fenced code blocks and inline code (where a `#` or `[x](y)` is not markup)."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def links(text: str) -> list[str]:
    """The targets of the Markdown links and images in `text`'s prose, as written."""
    return LINK.findall(prose(text))


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives `text`'s headings: lower case, punctuation dropped, spaces as
    hyphens, and -1, -2… after a repeated one."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+?)#*$", FENCE.sub("", text), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().replace("`", "").lower()).replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def environment(data_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "LLM_MODEL", "REVIEW_PASSWORD")}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    env["DATA_DIR"] = str(data_dir)
    return env


def documented(start: str) -> list[str]:
    """The arguments of the one command in COMMANDS_RUN_ELSEWHERE that begins with `start`, for
    the test named there to run it as a page shows it."""
    import shlex

    [command] = [c for c in COMMANDS_RUN_ELSEWHERE if c.startswith(start)]
    assert command in console_commands(), f"no page shows `{command}` any more"
    return shlex.split(command)[len(shlex.split(start)) :]
