"""Phone extensions are kept: written with a number in any usual form, they come back in the
record views, in the agent's delivery and in the answer to Call, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.campaign_helpers import (
    get_record,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    start,
)
from tests.support import MakeUser, Person

#: The forms of an extension, one per account (the last account has none).
WRITTEN = [
    "+1 602 234 5678 ext. 12",
    "(602) 234-5679 x7",
    "602-234-5680 #345",
    "+1 602 234 5681;ext=9",
]


@pytest.fixture
def agent(make_user: MakeUser) -> Person:
    return make_user("agent", email="ana@example.com", user_id="ana")


def _list(api: TestClient, agent: Person) -> int:
    rows = owned_rows([agent.user_id] * 5)
    for row, phone in zip(rows, WRITTEN, strict=False):
        row["phone"] = phone
    return make_list(api, rows)


def _by_account(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["data"]["account"]: r for r in records}


def test_the_record_views_return_each_phones_extension(api: TestClient, agent: Person) -> None:
    list_id = _list(api, agent)
    records = _by_account(api.get(f"/api/v1/contact-lists/{list_id}/records").json())
    assert records["A00000"]["phones"] == ["+16022345678"]
    assert [records[f"A0000{n}"]["phone_extensions"] for n in range(5)] == [
        ["12"],
        ["7"],
        ["345"],
        ["9"],
        [None],
    ]
    first = records["A00000"]["id"]
    one = api.get(f"/api/v1/contact-lists/{list_id}/records/{first}").json()
    assert one["phone_extensions"] == ["12"]
    # An edit that removes the extension removes it from the view.
    edited = api.patch(
        f"/api/v1/contact-lists/{list_id}/records/{first}",
        json={"data": {"phone": "+1 602 234 5678"}},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["phone_extensions"] == [None]


def test_the_agent_sees_the_extensions_and_call_passes_the_one_dialled(
    app_client: TestClient, api: TestClient, agent: Person
) -> None:
    list_id = _list(api, agent)
    campaign_id = make_campaign(
        api, list_id, make_queue(api, [agent]), sort=[{"column": "account"}]
    )
    start(api, campaign_id)
    delivery = get_record(app_client, agent, campaign_id)
    assert delivery is not None
    assert [(p["number"], p["extension"]) for p in delivery["phones"]] == [("+16022345678", "12")]
    url = f"/api/v1/agent/campaigns/{campaign_id}/records/{delivery['record_id']}/call"
    called = app_client.post(url, json={}, headers=agent.headers)
    assert called.status_code == 200, called.text
    assert (called.json()["number"], called.json()["extension"]) == ("+16022345678", "12")
