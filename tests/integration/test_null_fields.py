"""Every field of every PATCH and PUT body of the live OpenAPI schema: ``null`` is either
documented as a value of the field, or refused with a 422 that names the field; never a
500, and never silently taken as "keep"."""

from __future__ import annotations

from typing import Any

from tests.api_floor import Floor


def _body_fields(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return {}
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    properties: dict[str, dict[str, Any]] = schema.get("properties", {})
    return properties


def _nullable(field: dict[str, Any]) -> bool:
    return field.get("type") == "null" or any(
        kind.get("type") == "null" for kind in field.get("anyOf", [])
    )


def test_null_in_any_update_field_is_a_422_naming_it(walk_floor: Floor) -> None:
    spec = walk_floor.client.get("/openapi.json").json()
    headers = walk_floor.headers("admin")
    tried = []
    for path, operations in spec["paths"].items():
        for method in ("patch", "put"):
            operation = operations.get(method)
            if operation is None:
                continue
            for name, field in _body_fields(spec, operation).items():
                if _nullable(field):
                    continue
                response = walk_floor.client.request(
                    method, walk_floor.url(path), json={name: None}, headers=headers
                )
                tried.append((method, path, name))
                assert response.status_code == 422, (method, path, name, response.text)
                fields = [p["field"] for p in response.json()["error"]["details"]["problems"]]
                assert name in fields, (method, path, name, response.text)
    names = {(m, p.rsplit("/", 1)[-1], n) for m, p, n in tried}
    assert ("patch", "{campaign_id}", "settings") in names
    assert ("patch", "{campaign_id}", "owner_order") in names


def test_a_campaign_patched_with_null_is_refused_and_unchanged(walk_floor: Floor) -> None:
    headers = walk_floor.headers("admin")
    before = walk_floor.client.get("/api/v1/campaigns/1", headers=headers).json()
    for name in ("name", "description", "settings", "owner_order", "calling_window", "sort"):
        response = walk_floor.client.patch(
            "/api/v1/campaigns/1", json={name: None}, headers=headers
        )
        assert response.status_code == 422, (name, response.text)
        error = response.json()["error"]
        assert error["details"]["problems"][0]["field"] == name
        assert "may not be null" in error["message"]
    after = walk_floor.client.get("/api/v1/campaigns/1", headers=headers).json()
    assert after == before
