"""Every text the API takes has a limit (callhopper.domain.limits), documented in the
schema, and a longer one is a 422 naming the field: the same on SQLite, which would store
it whole, and on PostgreSQL, whose varchar would refuse it with an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from callhopper.domain import limits
from tests.api_floor import Floor

#: Request texts without a maxLength of their own, and why.
UNBOUNDED_BY_DESIGN = {
    # CSV uploads: a file, read as a stream and checked row by row.
    "post /api/v1/contact-lists/{list_id}/imports body",
    "post /api/v1/dnc-lists/{dnc_list_id}/imports body",
    "post /api/v1/users/import body",
    # A multipart form's mapping field: JSON whose names are checked against the columns.
    "post /api/v1/contact-lists/{list_id}/imports body.mapping",
    # Numbers of a do-not-call list: checked one by one, a bad one reported by its item.
    "NumbersIn.numbers[]",
}


def _unbounded(spec: dict[str, Any]) -> list[str]:
    """Every string of a request body that has no maxLength (nor enum or format)."""
    components = spec["components"]["schemas"]
    seen: set[str] = set()
    found: list[str] = []

    def walk(schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                walk(components[name], name)
            return
        for kind in schema.get("anyOf", []) + schema.get("oneOf", []):
            walk(kind, where)
        if schema.get("type") == "string" and not (
            {"maxLength", "enum", "const", "format"} & schema.keys()
        ):
            found.append(where)
        if "items" in schema:
            walk(schema["items"], f"{where}[]")
        for name, inner in schema.get("properties", {}).items():
            walk(inner, f"{where}.{name}")
        if isinstance(schema.get("additionalProperties"), dict):
            walk(schema["additionalProperties"], f"{where}.*")

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                if "schema" in content:
                    walk(content["schema"], f"{method} {path} body")
    return found


def test_every_text_of_a_request_body_has_a_documented_limit(walk_floor: Floor) -> None:
    spec = walk_floor.client.get("/openapi.json").json()
    assert set(_unbounded(spec)) == UNBOUNDED_BY_DESIGN


def _list(name: str, description: str = "") -> dict[str, Any]:
    return {"name": name, "description": description, "columns": ["a"], "phone_columns": ["a"]}


#: What to create, with a name and a description of the lengths given.
CREATE: dict[str, tuple[str, Callable[[str, str], dict[str, Any]], int]] = {
    "campaign": (
        "/campaigns",
        lambda n, d: {"name": n, "description": d, "list_id": 1, "queue_id": 1},
        limits.MAX_NAME_LENGTH,
    ),
    "queue": ("/queues", lambda n, d: {"name": n, "description": d}, limits.MAX_NAME_LENGTH),
    "contact list": ("/contact-lists", _list, limits.MAX_NAME_LENGTH),
    "wrap-up set": (
        "/wrapup-code-sets",
        lambda n, d: {"name": n, "description": d},
        limits.MAX_NAME_LENGTH,
    ),
    "role": (
        "/roles",
        lambda n, d: {"name": n, "description": d, "based_on": "agent"},
        limits.MAX_ROLE_NAME_LENGTH,
    ),
    "skill": (
        "/skills",
        lambda n, d: {"name": n, "description": d, "expression": 'state == "AZ"'},
        limits.MAX_NAME_LENGTH,
    ),
    "DNC list": ("/dnc-lists", lambda n, d: {"name": n, "description": d}, limits.MAX_NAME_LENGTH),
}


@pytest.mark.parametrize("kind", list(CREATE))
def test_a_name_or_description_past_its_limit_is_a_422_and_at_it_is_stored(
    walk_floor: Floor, kind: str
) -> None:
    path, body, name_limit = CREATE[kind]
    headers = walk_floor.headers("admin")
    letter = "n" if kind != "role" else "r"
    for name, description, field in [
        (letter * (name_limit + 1), "", "name"),
        (letter * 1_000_000, "", "name"),
        (f"{kind} long description", "d" * (limits.MAX_DESCRIPTION_LENGTH + 1), "description"),
    ]:
        response = walk_floor.client.post(
            f"/api/v1{path}", json=body(name, description), headers=headers
        )
        assert response.status_code == 422, (kind, field, response.text[:300])
        problems = response.json()["error"]["details"]["problems"]
        assert problems[0]["field"] == field
        assert "at most" in problems[0]["message"]
    longest = f"{kind[:3]}".ljust(name_limit, "x")
    response = walk_floor.client.post(
        f"/api/v1{path}",
        json=body(longest, "d" * limits.MAX_DESCRIPTION_LENGTH),
        headers=headers,
    )
    assert response.status_code == 201, response.text[:300]
    assert response.json()["name"] == longest


def test_a_user_past_the_limits_is_a_422_naming_the_field(walk_floor: Floor) -> None:
    headers = walk_floor.headers("admin")
    for body, field in [
        ({"email": "a" * limits.MAX_EMAIL_LENGTH + "@x.example"}, "email"),
        ({"email": "long@x.example", "display_name": "n" * 1_000_000}, "display_name"),
        ({"email": "long@x.example", "password": "p" * 1_000_000}, "password"),
        ({"email": "long@x.example", "user_id": "u" * 65}, "user_id"),
    ]:
        response = walk_floor.client.post("/api/v1/users", json=body, headers=headers)
        assert response.status_code == 422, (field, response.text[:300])
        assert response.json()["error"]["details"]["problems"][0]["field"] == field
