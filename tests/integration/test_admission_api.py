"""Admission control in the real application: with room for one agent request, a second
one while the first is held is answered 503 with Retry-After in the API's error format,
other endpoints still answer, and the server takes requests again once the first ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.settings import Settings
from callhopper.store.db import Database
from tests.support import MakeUser

WAIT_S = 10.0  # only reached when the request that must block does not


class HeldDispenser:
    """The application's dispenser, whose My Campaigns blocks while ``hold`` is set."""

    def __init__(self, dispenser: Any) -> None:
        self._dispenser = dispenser
        self.hold = threading.Event()
        self.inside = threading.Event()
        self.release = threading.Event()

    def my_campaigns(self, agent: Any) -> Any:
        if self.hold.is_set():
            self.inside.set()
            assert self.release.wait(WAIT_S)
        return self._dispenser.my_campaigns(agent)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dispenser, name)


@pytest.fixture
def one_slot(settings: Settings, db: Database, clock: FrozenClock) -> Iterator[TestClient]:
    limited = settings.model_copy(
        update={"admission_limit": 1, "admission_wait_ms": 50, "admission_retry_after_s": 3}
    )
    app = create_app(limited, db, clock)
    app.state.dispenser = HeldDispenser(app.state.dispenser)
    with TestClient(app) as client:
        yield client


def test_a_full_server_answers_503_with_retry_after_and_recovers(
    one_slot: TestClient, make_user: MakeUser
) -> None:
    agent, admin = make_user("agent"), make_user("admin")
    held: HeldDispenser = one_slot.app.state.dispenser  # type: ignore[attr-defined]
    held.hold.set()
    answers: list[int] = []
    first = threading.Thread(
        target=lambda: answers.append(
            one_slot.get("/api/v1/agent/campaigns", headers=agent.headers).status_code
        )
    )
    first.start()
    try:
        assert held.inside.wait(WAIT_S)
        refused = one_slot.post("/api/v1/agent/campaigns/1/get-record", headers=agent.headers)
        assert refused.status_code == 503
        # the shortest Retry-After, or one more: one refused, none served yet
        seconds = int(refused.headers["Retry-After"])
        assert seconds in {3, 4}
        assert refused.json()["error"]["code"] == "overloaded"
        assert refused.json()["error"]["details"] == {"retry_after_s": seconds}
        # The administrators' endpoints and the health check are not limited.
        assert one_slot.get("/api/v1/queues", headers=admin.headers).status_code == 200
        assert one_slot.get("/healthz").status_code == 200
    finally:
        held.hold.clear()
        held.release.set()
        first.join(WAIT_S)
    assert answers == [200]
    assert one_slot.get("/api/v1/agent/campaigns", headers=agent.headers).status_code == 200
