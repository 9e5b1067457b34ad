"""SPEC §8: every error is JSON ``{"error": {"code", "message"}}`` with its status, even a
bug's 500; ids no row can have and text PostgreSQL cannot hold are answered, not crashed on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callhopper.api.app import create_app
from callhopper.api.schemas import RecordsIn
from callhopper.clock import FrozenClock
from callhopper.core.queues import QueueService
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.types import BIGINT_MAX, INTEGER_MAX
from tests.campaign_helpers import make_list, make_queue
from tests.support import Person

#: Past SQLite's 64 bits (the driver's OverflowError) and past PostgreSQL's integer.
HUGE = 2**64
PAST_INTEGER = INTEGER_MAX + 1
PAST_BIGINT = BIGINT_MAX + 1


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert set(error) >= {"code", "message"}
    return error


def field_of(error: dict[str, Any]) -> str:
    details = error["details"]
    return str(details["field"] if "field" in details else details["problems"][0]["field"])


# --- 500 ---------------------------------------------------------------------------------------


@pytest.fixture
def lenient_api(
    settings: Settings, db: Database, clock: FrozenClock, admin: Person
) -> Iterator[TestClient]:
    """An admin's client that answers a server error as a server would, instead of raising."""
    with TestClient(create_app(settings, db, clock), raise_server_exceptions=False) as client:
        client.headers.update(admin.headers)
        yield client


def broken(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("SELECT secret FROM queues -- a bug")


def test_an_unexpected_error_is_a_json_500_that_tells_nothing(
    lenient_api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(QueueService, "queues", broken)
    error = error_of(lenient_api.get("/api/v1/queues"), 500)
    assert error["code"] == "internal_error"
    assert "SELECT" not in str(error) and "secret" not in str(error)
    assert "Traceback" not in str(error)


def test_an_unexpected_error_still_reaches_the_server_to_be_logged(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Starlette raises it again after the 500 is sent: uvicorn logs it with its traceback.
    monkeypatch.setattr(QueueService, "queues", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        api.get("/api/v1/queues")


# --- ids out of the columns' range --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/contact-lists/{HUGE}",
        f"/contact-lists/{PAST_INTEGER}",
        f"/contact-lists/{-PAST_INTEGER - 1}",
        f"/campaigns/{PAST_INTEGER}/progress",
        f"/contact-lists/1/records/{PAST_BIGINT}",
        f"/leads/{HUGE}",
    ],
)
def test_a_path_id_no_row_can_have_is_not_found(api: TestClient, path: str) -> None:
    error = error_of(api.get(f"/api/v1{path}"), 404)
    assert error["code"] == "not_found"


@pytest.mark.parametrize("path", ["/contact-lists/2147483647", "/leads/9223372036854775807"])
def test_the_largest_ids_are_merely_unknown(api: TestClient, path: str) -> None:
    assert error_of(api.get(f"/api/v1{path}"), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/contact-lists/1/records", {"after_id": PAST_BIGINT}, "after_id"),
        ("/audit", {"before_id": HUGE}, "before_id"),
        ("/leads", {"list_id": PAST_INTEGER}, "list_id"),
        ("/assignment-history", {"campaign_id": PAST_INTEGER}, "campaign_id"),
        ("/dnc-lists/check", {"number": "6025550100", "campaign_id": HUGE}, "campaign_id"),
        ("/reports/campaign-ownership", {"list_id": PAST_INTEGER}, "list_id"),
        ("/webhooks", {"before_id": PAST_BIGINT}, "before_id"),
    ],
)
def test_a_query_id_no_row_can_have_is_refused_by_name(
    api: TestClient, path: str, params: dict[str, Any], field: str
) -> None:
    error = error_of(api.get(f"/api/v1{path}", params=params), 422)
    assert field_of(error) == field


@pytest.mark.parametrize("big", [PAST_INTEGER, HUGE])
def test_a_body_id_no_row_can_have_is_refused_by_name(
    api: TestClient, admin: Person, big: int
) -> None:
    queue_id = make_queue(api, [])
    list_id = make_list(api, [])
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/campaigns", {"name": "x", "list_id": big, "queue_id": queue_id}, "list_id"),
        ("PUT", f"/users/{admin.user_id}/skills", {"skill_ids": [big]}, "skill_ids.0"),
        ("POST", "/leads", {"list_id": big, "leads": [{"account": "A"}]}, "list_id"),
        ("POST", f"/contact-lists/{list_id}/ownership/release", {"campaign_ids": [big]}, ""),
        ("POST", "/staleness-rules", {"name": "x", "list_id": big}, "list_id"),
        ("POST", "/staleness-rules", {"name": "x", "not_called_days": big}, "not_called_days"),
        (
            "POST",
            "/workflow-rules",
            {
                "name": "x",
                "trigger": {"codes": ["sale"], "campaign_ids": [big]},
                "actions": [{"type": "clear_owner"}],
            },
            "trigger.campaign_ids.0",
        ),
    ]
    for method, path, body, field in cases:
        error = error_of(api.request(method, f"/api/v1{path}", json=body), 422)
        assert field_of(error) == (field or "campaign_ids.0"), (path, error)


