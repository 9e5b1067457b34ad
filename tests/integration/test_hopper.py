"""Lead owners and the per-agent hopper, with the numbers of the documented examples."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.orm import Session

from callhopper.clock import FrozenClock
from callhopper.core.campaigns import delete_campaign
from callhopper.domain.actors import SYSTEM
from callhopper.domain.campaigns import DEFAULT_SKIP_REINSERT_DELAY_S
from callhopper.store import hopper
from callhopper.store.campaigns import campaign_of
from callhopper.store.db import Database
from callhopper.store.models import Campaign as CampaignRow
from callhopper.store.models import CampaignRecord, HopperEntry, Record
from callhopper.store.snapshots import take_snapshot
from callhopper.store.uow import SqlTransaction
from tests.campaign_helpers import agents, done, get_record, phone
from tests.support import MakeUser, Person

ALL_DAY = {"start": "00:00", "end": "24:00"}


def leads(owner: str | None, state: str, count: int, start: int) -> list[dict[str, str]]:
    rows = []
    for n in range(start, start + count):
        row = {"lead": f"L{n:06d}", "phone": phone(n), "state": state}
        if owner is not None:
            row["owner"] = owner
        rows.append(row)
    return rows


def lead_list(api: TestClient, rows: list[dict[str, str]]) -> int:
    created = api.post(
        "/api/v1/contact-lists",
        json={
            "name": "Leads",
            "columns": ["lead", "phone", "state", "owner", {"name": "notes", "editable": True}],
            "phone_columns": ["phone"],
            "lead_owner_column": "owner",
            "key_column": "lead",
            "default_timezone": "America/Phoenix",
        },
    )
    assert created.status_code == 201, created.text
    list_id = int(created.json()["id"])
    for at in range(0, len(rows), 5000):
        report = api.post(
            f"/api/v1/contact-lists/{list_id}/records", json={"records": rows[at : at + 5000]}
        ).json()
        assert report["rows_rejected"] == 0, report["rejections"][:3]
    return list_id


def lead_campaign(api: TestClient, list_id: int, people: list[Person], **settings: Any) -> int:
    queue = api.post("/api/v1/queues", json={"name": "Sales"}).json()
    api.post(
        f"/api/v1/queues/{queue['id']}/members", json={"user_ids": [p.user_id for p in people]}
    )
    created = api.post(
        "/api/v1/campaigns",
        json={
            "name": "Sales floor",
            "list_id": list_id,
            "queue_id": queue["id"],
            "enforce_lead_ownership": True,
            "calling_window": ALL_DAY,
            "settings": settings,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    assert api.post(f"/api/v1/campaigns/{campaign_id}/start").status_code == 200
    return campaign_id


def login(client: TestClient, who: Person, campaign_id: int) -> None:
    response = client.post(f"/api/v1/agent/campaigns/{campaign_id}/login", headers=who.headers)
    assert response.status_code == 204, response.text


def logout(client: TestClient, who: Person, campaign_id: int) -> None:
    response = client.post(f"/api/v1/agent/campaigns/{campaign_id}/logout", headers=who.headers)
    assert response.status_code == 204


def load(api: TestClient, campaign_id: int) -> dict[str, Any]:
    response = api.post(f"/api/v1/campaigns/{campaign_id}/hopper/load")
    assert response.status_code == 200, response.text
    return dict(response.json())


def hopper_counts(api: TestClient, campaign_id: int) -> tuple[dict[str, int], int]:
    view = api.get(f"/api/v1/campaigns/{campaign_id}/hopper").json()
    owned = {b["owner_user_id"]: b["leads"] for b in view["owned"]}
    return owned, sum(b["leads"] for b in view["general"])


def skill(api: TestClient, name: str, expression: str, *holders: Person) -> None:
    created = api.post("/api/v1/skills", json={"name": name, "expression": expression}).json()
    for person in holders:
        api.put(f"/api/v1/users/{person.user_id}/skills", json={"skill_ids": [created["id"]]})


def test_level_50_one_agent_gets_50_owned_and_50_general(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads("alice", "AZ", 80, 0) + leads(None, "AZ", 80, 100))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=50)
    login(app_client, alice, campaign_id)
    report = load(api, campaign_id)
    assert report["added_owned"] == {"alice": 50}
    assert sum(report["added_general"].values()) == 50
    assert hopper_counts(api, campaign_id) == ({"alice": 50}, 50)


def test_loads_add_in_chunks_of_the_level(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """99 owned + 99 general in at level 100 → the next load makes it 398."""
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads("alice", "AZ", 300, 0) + leads(None, "AZ", 300, 1000))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=100)
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    with db.write() as session:
        for owned in (True, False):
            kind = HopperEntry.owner_id.is_not(None) if owned else HopperEntry.owner_id.is_(None)
            first = session.scalar(
                select(func.min(HopperEntry.record_id)).where(
                    HopperEntry.campaign_id == campaign_id, kind
                )
            )
            session.execute(delete(HopperEntry).where(HopperEntry.record_id == first))
    assert hopper_counts(api, campaign_id) == ({"alice": 99}, 99)
    load(api, campaign_id)
    owned, general = hopper_counts(api, campaign_id)
    assert owned["alice"] + general == 398
    # Full chunks: nothing more while each kind is at or above the level.
    assert load(api, campaign_id)["added_owned"] == {}
    assert hopper_counts(api, campaign_id) == ({"alice": 199}, 199)


def test_agents_with_the_same_skills_share_general_leads(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    skill(api, "Arizona", 'state == "AZ"', alice, bob)
    list_id = lead_list(api, leads(None, "AZ", 300, 0))
    campaign_id = lead_campaign(api, list_id, [alice, bob], hopper_level=100)
    login(app_client, alice, campaign_id)
    login(app_client, bob, campaign_id)
    assert sum(load(api, campaign_id)["added_general"].values()) == 200
    # Either may get any of them.
    got = [get_record(app_client, p, campaign_id) for p in (alice, bob)]
    assert all(g is not None for g in got)


def test_never_more_than_1000_per_agent(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads("alice", "AZ", 1200, 0) + leads(None, "AZ", 1200, 5000))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=600)
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    assert hopper_counts(api, campaign_id) == ({"alice": 600}, 400)  # 1,000 in all
    load(api, campaign_id)
    assert hopper_counts(api, campaign_id) == ({"alice": 600}, 400)


def test_the_cap_counts_owned_and_general_leads_together(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    """600 owned + 400 general in at level 600; two owned leads worked → the next load
    adds 2 owned leads, not 402 (which made 1,400 for one agent)."""
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads("alice", "AZ", 1200, 0) + leads(None, "AZ", 1200, 5000))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=600)
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    assert hopper_counts(api, campaign_id) == ({"alice": 600}, 400)
    for _ in range(2):
        delivery = get_record(app_client, alice, campaign_id)
        assert delivery is not None
        done(app_client, alice, campaign_id, delivery["record_id"], "no_answer")
    assert hopper_counts(api, campaign_id) == ({"alice": 598}, 400)
    report = load(api, campaign_id)
    assert report["added_owned"] == {"alice": 2}
    assert hopper_counts(api, campaign_id) == ({"alice": 600}, 400)  # 1,000 in all


def test_an_owners_leads_leave_the_hopper_when_they_log_out(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    list_id = lead_list(api, leads("alice", "AZ", 20, 0) + leads("bob", "AZ", 20, 100))
    campaign_id = lead_campaign(api, list_id, [alice, bob], hopper_level=10)
    login(app_client, alice, campaign_id)
    login(app_client, bob, campaign_id)
    load(api, campaign_id)
    assert hopper_counts(api, campaign_id)[0] == {"alice": 10, "bob": 10}
    logout(app_client, bob, campaign_id)
    report = load(api, campaign_id)
    assert report["removed_owned"] == 10
    assert hopper_counts(api, campaign_id)[0] == {"alice": 10}


def test_an_import_that_changes_owners_takes_their_leads_out_of_the_hopper(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    list_id = lead_list(api, leads("alice", "AZ", 4, 0))
    campaign_id = lead_campaign(api, list_id, [alice, bob], hopper_level=10)
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    assert hopper_counts(api, campaign_id)[0] == {"alice": 4}
    # Two of alice's leads go to bob (an update naming their new owner), one keeps alice.
    rows = [{"lead": "L000000", "owner": "bob"}, {"lead": "L000001", "owner": "bob"}]
    rows.append({"lead": "L000002", "owner": "alice"})
    report = api.post(
        f"/api/v1/contact-lists/{list_id}/records",
        json={"records": rows, "on_duplicate": "update"},
    ).json()
    assert report["rows_updated"] == 3, report
    assert hopper_counts(api, campaign_id)[0] == {"alice": 2}


def test_owned_leads_first_then_general_and_never_another_owners(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    list_id = lead_list(
        api, leads("alice", "AZ", 2, 0) + leads("bob", "AZ", 2, 10) + leads(None, "AZ", 2, 20)
    )
    campaign_id = lead_campaign(api, list_id, [alice, bob], hopper_level=10)
    login(app_client, alice, campaign_id)
    login(app_client, bob, campaign_id)
    load(api, campaign_id)
    seen = []
    while (delivery := get_record(app_client, alice, campaign_id)) is not None:
        seen.append(next(f["value"] for f in delivery["fields"] if f["name"] == "lead"))
        done(app_client, alice, campaign_id, delivery["record_id"], code="not_interested")
    assert seen == ["L000000", "L000001", "L000020", "L000021"]  # never bob's L000010..11


def test_skills_route_general_leads_and_direct_inserts_are_flushed(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    skill(api, "Licensed: Arizona", 'state == "AZ"', alice)
    list_id = lead_list(api, leads(None, "CA", 5, 0) + leads(None, "AZ", 2, 10))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=10)
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    # A CA lead pushed straight into the hopper (hopper=1) bypasses routing …
    inserted = api.post(
        "/api/v1/leads",
        json={
            "list_id": list_id,
            "leads": leads(None, "CA", 1, 50),
            "hopper": 1,
            "campaign_id": campaign_id,
        },
    ).json()
    assert inserted["in_hopper"] == 1
    assert hopper_counts(api, campaign_id)[1] == 3
    # … and is flushed at the next load: no AZ-licensed agent may take it.
    assert load(api, campaign_id)["flushed_general"] == 1
    got = []
    while (delivery := get_record(app_client, alice, campaign_id)) is not None:
        got.append(next(f["value"] for f in delivery["fields"] if f["name"] == "state"))
        done(app_client, alice, campaign_id, delivery["record_id"], code="not_interested")
    assert got == ["AZ", "AZ"]


def test_default_lead_filter_for_agents_without_skills(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads(None, "CA", 3, 0) + leads(None, "NV", 3, 10))
    campaign_id = lead_campaign(
        api, list_id, [alice], hopper_level=10, default_lead_filter='state == "NV"'
    )
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    assert hopper_counts(api, campaign_id)[1] == 3


def test_lifo_is_refused_with_reinserted_skips(api: TestClient, make_user: MakeUser) -> None:
    (_alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads(None, "AZ", 1, 0))
    queue = api.post("/api/v1/queues", json={"name": "Q"}).json()
    created = api.post(
        "/api/v1/campaigns",
        json={
            "name": "C",
            "list_id": list_id,
            "queue_id": queue["id"],
            "enforce_lead_ownership": True,
            "settings": {"reinsert_skipped": True, "secondary_order": "lifo"},
        },
    ).json()
    assert created["settings"]["secondary_order"] == "fifo"
    assert "secondary_order set to fifo" in created["notices"][0]
    refused = api.post(
        "/api/v1/campaigns",
        json={
            "name": "D",
            "list_id": list_id,
            "queue_id": queue["id"],
            "enforce_lead_ownership": True,
            "mode": "predictive",
            "settings": {"caller_ids": ["+14155550100"]},
        },
    )
    assert refused.status_code == 422
    assert "dials for the lead's owner" in refused.json()["error"]["message"]


def test_reinserted_skip_goes_to_the_end_of_the_hopper(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads("alice", "AZ", 3, 0))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=10, reinsert_skipped=True)
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    app_client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/records/{first['record_id']}/skip",
        headers=alice.headers,
    )
    order = []
    for _ in range(2):  # the others first; the skipped lead is away for the delay
        while (delivery := get_record(app_client, alice, campaign_id)) is not None:
            order.append(delivery["record_id"])
            done(app_client, alice, campaign_id, delivery["record_id"], code="not_interested")
        clock.advance(timedelta(seconds=DEFAULT_SKIP_REINSERT_DELAY_S))
    assert order[-1] == first["record_id"] and len(order) == 3


def test_lead_api_owners_duplicates_and_priority(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    list_id = lead_list(api, leads(None, "AZ", 2, 0))
    campaign_id = lead_campaign(api, list_id, [alice, bob], hopper_level=10)
    bought = api.post(
        "/api/v1/leads",
        json={
            "list_id": list_id,
            "owner": "alice",
            "leads": [*leads(None, "AZ", 2, 10), {**leads(None, "AZ", 1, 12)[0], "user_id": "bob"}],
        },
    ).json()
    assert bought["inserted"] == 3
    owners = [
        api.get(f"/api/v1/leads/{i}").json()["owner_user_id"] for i in bought["created"].values()
    ]
    assert owners == ["alice", "alice", "bob"]
    duplicate = api.post(
        "/api/v1/leads",
        json={
            "list_id": list_id,
            "check_duplicates": True,
            "leads": [
                {"lead": "X1", "phone": phone(0), "state": "AZ"},
                {"lead": "X2", "phone": phone(99), "state": "AZ"},
                {"lead": "X3", "phone": phone(99), "state": "AZ"},
            ],
        },
    ).json()
    assert duplicate["inserted"] == 1
    assert [
        (d["item"], d["record_id"] is not None, d["same_as_item"]) for d in duplicate["duplicates"]
    ] == [
        (1, True, None),
        (3, False, 2),
    ]
    assigned = api.get(
        "/api/v1/audit", params={"action": "record.owner", "target_id": bought["created"]["3"]}
    ).json()
    assert (assigned[0]["before"], assigned[0]["after"]) == (
        {"owner_user_id": None},
        {"owner_user_id": "bob"},
    )
    found = api.get("/api/v1/leads", params={"list_id": list_id, "owner": "alice"}).json()
    assert len(found) == 2
    by_field = api.get("/api/v1/leads", params={"list_id": list_id, "lead": "X2"}).json()
    assert [f["data"]["lead"] for f in by_field] == ["X2"]
    # A priority lead pushed into the hopper comes before leads loaded normally.
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    urgent = api.post(
        "/api/v1/leads",
        json={
            "list_id": list_id,
            "leads": leads(None, "AZ", 1, 40),
            "hopper": 1,
            "campaign_id": campaign_id,
            "priority": 5,
            "owner": "alice",
        },
    ).json()
    first = get_record(app_client, alice, campaign_id)
    assert first is not None and first["record_id"] == urgent["created"]["1"]


def test_hopper_view_and_dialable_leads(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    skill(api, "Arizona", 'state == "AZ"', bob)
    skill(api, "California", 'state == "CA"', alice)
    list_id = lead_list(
        api, leads("alice", "AZ", 3, 0) + leads(None, "AZ", 4, 10) + leads(None, "CA", 2, 20)
    )
    campaign_id = lead_campaign(api, list_id, [alice, bob], hopper_level=10)
    login(app_client, alice, campaign_id)
    login(app_client, bob, campaign_id)
    load(api, campaign_id)
    view = api.get(f"/api/v1/campaigns/{campaign_id}/hopper").json()
    assert view["owned"] == [{"owner_user_id": "alice", "leads": 3}]
    groups = {tuple(g["agents"]): g for g in view["general"]}
    assert groups[("bob",)]["skills"] == ["Arizona"] and groups[("bob",)]["leads"] == 4
    dialable = api.get(f"/api/v1/campaigns/{campaign_id}/dialable").json()
    assert dialable["campaign"] == "not applicable"
    assert groups[("alice",)]["skills"] == ["California"] and groups[("alice",)]["leads"] == 2
    assert {a["user_id"]: (a["owned"], a["general"]) for a in dialable["agents"]} == {
        "alice": (3, 2),
        "bob": (0, 4),
    }
    listed = api.get(
        f"/api/v1/campaigns/{campaign_id}/hopper/leads", params={"owner": "alice"}
    ).json()
    assert len(listed) == 3 and all(entry["owner_user_id"] == "alice" for entry in listed)


# --- one load, set-based, at any size (issue 5) ---------------------------------------------


def hopper_leads(api: TestClient, campaign_id: int, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/campaigns/{campaign_id}/hopper/leads", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL the database runs inside the block, in order."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_one_statement_adds_owned_and_general_leads_for_every_group(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """However many skills groups, a load reads the campaign's leads once; a load with
    every agent at level does not read them at all."""
    people = agents(make_user, "alice", "bob", "carol", "dave")
    for person, state in zip(people, ("AZ", "CA", "NV", "NV"), strict=True):
        skill(api, f"Licensed: {state} ({person.user_id})", f'state == "{state}"', person)
    rows = leads("alice", "AZ", 30, 0) + leads("bob", "CA", 30, 100)
    for n, state in enumerate(("AZ", "CA", "NV")):
        rows += leads(None, state, 40, 1000 + 100 * n)
    campaign_id = lead_campaign(api, lead_list(api, rows), people, hopper_level=10)
    for person in people:
        login(app_client, person, campaign_id)
    with statements(db) as seen:
        report = load(api, campaign_id)
    assert report["added_owned"] == {"alice": 10, "bob": 10}
    assert sorted(report["added_general"].values()) == [10, 10, 20]
    inserts = [s for s in seen if s.startswith("INSERT INTO hopper (")]
    assert len(inserts) == 1, inserts
    assert len([s for s in seen if "campaign_records" in s]) == 1
    with statements(db) as seen:
        again = load(api, campaign_id)
    assert again["added_owned"] == {} and again["added_general"] == {}
    assert not [s for s in seen if "campaign_records" in s or "INSERT INTO hopper (" in s], seen


def test_overlapping_skills_still_fill_every_group(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    """A lead both groups match goes to one of them; the other then gets the next ones."""
    alice, bob = agents(make_user, "alice", "bob")
    skill(api, "Arizona", 'state == "AZ"', alice)
    skill(api, "South-west", 'state in ("AZ", "CA")', bob)
    campaign_id = lead_campaign(
        api, lead_list(api, leads(None, "AZ", 30, 0)), [alice, bob], hopper_level=10
    )
    login(app_client, alice, campaign_id)
    login(app_client, bob, campaign_id)
    assert sorted(load(api, campaign_id)["added_general"].values()) == [10, 10]
    assert hopper_counts(api, campaign_id)[1] == 20


def test_a_lead_enters_the_hopper_with_any_callable_number(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    created = api.post(
        "/api/v1/contact-lists",
        json={
            "name": "Two numbers",
            "columns": ["lead", "phone", "mobile", "owner"],
            "phone_columns": ["phone", "mobile"],
            "lead_owner_column": "owner",
            "key_column": "lead",
            "default_timezone": "America/Phoenix",
        },
    )
    list_id = int(created.json()["id"])
    rows = [
        {"lead": "both-callable", "phone": phone(1), "mobile": phone(2)},
        {"lead": "one-blocked", "phone": phone(3), "mobile": phone(4)},
        {"lead": "both-blocked", "phone": phone(5), "mobile": phone(6)},
        {"lead": "only-one-blocked", "phone": phone(7)},
        {"lead": "owned-one-blocked", "phone": phone(8), "mobile": phone(9), "owner": "alice"},
        {"lead": "owned-both-blocked", "phone": phone(10), "mobile": phone(11), "owner": "alice"},
    ]
    added = api.post(f"/api/v1/contact-lists/{list_id}/records", json={"records": rows})
    assert added.json()["rows_rejected"] == 0, added.text
    dnc = api.post("/api/v1/dnc-lists", json={"name": "National"}).json()["id"]
    blocked = [phone(n) for n in (3, 5, 6, 7, 8, 10, 11)]
    api.post(f"/api/v1/dnc-lists/{dnc}/numbers", json={"numbers": blocked})
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=10)
    attached = api.put(f"/api/v1/campaigns/{campaign_id}/dnc-lists", json={"dnc_list_ids": [dnc]})
    assert attached.status_code == 200, attached.text
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    loaded = {entry["data"]["lead"] for entry in hopper_leads(api, campaign_id)}
    assert loaded == {"both-callable", "one-blocked", "owned-one-blocked"}


def test_hopper_positions_are_unique_so_the_view_pages_through_every_lead(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    rows = leads("alice", "AZ", 5, 0) + leads("bob", "AZ", 5, 10) + leads(None, "AZ", 5, 20)
    campaign_id = lead_campaign(api, lead_list(api, rows), [alice, bob], hopper_level=10)
    login(app_client, alice, campaign_id)
    login(app_client, bob, campaign_id)
    load(api, campaign_id)
    seen: list[int] = []
    after = 0
    while page := hopper_leads(api, campaign_id, limit=3, after=after):
        seen += [entry["record_id"] for entry in page]
        after = page[-1]["position"]
    assert len(seen) == len(set(seen)) == 15
    # Each owner's leads still come in the campaign's order (FIFO here).
    mine = hopper_leads(api, campaign_id, owner="alice")
    assert [e["data"]["lead"] for e in mine] == [f"L{n:06d}" for n in range(5)]


def test_the_last_hopper_position_is_read_from_its_index(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """A load and every reinserted skip append after the campaign's last position."""
    (alice,) = agents(make_user, "alice")
    campaign_id = lead_campaign(
        api, lead_list(api, leads("alice", "AZ", 1000, 0)), [alice], hopper_level=1000
    )
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    query = select(func.max(HopperEntry.position)).where(HopperEntry.campaign_id == campaign_id)
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.write() as session:
        if db.dialect == "postgresql":
            session.execute(text("ANALYZE hopper"))
            explained = session.execute(text(f"EXPLAIN {sql}"))
        else:
            explained = session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
        plan = "\n".join(str(row[-1]) for row in explained)
    assert "ix_hopper_position" in plan, plan


