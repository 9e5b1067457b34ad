"""SPEC §8: every error is JSON ``{"error": {"code", "message"}}`` with its status, even a
bug's 500; ids no row can have and text PostgreSQL cannot hold are answered, not crashed on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callhopper.api.app import create_app
from callhopper.api.routers import queues as queues_router
from callhopper.clock import FrozenClock
from callhopper.settings import Settings
from callhopper.store.db import Database
from tests.support import Person


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert set(error) >= {"code", "message"}
    return error


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
    monkeypatch.setattr(queues_router.queues, "list_queues", broken)
    error = error_of(lenient_api.get("/api/v1/queues"), 500)
    assert error["code"] == "internal_error"
    assert "SELECT" not in str(error) and "secret" not in str(error)
    assert "Traceback" not in str(error)


def test_an_unexpected_error_still_reaches_the_server_to_be_logged(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Starlette raises it again after the 500 is sent: uvicorn logs it with its traceback.
    monkeypatch.setattr(queues_router.queues, "list_queues", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        api.get("/api/v1/queues")
