"""Imports that update records already in a list, and rows the database cannot store:
through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from callhopper.store.db import Database
from callhopper.store.models import Campaign, CampaignRecord, RecordPhone
from tests.support import MakeUser

LIST_BODY: dict[str, Any] = {
    "name": "Accounts",
    "columns": [
        {"name": "account", "required": True},
        "first_name",
        "zip",
        "cell_phone",
        "home_phone",
        "owner",
        "balance",
        {"name": "notes", "editable": True},
    ],
    "phone_columns": [
        {"column": "cell_phone", "type": "cell"},
        {"column": "home_phone", "type": "home"},
    ],
    "timezone_source": {"kind": "postal_code", "column": "zip"},
    "lead_owner_column": "owner",
    "key_column": "account",
}
FULL = (
    b"account,first_name,zip,cell_phone,home_phone,balance,notes\n"
    b"A1,Ann,10001,(602) 234-5678,(212) 555-0123,50.00,will pay on the 15th\n"
    b"A2,Bob,85004,(602) 234-5679,,10.00,\n"
)


def make_list(api: TestClient) -> int:
    response = api.post("/api/v1/contact-lists", json=LIST_BODY)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def post_csv(api: TestClient, list_id: int, content: bytes, **params: str) -> dict[str, Any]:
    response = api.post(
        f"/api/v1/contact-lists/{list_id}/imports",
        content=content,
        headers={"Content-Type": "text/csv"},
        params=params,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def post_json(api: TestClient, list_id: int, records: list[Any], **extra: Any) -> dict[str, Any]:
    response = api.post(
        f"/api/v1/contact-lists/{list_id}/records", json={"records": records, **extra}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def records(api: TestClient, list_id: int) -> dict[str, dict[str, Any]]:
    found = api.get(f"/api/v1/contact-lists/{list_id}/records").json()
    return {r["key"]: r for r in found}


def owner_audit(api: TestClient, record_id: int) -> list[tuple[Any, Any]]:
    entries = api.get(
        "/api/v1/audit", params={"action": "record.owner", "target_id": str(record_id)}
    ).json()
    return [(e["before"], e["after"]) for e in reversed(entries)]


def test_csv_update_keeps_the_columns_the_file_lacks(api: TestClient, db: Database) -> None:
    list_id = make_list(api)
    post_csv(api, list_id, FULL)
    report = post_csv(
        api, list_id, b"account,cell_phone,balance\nA1,,100.00\n", on_duplicate="update"
    )
    assert (report["rows_updated"], report["rows_rejected"]) == (1, 0)
    a1 = records(api, list_id)["A1"]
    assert a1["data"] == {
        "account": "A1",
        "first_name": "Ann",
        "zip": "10001",
        "home_phone": "(212) 555-0123",
        "balance": "100.00",
        "notes": "will pay on the 15th",
    }
    # Phones and zone are derived from the merged values: the emptied cell phone is gone,
    # the zone still comes from the stored zip (not from the Phoenix cell number).
    assert a1["phones"] == [None, "+12125550123"]
    assert a1["tz"] == "America/New_York"
    with db.read() as session:
        indexed = session.execute(
            select(RecordPhone.position, RecordPhone.e164).where(RecordPhone.record_id == a1["id"])
        ).all()
    assert [tuple(p) for p in indexed] == [(1, "+12125550123")]


def test_json_update_merges_and_null_clears(api: TestClient) -> None:
    list_id = make_list(api)
    post_csv(api, list_id, FULL)
    report = post_json(
        api,
        list_id,
        [{"account": "A1", "zip": "85004", "notes": None}, {"account": "A2", "balance": 20}],
        on_duplicate="update",
    )
    assert (report["rows_updated"], report["rows_rejected"]) == (2, 0), report
    found = records(api, list_id)
    assert "notes" not in found["A1"]["data"]
    assert found["A1"]["data"]["first_name"] == "Ann"
    assert found["A1"]["tz"] == "America/Phoenix"
    assert found["A2"]["data"]["first_name"] == "Bob"
    assert found["A2"]["data"]["balance"] == "20"


def test_update_moves_the_campaign_copy_of_the_zone(
    api: TestClient, db: Database, make_user: MakeUser
) -> None:
    list_id = make_list(api)
    post_csv(api, list_id, FULL)
    queue = api.post("/api/v1/queues", json={"name": "Team"}).json()
    campaign = api.post(
        "/api/v1/campaigns",
        json={"name": "C", "list_id": list_id, "queue_id": queue["id"]},
    ).json()
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/start").status_code == 200
    post_csv(api, list_id, b"account,zip,cell_phone\nA1,85004,6022345678\n", on_duplicate="update")
    a1 = records(api, list_id)["A1"]
    with db.read() as session:
        tz = session.scalar(select(CampaignRecord.tz).where(CampaignRecord.record_id == a1["id"]))
        zones = session.scalar(select(Campaign.zones).where(Campaign.id == campaign["id"]))
    assert tz == a1["tz"] == "America/Phoenix"
    assert zones == ["America/Phoenix"]


def test_owner_changes_by_import_are_audited_like_any_owner_change(
    api: TestClient, make_user: MakeUser
) -> None:
    alice, bob = make_user("agent"), make_user("agent")
    list_id = make_list(api)
    post_csv(api, list_id, f"account,cell_phone,owner\nA1,6022345678,{alice.email}\n".encode())
    record_id = records(api, list_id)["A1"]["id"]
    assert owner_audit(api, record_id) == [
        ({"owner_user_id": None}, {"owner_user_id": alice.user_id})
    ]
    # Same owner again, or a file without the owner column: no owner change, no entry.
    post_csv(api, list_id, f"account,owner\nA1,{alice.user_id}\n".encode(), on_duplicate="update")
    post_csv(api, list_id, b"account,notes\nA1,called\n", on_duplicate="update")
    assert len(owner_audit(api, record_id)) == 1
    assert records(api, list_id)["A1"]["data"]["owner"] == alice.user_id
    post_csv(api, list_id, f"account,owner\nA1,{bob.email}\n".encode(), on_duplicate="update")
    assert owner_audit(api, record_id)[-1] == (
        {"owner_user_id": alice.user_id},
        {"owner_user_id": bob.user_id},
    )
    post_json(api, list_id, [{"account": "A1", "user_id": alice.user_id}], on_duplicate="update")
    assert owner_audit(api, record_id)[-1] == (
        {"owner_user_id": bob.user_id},
        {"owner_user_id": alice.user_id},
    )
    assert len(owner_audit(api, record_id)) == 3