def test_an_inbound_fallback_to_a_queue_no_row_can_have_is_refused(api: TestClient) -> None:
    response = api.post(
        "/api/v1/inbound-routes",
        json={"number": "6025550100", "fallback": f"queue:{PAST_INTEGER}"},
    )
    error = error_of(response, 422)
    assert error["details"]["field"] == "fallback"


def test_no_endpoint_fails_on_a_huge_id_anywhere_in_its_path(
    api: TestClient, admin: Person
) -> None:
    """The audit's sweep: every path with an id, every method, ids past both databases'."""
    named = {"user_id": admin.user_id, "name": "agent", "channel": "voice"}
    failures = []
    for template, methods in api.get("/openapi.json").json()["paths"].items():
        if not set(re.findall(r"\{(\w+)\}", template)) - set(named):
            continue  # no id in this path
        for big in (PAST_INTEGER, HUGE):
            path = re.sub(r"\{(\w+)\}", lambda m: named.get(m.group(1), str(big)), template)  # noqa: B023
            for method in methods:
                body = {} if method in ("post", "put", "patch") else None
                response = api.request(method.upper(), path, json=body)
                if response.status_code >= 500 or "error" not in response.json():
                    failures.append(f"{method.upper()} {path}: {response.status_code}")
    assert failures == []


#: Integers a validator bounds, which the schema does not show.
VALIDATED = ("calling_window.days[]",)  # 0 to 6, CallingWindow._check_days


def test_every_integer_the_api_takes_has_a_bound(api: TestClient) -> None:
    """An integer reaching a column must be refused past its range, before SQL sees it."""
    spec = api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    unbounded: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], where, seen | {name})
            return
        bounded = "maximum" in schema or "enum" in schema or where.endswith(VALIDATED)
        if schema.get("type") == "integer" and not bounded:
            unbounded.append(where)
        for key in ("anyOf", "oneOf", "allOf"):
            for option in schema.get(key, []):
                walk(option, where, seen)
        if "items" in schema:
            walk(schema["items"], f"{where}[]", seen)
        for name, sub in schema.get("properties", {}).items():
            walk(sub, f"{where}.{name}", seen)

    for template, methods in spec["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{method} {template} {parameter['name']}", frozenset())
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema", {}), f"{method} {template} body", frozenset())
    assert unbounded == []


# --- NUL characters ------------------------------------------------------------------------------


def test_a_nul_in_a_body_is_refused_naming_the_field(api: TestClient) -> None:
    body = {"name": "nul\u0000name", "columns": ["phone"], "phone_columns": ["phone"]}
    error = error_of(api.post("/api/v1/contact-lists", json=body), 422)
    assert field_of(error) == "name" and "NUL" in error["message"]
    assert api.get("/api/v1/contact-lists").json() == []

    body = {"name": "ok", "columns": ["phone", {"name": "no\u0000te"}], "phone_columns": ["phone"]}
    error = error_of(api.post("/api/v1/contact-lists", json=body), 422)
    assert field_of(error) == "columns" and "at 1.name" in error["message"]


def test_a_nul_in_a_query_or_path_is_refused_naming_the_parameter(api: TestClient) -> None:
    list_id = make_list(api, [])
    response = api.get("/api/v1/leads", params={"list_id": list_id, "first_name": "a\u0000b"})
    assert field_of(error_of(response, 422)) == "first_name"
    response = api.get("/api/v1/audit", params={"target_id": "x\u0000"})
    assert field_of(error_of(response, 422)) == "target_id"
    assert field_of(error_of(api.get("/api/v1/users/a%00b"), 422)) == "user_id"


def test_records_of_an_import_are_left_to_the_import_to_check_row_by_row() -> None:
    # The import rejects such a row and keeps the others; the request is not refused whole.
    body = RecordsIn.model_validate({"records": [{"account": "a\u0000b"}, {"account": "c"}]})
    assert len(body.records) == 2
