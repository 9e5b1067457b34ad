"""The shape of the code: modules stay small, and imports sit at the top of their module.

The layers themselves are checked by ``lint-imports`` (``[tool.importlinter]`` in
``pyproject.toml``), which ``.ci/run`` runs beside the tests.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "src" / "callhopper"
#: A module longer than this holds more than one concept: split it (generated migrations
#: excepted).
MAX_MODULE_LINES = 600
GENERATED = PACKAGE / "store" / "migrations" / "versions"


def modules() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if GENERATED not in path.parents:
            yield path


def test_no_module_passes_the_line_limit() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"split these modules by concept (limit {MAX_MODULE_LINES} lines): {long}"


def function_level_imports(path: Path) -> Iterator[tuple[int, str]]:
    """Imports inside functions, except an optional dependency's, which the line before it
    says is optional."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import | ast.ImportFrom):
                before = lines[inner.lineno - 2] if inner.lineno > 1 else ""
                if "optional" not in before.lower():
                    yield inner.lineno, lines[inner.lineno - 1].strip()


def test_imports_sit_at_the_top_of_their_module() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text}"
        for path in modules()
        for line, text in function_level_imports(path)
    ]
    assert found == [], "move these imports to the top of the module:\n" + "\n".join(found)
