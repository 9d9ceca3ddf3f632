# The two commands a newcomer needs (see README.md):
#   make run   set up .venv, bring the knowledge index up to date, start the advisor
#   make test  set up .venv and run the linters (code, architecture, knowledge) and the whole test suite
.PHONY: run test setup lint translations

PY := .venv/bin/python

run: setup
	$(PY) -m bot run

test: setup
	$(PY) -m ruff check .
	.venv/bin/lint-imports
	$(PY) -m bot lint knowledge  # the knowledge linter: errors fail the build, warnings are listed
	$(PY) -m pytest -q -n 2  # both cores: many tests wait on servers, subprocesses and models

setup:
	@bash scripts/setup.sh

# The bot's texts for translators (docs/languages.md): collect them into messages.pot, update
# every language's messages.po from it, and compile the .mo files the bot reads.
translations: setup
	.venv/bin/pybabel extract -F bot/locales/babel.cfg -o bot/locales/messages.pot --no-location --sort-output --project "SME Advisor" --copyright-holder "SME Advisor" --msgid-bugs-address "" --omit-header .
	.venv/bin/pybabel update -i bot/locales/messages.pot -d bot/locales --no-fuzzy-matching --ignore-obsolete
	.venv/bin/pybabel compile -d bot/locales --statistics
