"""Records appended or fixed while a campaign runs take their place in the campaign's order,
as if they had been there at the start, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from callhopper.store.db import Database
from callhopper.store.snapshot_ranks import RANK_GAP
from tests.campaign_helpers import (
    account,
    agents,
    append,
    done,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    start,
)
from tests.support import MakeUser, Person


def _rows(owner: str, balances: dict[str, int]) -> list[dict[str, str]]:
    rows = owned_rows([owner] * len(balances))
    for row, (name, balance) in zip(rows, balances.items(), strict=True):
        row["account"], row["balance"] = name, str(balance)
    return rows


def _work_all(api: TestClient, agent: Person, campaign_id: int) -> list[str]:
    order = []
    while (delivery := get_record(api, agent, campaign_id)) is not None:
        order.append(account(delivery))
        done(api, agent, campaign_id, delivery["record_id"], code="not_interested")
    return order


@pytest.fixture
def ana(make_user: MakeUser) -> Person:
    return agents(make_user, "ana")[0]


def _started(api: TestClient, ana: Person, balances: dict[str, int]) -> tuple[int, int]:
    list_id = make_list(api, _rows(ana.user_id, balances))
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, [ana]),
        sort=[{"column": "balance", "descending": True}],
    )
    start(api, campaign_id)
    return list_id, campaign_id


def test_appended_records_are_worked_in_the_campaigns_order(api: TestClient, ana: Person) -> None:
    list_id, campaign_id = _started(api, ana, {"B900": 900, "B500": 500, "B100": 100})
    first = get_record(api, ana, campaign_id)
    assert first is not None and account(first) == "B900"
    done(api, ana, campaign_id, first["record_id"], code="not_interested")

    # Appended during the campaign: one above every record, one between, one below.
    append(api, list_id, _rows(ana.user_id, {"N999": 999, "N300": 300, "N050": 50}))

    assert _work_all(api, ana, campaign_id) == ["N999", "B500", "N300", "B100", "N050"]


def test_a_fixed_record_joins_in_its_place(api: TestClient, ana: Person) -> None:
    list_id, campaign_id = _started(api, ana, {"B900": 900, "B500": 500, "B100": 100})
    # A record whose owner names nobody cannot be delivered; fixed, it takes its place.
    broken = _rows("nobody@example.com", {"F700": 700})
    append(api, list_id, broken)
    records = api.get(f"/api/v1/contact-lists/{list_id}/records").json()
    fixed = next(r for r in records if r["data"]["account"] == "F700")
    changed = api.patch(
        f"/api/v1/contact-lists/{list_id}/records/{fixed['id']}",
        json={"data": {"agent": ana.user_id}},
    )
    assert changed.status_code == 200, changed.text

    assert _work_all(api, ana, campaign_id) == ["B900", "F700", "B500", "B100"]


def test_ranks_are_spaced_out_again_when_neighbours_have_no_room(
    api: TestClient, ana: Person, db: Database
) -> None:
    list_id, campaign_id = _started(api, ana, {"B900": 900, "B100": 100})
    with db.engine.begin() as conn:  # neighbours with no room between them
        conn.execute(
            text("UPDATE campaign_records SET rank = rank / :gap WHERE campaign_id = :c"),
            {"gap": RANK_GAP, "c": campaign_id},
        )
    append(api, list_id, _rows(ana.user_id, {"N500": 500, "N400": 400}))

    assert _work_all(api, ana, campaign_id) == ["B900", "N500", "N400", "B100"]
    with db.engine.connect() as conn:
        ranks: list[Any] = list(
            conn.scalars(
                text("SELECT rank FROM campaign_records WHERE campaign_id = :c"),
                {"c": campaign_id},
            )
        )
    assert len(set(ranks)) == 4
