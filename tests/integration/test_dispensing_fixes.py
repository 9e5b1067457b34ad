"""Dispensing defects found by hardening, each pinned by a test on both databases: records
that may not be dialled are never delivered, the assignment history never shows two
holders at once, and Get Record says what it waits for."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.campaign_helpers import (
    account,
    agents,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    phone,
    start,
)
from tests.support import MakeUser

API = "/api/v1"


def rows(count: int) -> list[dict[str, str]]:
    """Accounts without an owner, in account order, each with one number."""
    return [
        {"account": f"A{n:05d}", "phone": phone(n), "agent": "", "balance": "1"}
        for n in range(count)
    ]


def history(api: TestClient, campaign_id: int) -> list[dict[str, Any]]:
    response = api.get(f"{API}/assignment-history", params={"campaign_id": campaign_id})
    assert response.status_code == 200, response.text
    return list(response.json())


def attach_dnc(api: TestClient, campaign_id: int, numbers: list[str]) -> None:
    created = api.post(f"{API}/dnc-lists", json={"name": f"National {campaign_id}"})
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    added = api.post(f"{API}/dnc-lists/{list_id}/numbers", json={"numbers": numbers})
    assert added.status_code == 200, added.text
    attached = api.put(f"{API}/campaigns/{campaign_id}/dnc-lists", json={"dnc_list_ids": [list_id]})
    assert attached.status_code == 200, attached.text


# --- a record whose every number is on a do-not-call list ---------------------------------------


def test_a_record_whose_every_number_is_on_a_dnc_list_is_closed_not_delivered(
    api: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = make_list(api, rows(3))
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, [alice]),
        agent_owned_column=None,
        sort=[{"column": "account"}],
    )
    attach_dnc(api, campaign_id, [phone(0)])  # the first account's only number
    start(api, campaign_id)

    delivery = get_record(api, alice, campaign_id)

    assert delivery is not None and account(delivery) == "A00001"  # the next one, at once
    closed = [h for h in history(api, campaign_id) if h["outcome"] == "dnc"]
    assert len(closed) == 1, history(api, campaign_id)
    assert closed[0]["record_id"] != delivery["record_id"]