def stopped_lead_campaign(api: TestClient, app_client: TestClient, make_user: MakeUser) -> int:
    """A loaded lead-ownership campaign, stopped (so it may be deleted)."""
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads("alice", "AZ", 20, 0) + leads(None, "AZ", 20, 100))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=10)
    login(app_client, alice, campaign_id)
    assert load(api, campaign_id)["added_owned"] == {"alice": 10}
    logout(app_client, alice, campaign_id)
    api.post(f"/api/v1/campaigns/{campaign_id}/stop")
    assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["state"] == "complete"
    return campaign_id


def hopper_size(db: Database, campaign_id: int) -> int:
    with db.read() as session:
        found = session.scalar(select(func.count()).where(HopperEntry.campaign_id == campaign_id))
    return int(found or 0)


def test_deleting_a_campaign_deletes_its_hopper(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """The hopper has no foreign key to campaigns (migration 0013)."""
    campaign_id = stopped_lead_campaign(api, app_client, make_user)
    assert hopper_size(db, campaign_id) > 0
    assert api.delete(f"/api/v1/campaigns/{campaign_id}").status_code == 204
    assert hopper_size(db, campaign_id) == 0
    # An insert that comes after the deletion adds nothing.
    with db.write() as session:
        hopper.reinsert(session, campaign_id, 1, None, datetime.now(UTC))
    assert hopper_size(db, campaign_id) == 0


@contextmanager
def deleted_meanwhile(db: Database, campaign_id: int, what: str) -> Iterator[Session]:
    """A write transaction; when its body is done, another thread deletes the campaign,
    which must wait until this transaction commits and then succeed."""
    errors: list[BaseException] = []

    def delete_it() -> None:
        try:
            with db.write() as session:
                delete_campaign(SqlTransaction(session), SYSTEM, campaign_id, now=datetime.now(UTC))
        except BaseException as error:  # reported by the test's thread
            errors.append(error)

    with db.write() as session:
        yield session
        deleter = threading.Thread(target=delete_it)
        deleter.start()
        deleter.join(0.5)
        assert deleter.is_alive(), f"the deletion did not wait for the {what}'s transaction"
    deleter.join(30)
    assert not deleter.is_alive() and not errors, errors


def test_a_campaign_deleted_while_its_hopper_is_filled_keeps_no_entries(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """A hopper insert holds the campaign's row until it commits, so a deletion waits
    for it and then deletes what it added."""
    campaign_id = stopped_lead_campaign(api, app_client, make_user)
    with deleted_meanwhile(db, campaign_id, "insert") as session:
        record_id = session.scalar(select(func.max(Record.id)))
        assert record_id is not None
        session.execute(delete(HopperEntry).where(HopperEntry.campaign_id == campaign_id))
        hopper.reinsert(session, campaign_id, record_id, None, datetime.now(UTC))
    assert hopper_size(db, campaign_id) == 0


def campaign_rows(db: Database, campaign_id: int) -> int:
    with db.read() as session:
        found = session.scalar(
            select(func.count()).where(CampaignRecord.campaign_id == campaign_id)
        )
    return int(found or 0)


def test_deleting_a_campaign_deletes_its_records(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """campaign_records has no foreign key to campaigns (migration 0028)."""
    campaign_id = stopped_lead_campaign(api, app_client, make_user)
    assert campaign_rows(db, campaign_id) == 40
    assert api.delete(f"/api/v1/campaigns/{campaign_id}").status_code == 204
    assert campaign_rows(db, campaign_id) == 0


def test_a_campaign_deleted_while_a_snapshot_adds_records_keeps_none(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """A snapshot holds the campaign's row until it commits, so a deletion waits for it and
    then deletes what it added."""
    campaign_id = stopped_lead_campaign(api, app_client, make_user)
    with deleted_meanwhile(db, campaign_id, "snapshot") as session:
        record_id = session.scalar(select(func.max(Record.id)))
        assert record_id is not None
        session.execute(
            delete(CampaignRecord).where(
                CampaignRecord.campaign_id == campaign_id, CampaignRecord.record_id == record_id
            )
        )
        row = session.get(CampaignRow, campaign_id)
        assert row is not None
        take_snapshot(session, campaign_of(row), now=datetime.now(UTC), record_id=record_id)
        assert session.get(CampaignRecord, (campaign_id, record_id)) is not None
    assert campaign_rows(db, campaign_id) == 0


def call(client: TestClient, who: Person, campaign_id: int, record_id: int) -> Any:
    return client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/records/{record_id}/call",
        json={},
        headers=who.headers,
    )


def give(api: TestClient, list_id: int, record_id: int, owner: str) -> None:
    response = api.put(
        f"/api/v1/contact-lists/{list_id}/records/{record_id}/owner", json={"owner": owner}
    )
    assert response.status_code == 200, response.text


def alice_holds_her_lead(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> tuple[Person, Person, int, int, dict[str, Any]]:
    """Alice and bob logged into a lead campaign; alice holds her one lead, undialled."""
    alice, bob = agents(make_user, "alice", "bob")
    list_id = lead_list(api, leads("alice", "AZ", 1, 0))
    campaign_id = lead_campaign(api, list_id, [alice, bob], hopper_level=10)
    login(app_client, alice, campaign_id)
    login(app_client, bob, campaign_id)
    load(api, campaign_id)
    held = get_record(app_client, alice, campaign_id)
    assert held is not None
    return alice, bob, list_id, campaign_id, held


def test_a_lead_reassigned_while_its_old_owner_holds_it_goes_to_the_new_owner(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    """Not dialled yet: the old owner's delivery ends (Call is 404 for them), and the next
    load stages the lead for the new owner (an owned record reaches only its owner)."""
    alice, bob, list_id, campaign_id, held = alice_holds_her_lead(api, app_client, make_user)
    give(api, list_id, held["record_id"], "bob")
    assert call(app_client, alice, campaign_id, held["record_id"]).status_code == 404
    assert get_record(app_client, alice, campaign_id) is None
    load(api, campaign_id)
    got = get_record(app_client, bob, campaign_id)
    assert got is not None and got["record_id"] == held["record_id"]
    assert call(app_client, bob, campaign_id, held["record_id"]).status_code == 200


def test_a_lead_reassigned_after_its_old_owner_dialled_it_is_wrapped_up_not_redialled(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    """Dialled already: the old owner keeps it to wrap the call up, may not dial it again,
    and Done gives it back for the new owner."""
    alice, bob, list_id, campaign_id, held = alice_holds_her_lead(api, app_client, make_user)
    record_id = held["record_id"]
    assert call(app_client, alice, campaign_id, record_id).status_code == 200
    give(api, list_id, record_id, "bob")
    again = call(app_client, alice, campaign_id, record_id)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "owned_by_another_agent"
    done(app_client, alice, campaign_id, record_id, "no_answer")
    load(api, campaign_id)
    assert get_record(app_client, bob, campaign_id) is None  # no_answer: waits for its retry


def test_call_refuses_a_lead_owned_by_another_agent_and_takes_it_back(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """An owner changed by any other path (an import, a workflow rule): Call refuses with
    409 and the lead goes back for its owner."""
    alice, bob, _, campaign_id, held = alice_holds_her_lead(api, app_client, make_user)
    record_id = held["record_id"]
    with db.write() as session:
        bob_pk = session.scalar(text("SELECT id FROM users WHERE user_id = 'bob'"))
        session.execute(
            text("UPDATE records SET owner_id = :owner WHERE id = :id"),
            {"owner": bob_pk, "id": record_id},
        )
    refused = call(app_client, alice, campaign_id, record_id)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "owned_by_another_agent"
    assert get_record(app_client, alice, campaign_id) is None
    load(api, campaign_id)
    got = get_record(app_client, bob, campaign_id)
    assert got is not None and got["record_id"] == record_id


def test_a_mass_edit_ends_the_old_owners_deliveries_of_the_leads_it_moves(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    alice, bob, list_id, campaign_id, held = alice_holds_her_lead(api, app_client, make_user)
    edited = api.post(
        f"/api/v1/contact-lists/{list_id}/mass-edit",
        json={"owner": "alice", "action": "set_owner", "owner_user_id": "bob", "dry_run": False},
    )
    assert edited.status_code == 200, edited.text
    assert call(app_client, alice, campaign_id, held["record_id"]).status_code == 404
    load(api, campaign_id)
    got = get_record(app_client, bob, campaign_id)
    assert got is not None and got["record_id"] == held["record_id"]


def test_the_lead_owner_column_is_not_on_the_agents_record_form(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    """Agents are not shown owners, so an agent never sees a stale owner either."""
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads("alice", "AZ", 1, 0))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=10)
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    delivery = get_record(app_client, alice, campaign_id)
    assert delivery is not None
    assert [f["name"] for f in delivery["fields"]] == ["lead", "phone", "state", "notes"]


def test_the_lead_owner_column_is_not_changed_through_the_records_data(
    api: TestClient, make_user: MakeUser
) -> None:
    """Owners change through the owner endpoints only: PATCH refuses the column, naming
    it and the endpoint, and changes nothing."""
    agents(make_user, "alice", "bob")
    list_id = lead_list(api, leads("alice", "AZ", 1, 0))
    record = api.get(f"/api/v1/leads?list_id={list_id}").json()[0]
    for path in (
        f"/api/v1/contact-lists/{list_id}/records/{record['id']}",
        f"/api/v1/leads/{record['id']}",
    ):
        refused = api.patch(path, json={"data": {"owner": "bob", "notes": "x"}})
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert "owner" in error["message"] and "/owner" in error["message"]
        # The same value, or other columns only, are fine.
        kept = api.patch(path, json={"data": {"owner": "alice", "notes": "y"}})
        assert kept.status_code == 200, kept.text
    lead = api.get(f"/api/v1/leads/{record['id']}").json()
    assert lead["owner_user_id"] == "alice" and lead["data"]["owner"] == "alice"


def test_the_hopper_view_pages_through_every_lead_once_direct_inserts_included(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    """Leads inserted with hopper=1 and a priority sit before the loaded ones (negative
    positions): the view lists them from its first page, and two such inserts of the same
    priority get distinct positions."""
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads(None, "AZ", 3, 0))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=10)
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    direct = []
    for n, priority in enumerate((5, 5, 0, 9)):
        inserted = api.post(
            "/api/v1/leads",
            json={
                "list_id": list_id,
                "leads": leads(None, "AZ", 1, 100 + n),
                "hopper": 1,
                "campaign_id": campaign_id,
                "priority": priority,
            },
        )
        assert inserted.status_code in (200, 201), inserted.text
        direct.append(inserted.json()["created"]["1"])
    everything = hopper_leads(api, campaign_id, limit=1000)
    positions = [e["position"] for e in everything]
    assert len(everything) == 7 and len(set(positions)) == 7 and positions == sorted(positions)
    # Priority 9 first, then the two of priority 5 in insertion order; priority 0 at the end.
    assert [e["record_id"] for e in everything[:3]] == [direct[3], direct[0], direct[1]]
    assert everything[-1]["record_id"] == direct[2]
    paged: list[int] = []
    after: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} if after is None else {"limit": 2, "after": after}
        page = hopper_leads(api, campaign_id, **params)
        if not page:
            break
        paged += [e["record_id"] for e in page]
        after = page[-1]["position"]
    assert paged == [e["record_id"] for e in everything]
    assert set(direct) <= set(paged)
