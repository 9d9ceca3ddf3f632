"""The package's shape as a newcomer meets it: short modules, and every room saying what it
holds and what it may import (import-linter, run by `make test`, checks the imports themselves)."""

from __future__ import annotations

import ast
import re

from tests.helpers import ROOT
from tests.helpers.readme import doc, section

BOT = ROOT / "bot"
MAX_LINES = 400


def test_no_module_in_bot_is_over_400_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in BOT.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these by concern: {long}"


def rooms() -> list[str]:
    return sorted(p.name for p in BOT.iterdir() if (p / "__init__.py").exists())


def test_every_room_says_what_it_holds_and_may_import():
    for room in rooms():
        docstring = ast.get_docstring(ast.parse((BOT / room / "__init__.py").read_text(encoding="utf-8")))
        assert docstring, f"bot/{room}/__init__.py has no docstring"
        assert re.search(r"\bmay import\b", docstring, re.IGNORECASE), f"bot/{room} does not say what it may import"
        modules = {p.stem for p in (BOT / room).iterdir() if p.suffix == ".py" and p.stem != "__init__"}
        packages = {p.name for p in (BOT / room).iterdir() if (p / "__init__.py").exists()}
        unnamed = [m for m in sorted(modules | packages) if f"`{m}`" not in docstring]
        assert not unnamed, f"bot/{room}/__init__.py does not name {unnamed}"


def test_readme_layout_names_every_room_and_the_contracts_list_them():
    front, full = section("Layout"), doc("layout")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for room in rooms():
        assert f"`bot/{room}/`" in front, f"README's Layout lacks bot/{room}/"
        assert f"`bot/{room}/`" in full, f"docs/layout.md lacks bot/{room}/"
        assert f'"{room}"' in pyproject, f"the import-linter layers lack {room}"
