"""An import records when it really finished, read from the clock after its last row and
inside the transaction that stores it, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from callhopper.clock import FrozenClock
from tests.campaign_helpers import append, make_list, owned_rows
from tests.conftest import T0


class TickingClock(FrozenClock):
    """A clock that moves a second every time it is read, as a long import would."""

    def now(self) -> datetime:
        self.advance(timedelta(seconds=1))
        return super().now()


@pytest.fixture
def clock() -> FrozenClock:
    return TickingClock(T0)


def test_an_imports_finish_is_after_its_start(api: TestClient) -> None:
    list_id = make_list(api, [])
    append(api, list_id, owned_rows(["a", "b", "c"]))

    (job,) = api.get(f"/api/v1/contact-lists/{list_id}/imports").json()
    started = datetime.fromisoformat(job["started_at"])
    finished = datetime.fromisoformat(job["finished_at"])
    assert finished > started
    contact_list = api.get(f"/api/v1/contact-lists/{list_id}").json()
    assert datetime.fromisoformat(contact_list["updated_at"]) == finished
    (entry,) = api.get(
        "/api/v1/audit", params={"action": "contact_list.import", "target_id": str(list_id)}
    ).json()
    assert datetime.fromisoformat(entry["at"]) == finished
