"""The README is a front page and docs/ holds the rest: the front page stays short, every page
says what it is for and links back, every relative link lands on a file and heading that exist,
and no page shows a `$ ` command that no test runs.

(The commands themselves run in tests/system/test_readme.py and tests/system/test_deploying.py;
these checks are fast and need no index.)"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.helpers import ROOT
from tests.helpers.readme import (
    COMMANDS_RUN_ELSEWHERE,
    DOCS,
    README,
    README_PATH,
    RUN_ELSEWHERE,
    anchors,
    console_commands,
    links,
    name,
    section,
    shown_commands,
)

MAX_README_LINES = 300
PICTURE = DOCS / "images" / "conversation.png"


def test_the_readme_is_a_front_page_of_at_most_300_lines():
    lines = len(README.splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines: move the detail to a docs/ page"


def test_the_readme_links_every_docs_page_from_its_documentation_section():
    listed = {ROOT / target for target in links(section("Documentation"))}
    unlisted = sorted(name(page) for page in set(DOCS.glob("*.md")) - listed)
    assert not unlisted, f"README's Documentation section does not list {unlisted}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_docs_page_says_what_it_is_for_and_links_back(page: Path):
    text = page.read_text(encoding="utf-8")
    title, _, rest = text.partition("\n\n")
    assert title.startswith("# "), f"{name(page)} does not start with a title"
    purpose = rest.split("\n\n", 1)[0]
    assert purpose.startswith("This page is for "), f"{name(page)} does not open with what it is for"
    assert "](../README.md)" in text.split("\n## ", 1)[0], f"{name(page)} has no link back to the README"


def broken_links(text: str, page: Path) -> list[str]:
    """The relative links of `text` (the page at `page`) whose file, or heading, does not exist."""
    broken = []
    for target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
            continue
        path, _, anchor = unquote(target).partition("#")
        file = (page.parent / path).resolve() if path else page
        if not path:
            headings = anchors(text)
        elif file.is_relative_to(ROOT) and file.is_file():
            headings = anchors(file.read_text(encoding="utf-8")) if file.suffix == ".md" else set()
        elif file.is_relative_to(ROOT) and file.is_dir() and not anchor:
            continue
        else:
            broken.append(target)
            continue
        if anchor and anchor not in headings:
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", [README_PATH, *sorted(DOCS.glob("*.md"))], ids=lambda p: name(p))
def test_relative_links_point_at_files_and_headings_that_exist(page: Path):
    text = page.read_text(encoding="utf-8")
    assert links(text), f"{name(page)} links nowhere"
    assert not broken_links(text, page), f"{name(page)} links to missing files or headings: {broken_links(text, page)}"


def test_the_link_check_catches_a_missing_file_and_a_missing_heading():
    text = "# A\n\n## Here it is\n\n[ok](#here-it-is) [ok](../README.md#quick-start) [ok](https://x.y/z)\n"
    text += "[no](../README.md#no-such-heading) [no](missing.md) [no](#nowhere) ![ok](images/conversation.png)\n"
    text += "```sh\n[in code](ignored.md)\n```\n`[inline](ignored.md)`\n"
    assert broken_links(text, DOCS / "imaginary.md") == ["../README.md#no-such-heading", "missing.md", "#nowhere"]


def test_every_command_a_page_shows_is_run_by_a_test():
    """`$ ` commands run by tests/system/test_readme.py (README and docs/, in reading order) or by
    the test RUN_ELSEWHERE names, which must read that page; an indented `$ ` line, which
    neither would run, fails here."""
    run = set(console_commands())
    for page, test in RUN_ELSEWHERE.items():
        source = (ROOT / test).read_text(encoding="utf-8")
        assert f'doc("{Path(page).stem}")' in source, f"{test} no longer reads {page}"
        run |= set(console_commands((ROOT / page).read_text(encoding="utf-8")))
    for command, test in COMMANDS_RUN_ELSEWHERE.items():
        source = (ROOT / test).read_text(encoding="utf-8")
        assert f'documented("{" ".join(command.split()[:4])}")' in source, f"{test} no longer runs `{command}`"
    for page in [README_PATH, *DOCS.glob("*.md")]:
        not_run = [c for c in shown_commands(page.read_text(encoding="utf-8")) if c not in run]
        assert not not_run, f"{name(page)} shows commands no test runs: {not_run}"


def test_the_readme_shows_one_small_committed_picture():
    shown = [t for t in links(README) if t.endswith(".png")]
    assert shown == ["docs/images/conversation.png"]
    picture = PICTURE.read_bytes()
    assert picture.startswith(b"\x89PNG\r\n\x1a\n") and 20_000 < len(picture) < 200_000, len(picture)
