.PHONY: install lint types test check

install:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'

lint:
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench

types:
	.venv/bin/mypy

test:
	.venv/bin/pytest

check: lint types test
