"""Who may call what: every operation of the live OpenAPI schema, called as each built-in
role and as nobody, is allowed or refused (401/403) exactly as the table of
docs/reference/permissions.md says, so that the page and the code cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.api_floor import Floor

PAGE = Path(__file__).parents[2] / "docs" / "reference" / "permissions.md"
#: The callers, in the order of the table's columns (``nobody`` sends no credentials).
CALLERS = ["admin", "supervisor", "agent", "telephony", "nobody"]
#: Bodies that pass validation where the check of the right comes after it (the agents'
#: endpoints check the right in the worker thread that runs them).
BODIES: dict[str, dict[str, Any]] = {
    "/decline": {"action": "call_later"},
    "/wrapup": {"code": "sale"},
    "/callback": {"at": "2030-01-01T00:00:00Z"},
    "/receiving": {"on": True},
    "/channels/{channel}": {"ready": True},
}
#: Operations that would end the walking caller's own access.
SELF_ENDING = {"POST /api/v1/auth/logout"}


def documented() -> dict[str, dict[str, bool]]:
    """``METHOD /path`` → caller → allowed, read from the page's table."""
    table: dict[str, dict[str, bool]] = {}
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)` \|[^|]*\|(.*)\|$", line)
        if found is None:
            continue
        marks = [cell.strip() for cell in found.group(3).split("|")]
        assert len(marks) == len(CALLERS), line
        table[f"{found.group(1)} /api/v1{found.group(2)}"] = {
            caller: mark == "yes" for caller, mark in zip(CALLERS, marks, strict=True)
        }
    return table


def observed(floor: Floor, caller: str, method: str, path: str) -> bool:
    """Whether ``caller`` gets past authentication and the right check."""
    body = next((b for suffix, b in BODIES.items() if path.endswith(suffix)), {})
    response = floor.client.request(
        method,
        floor.url(path),
        json=body if method in ("POST", "PUT", "PATCH") else None,
        headers=floor.headers(None if caller == "nobody" else caller),
    )
    assert response.status_code < 500, (caller, method, path, response.text)
    return response.status_code not in (401, 403)


def test_every_operation_answers_each_caller_as_the_permissions_page_says(
    walk_floor: Floor,
) -> None:
    spec = walk_floor.client.get("/openapi.json").json()
    operations = [
        f"{method.upper()} {path}"
        for path, methods in spec["paths"].items()
        for method in methods
        if f"{method.upper()} {path}" not in SELF_ENDING
    ]
    table = documented()
    assert sorted(set(operations) - set(table)) == [], "operations missing from the page"
    assert sorted(set(table) - set(operations) - SELF_ENDING) == [], "the page lists others"
    wrong = []
    for caller in CALLERS:
        for operation in operations:
            method, path = operation.split(" ", 1)
            allowed = observed(walk_floor, caller, method, path)
            if allowed != table[operation][caller]:
                wrong.append(f"{operation} as {caller}: {'allowed' if allowed else 'refused'}")
    assert wrong == []
