from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from callhopper.store.db import Database
from tests.campaign_helpers import (
    account,
    agents,
    done,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    start,
)
from tests.support import MakeUser


def test_smoke(api: TestClient, app_client: TestClient, make_user: MakeUser) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    list_id = make_list(api, owned_rows(["alice@example.com", "bob", "ALICE@example.com"]))
    queue_id = make_queue(api, [alice, bob])
    campaign_id = make_campaign(api, list_id, queue_id, sort=[{"column": "balance"}])
    start(api, campaign_id)
    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    again = get_record(app_client, alice, campaign_id)
    assert again is not None and again["record_id"] == first["record_id"]
    done(app_client, alice, campaign_id, first["record_id"])
    second = get_record(app_client, alice, campaign_id)
    assert second is not None and second["record_id"] != first["record_id"]
    done(app_client, alice, campaign_id, second["record_id"], code="sale")
    assert get_record(app_client, alice, campaign_id) is None
    b = get_record(app_client, bob, campaign_id)
    assert b is not None and account(b) == "A00001"
    progress = api.get(f"/api/v1/campaigns/{campaign_id}/progress").json()
    assert progress["campaign"]["total"] == 3


def test_get_record_and_done_keep_to_their_statement_budget(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """Every statement is a round trip under the agents' busiest calls: a change that adds
    one to Get Record or Done must mean to (and move the budget here)."""
    (alice,) = agents(make_user, "alice")
    list_id = make_list(api, owned_rows(["alice"] * 3))
    campaign_id = make_campaign(
        api, list_id, make_queue(api, [alice]), sort=[{"column": "balance"}]
    )
    start(api, campaign_id)
    first = get_record(app_client, alice, campaign_id)  # the first claim logs alice in
    assert first is not None
    done(app_client, alice, campaign_id, first["record_id"])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        delivered = get_record(app_client, alice, campaign_id)
        assert delivered is not None
        claimed = len(statements)
        done(app_client, alice, campaign_id, delivered["record_id"])
        wrapped = len(statements) - claimed
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    # Each includes the request's authentication (1); SQLite adds its BEGINs (2) and, in
    # Get Record, the claim's second UPDATE (records.out_*), which PostgreSQL does in the
    # claim statement itself.
    budget = {"postgresql": (11, 10), "sqlite": (14, 12)}[db.dialect]
    assert claimed <= budget[0] and wrapped <= budget[1], (claimed, wrapped, statements)
