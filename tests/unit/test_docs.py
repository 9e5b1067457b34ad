"""The documentation stands alone and says what the code does.

* Nothing in the repository points to a specification outside it: every rule is stated
  in its own words under ``docs/``.
* The generated page of endpoints and schemas is the one ``scripts/api_reference.py``
  writes for the code as it is.
* Every endpoint, setting, command and option is in the reference, and the reference
  names nothing that does not exist.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from scripts.api_reference import API_PREFIX, PAGE, openapi, render

from callhopper import cli
from callhopper.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
API_DOCS = DOCS / "reference" / "api"

#: Directories that are not the project's own text: virtual environments, the built site,
#: git's store, caches and build output.
NOT_SOURCE = frozenset(
    {
        ".venv",
        "site",
        ".git",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
        "build",
        "dist",
        "node_modules",
    }
)
CHECKED_SUFFIXES = frozenset({".py", ".md", ".html", ".toml"})

# Written so that this file does not match them itself.
_SPEC = "S" + "PEC"
OUTSIDE_REFERENCES = re.compile(
    "|".join(
        [
            r"\.\./shared/",  # the team's private folder beside the repository
            r"shared/\S*" + _SPEC,
            _SPEC + r"\.md",
            r"\b" + _SPEC + r"\b",  # its name, with a section number or without
            "\u00a7",  # a section sign: a citation of a section of that specification
        ]
    )
)

#: Endpoints that are not in the OpenAPI schema: the agents' WebSocket.
NOT_IN_OPENAPI = frozenset({("GET", "/agent/ws")})
DOCUMENTED_ENDPOINT = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")

#: Variables read by the tests and the benchmarks, not by callhopper itself.
TOOLING_VARIABLES = frozenset({"CALLHOPPER_TEST_POSTGRES_URL", "CALLHOPPER_BENCH_POSTGRES_URL"})


def project_files() -> Iterator[Path]:
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [
            s for s in subfolders if s not in NOT_SOURCE and not s.endswith(".egg-info")
        ]
        for name in files:
            path = Path(folder) / name
            if path.suffix in CHECKED_SUFFIXES:
                yield path


def test_nothing_points_to_a_specification_outside_the_repository() -> None:
    offending = []
    for path in project_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE_REFERENCES.search(line):
                offending.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offending, (
        "state the rule in words, or link to the docs/ page that states it:\n"
        + "\n".join(offending)
    )


def test_the_generated_api_reference_is_current() -> None:
    committed = PAGE.read_text(encoding="utf-8")
    assert committed == render(openapi()), (
        f"{PAGE.relative_to(ROOT)} is stale: run .venv/bin/python scripts/api_reference.py"
    )


def test_every_endpoint_is_in_the_api_reference_and_nothing_else() -> None:
    served = {
        (method.upper(), path.removeprefix(API_PREFIX))
        for path, operations in openapi()["paths"].items()
        for method in operations
    }
    documented = set()
    for page in API_DOCS.glob("*.md"):
        if page != PAGE:
            documented |= set(DOCUMENTED_ENDPOINT.findall(page.read_text(encoding="utf-8")))
    missing = sorted(served - documented)
    unknown = sorted(documented - served - NOT_IN_OPENAPI)
    assert not missing, f"endpoints missing from docs/reference/api/: {missing}"
    assert not unknown, f"docs/reference/api/ documents endpoints that do not exist: {unknown}"


def cli_commands() -> Iterator[tuple[str, Any]]:
    """Every command of ``callhopper``, as its full name (``callhopper users create``), with
    its click command (typer's own copy of click: read by duck typing)."""
    pending: list[tuple[str, Any]] = [("callhopper", typer.main.get_command(cli.app))]
    while pending:
        name, command = pending.pop()
        if hasattr(command, "commands"):  # a group
            pending += [(f"{name} {sub}", child) for sub, child in command.commands.items()]
        else:
            yield name, command


def cli_variables() -> set[str]:
    return {
        variable
        for _, command in cli_commands()
        for param in command.params
        for variable in ([param.envvar] if isinstance(param.envvar, str) else param.envvar or [])
    }


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    page = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    commands = dict(cli_commands())
    assert {"callhopper serve", "callhopper users create"} <= set(commands)
    missing = []
    for name, command in commands.items():
        if name not in page:
            missing.append(name)
        for param in command.params:
            if param.param_type_name == "option":
                missing += [f"{name} {opt}" for opt in param.opts if opt not in page]
    assert not missing, f"missing from docs/reference/cli.md: {missing}"


def test_every_setting_is_in_the_settings_reference_and_nothing_else() -> None:
    page = (DOCS / "reference" / "settings.md").read_text(encoding="utf-8")
    read = {f"CALLHOPPER_{name.upper()}" for name in Settings.model_fields} | cli_variables()
    documented = set(re.findall(r"CALLHOPPER_[A-Z0-9_]+", page))
    missing = sorted(read - documented)
    unknown = sorted(documented - read - TOOLING_VARIABLES)
    assert not missing, f"settings missing from docs/reference/settings.md: {missing}"
    assert not unknown, f"docs/reference/settings.md names unknown settings: {unknown}"


def test_tests_named_in_the_docs_exist() -> None:
    existing = {path.name for path in (ROOT / "tests").rglob("test_*.py")}
    named = {
        name
        for page in DOCS.rglob("*.md")
        for name in re.findall(r"\btest_\w+\.py\b", page.read_text(encoding="utf-8"))
    }
    assert not named - existing, f"docs/ names tests that do not exist: {sorted(named - existing)}"
