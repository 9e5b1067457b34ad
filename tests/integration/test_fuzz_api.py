"""Fuzzing: schemathesis sends generated requests to every operation of the live OpenAPI
schema, as an administrator, a supervisor and an agent, and the API must never answer 5xx
nor anything its schema does not document (status, content type, body).

The application runs in process on the demo floor (:mod:`tests.api_floor`), with the path
ids pointed at objects that exist, so that the bodies reach the code behind the 404s. The
examples per operation are few and derandomized: the same requests every run.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_floor import ROLE_EMAILS, Floor

#: Examples per operation and role.
EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Operations that would end the fuzzing caller's own access, whatever their body.
SELF_ENDING = {("POST", "/api/v1/auth/logout")}


@pytest.mark.parametrize("role", list(ROLE_EMAILS))
def test_no_operation_answers_5xx_or_off_its_schema(walk_floor: Floor, role: str) -> None:
    schema = schemathesis.openapi.from_dict(walk_floor.client.get("/openapi.json").json())
    failures: dict[str, set[str]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in SELF_ENDING:
            _fuzz(walk_floor, operation, walk_floor.headers(role), failures)
    assert not failures, "\n".join(f"{k}: {m}" for k, ms in failures.items() for m in ms)


def _fuzz(
    walk_floor: Floor, operation: Any, headers: dict[str, str], failures: dict[str, set[str]]
) -> None:
    """Send ``operation`` its examples; note each distinct failure under its label."""
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        if case.path_parameters:
            case.path_parameters = {
                k: walk_floor.path_id(k, operation.path, v) for k, v in case.path_parameters.items()
            }
        sent = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        response = walk_floor.client.request(**_for_httpx(sent))
        response.request.read()  # a streamed upload: schemathesis reads the request back
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as failure:
            summary = " ".join(str(failure).split())[:400]
            failures.setdefault(label, set()).add(summary)

    check()


def _items(files: Any) -> list[tuple[str, Any]]:
    return list(files.items()) if isinstance(files, dict) else list(files)


def _file(field: str, value: Any) -> tuple[str, Any]:
    """A multipart part as the test client takes it: generated values become bytes."""
    if isinstance(value, tuple):
        name, content, *rest = value
        return field, (name, _bytes(content), *rest)
    return field, _bytes(value)


def _bytes(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    return str(content).encode()


def _for_httpx(sent: dict[str, Any]) -> dict[str, Any]:
    """schemathesis's request (``requests`` arguments) as the test client's arguments."""
    request = {k: v for k, v in sent.items() if k in ("method", "url", "headers", "params")}
    if "json" in sent:
        request["json"] = sent["json"]
    elif isinstance(sent.get("data"), bytes | str):
        request["content"] = sent["data"]
    elif sent.get("data") is not None:
        request["data"] = sent["data"]
    elif sent.get("files"):
        request["files"] = [_file(field, value) for field, value in _items(sent["files"])]
        if isinstance(sent.get("data"), dict):
            request["data"] = sent["data"]
    assert not sent.get("cookies"), "no operation takes a cookie parameter"
    return request
