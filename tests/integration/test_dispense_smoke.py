from __future__ import annotations

from fastapi.testclient import TestClient

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
