"""Building blocks for campaign tests: a list of owned accounts, a queue, a campaign."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support import MakeUser, Person

ALL_DAY = {"start": "00:00", "end": "24:00"}


def phone(n: int) -> str:
    """The n-th of 8,000,000 distinct valid Phoenix numbers."""
    return f"(602) {200 + n // 10000:03d}-{n % 10000:04d}"


def owned_rows(owners: list[str], *, start: int = 0) -> list[dict[str, str]]:
    """One account per owner value, with valid Phoenix numbers and a balance to sort by."""
    return [
        {
            "account": f"A{start + n:05d}",
            "phone": phone(start + n),
            "agent": owner,
            "balance": str((start + n) * 7 % 1000),
        }
        for n, owner in enumerate(owners)
    ]


def make_list(api: TestClient, rows: list[dict[str, str]], name: str = "Accounts") -> int:
    created = api.post(
        "/api/v1/contact-lists",
        json={
            "name": name,
            "columns": [
                "account",
                "phone",
                "agent",
                {"name": "balance", "type": "number"},
                {"name": "notes", "editable": True},
                {"name": "paid", "type": "checkbox", "editable": True},
            ],
            "phone_columns": ["phone"],
            "agent_owned_column": "agent",
            "key_column": "account",
            "default_timezone": "America/Phoenix",
        },
    )
    assert created.status_code == 201, created.text
    list_id = int(created.json()["id"])
    if rows:
        append(api, list_id, rows)
    return list_id


def append(api: TestClient, list_id: int, rows: list[dict[str, str]]) -> dict[str, Any]:
    response = api.post(f"/api/v1/contact-lists/{list_id}/records", json={"records": rows})
    assert response.status_code == 201, response.text
    report = dict(response.json())
    assert report["rows_rejected"] == 0, report
    return report


def make_queue(api: TestClient, members: list[Person], name: str = "Team") -> int:
    queue = api.post("/api/v1/queues", json={"name": name}).json()
    if members:
        response = api.post(
            f"/api/v1/queues/{queue['id']}/members", json={"user_ids": [m.user_id for m in members]}
        )
        assert response.status_code == 200, response.text
    return int(queue["id"])


def make_campaign(api: TestClient, list_id: int, queue_id: int, **extra: Any) -> int:
    body = {
        "name": extra.pop("name", "Collections"),
        "list_id": list_id,
        "queue_id": queue_id,
        "agent_owned_column": "agent",
        "calling_window": ALL_DAY,
        **extra,
    }
    response = api.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def start(api: TestClient, campaign_id: int) -> None:
    response = api.post(f"/api/v1/campaigns/{campaign_id}/start")
    assert response.status_code == 200, response.text


def get_record(client: TestClient, agent: Person, campaign_id: int) -> dict[str, Any] | None:
    response = client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/get-record", headers=agent.headers
    )
    assert response.status_code == 200, response.text
    delivery = response.json()["delivery"]
    return dict(delivery) if delivery is not None else None


def done(
    client: TestClient,
    agent: Person,
    campaign_id: int,
    record_id: int,
    code: str = "no_answer",
    **body: Any,
) -> None:
    response = client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/records/{record_id}/done",
        json={"code": code, **body},
        headers=agent.headers,
    )
    assert response.status_code == 204, response.text


def account(delivery: dict[str, Any]) -> str:
    return next(f["value"] for f in delivery["fields"] if f["name"] == "account")


def agents(make_user: MakeUser, *names: str) -> list[Person]:
    return [make_user("agent", email=f"{n}@example.com", user_id=n) for n in names]
