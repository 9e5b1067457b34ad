.PHONY: install lint types test check messages

install:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'

lint:
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/lint-imports

types:
	.venv/bin/mypy

test:
	.venv/bin/pytest

check: lint types test

# Extract the pages' strings and merge them into the catalogues (then translate the new ones).
messages:
	.venv/bin/pybabel extract -F babel.cfg --no-location -o /tmp/callhopper-messages.pot .
	.venv/bin/pybabel update -N --ignore-obsolete -w 100 -i /tmp/callhopper-messages.pot -d src/callhopper/web/locale -D messages -l ja
