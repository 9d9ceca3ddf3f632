# The two commands a newcomer needs (see README.md):
#   make run   set up .venv, bring the knowledge index up to date, start the advisor
#   make test  set up .venv and run the linter, the architecture contracts and the whole test suite
.PHONY: run test setup lint

PY := .venv/bin/python

run: setup
	$(PY) -m bot run

test: setup
	$(PY) -m ruff check .
	.venv/bin/lint-imports
	$(PY) -m pytest -q

setup:
	@bash scripts/setup.sh
