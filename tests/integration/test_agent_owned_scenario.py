"""Agent ownership end to end: agent-owned records on a preview campaign, through the API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

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


def drain(client: TestClient, who: Person, campaign_id: int, code: str = "no_answer") -> list[str]:
    """Get Record → Done until nothing is left; the accounts in delivery order."""
    seen = []
    while (delivery := get_record(client, who, campaign_id)) is not None:
        seen.append(account(delivery))
        done(client, who, campaign_id, delivery["record_id"], code=code)
    return seen


def errors(api: TestClient, campaign_id: int) -> dict[str, int]:
    counts: dict[str, int] = api.get(f"/api/v1/campaigns/{campaign_id}/errors").json()["counts"]
    return {reason: n for reason, n in counts.items() if n}


def test_spec_5_end_to_end(api: TestClient, app_client: TestClient, make_user: MakeUser) -> None:
    alice, bob, carol, dave = agents(make_user, "alice", "bob", "carol", "dave")
    gone = make_user("agent", email="gone@example.com", user_id="gone")
    api.post(f"/api/v1/users/{gone.user_id}/deactivate")
    # Accounts A00000..A00009; balance sorts them in a known order (7 * n % 1000).
    owners = [
        "ALICE@example.com",  # A00000 alice, by email in another case
        "bob",  # A00001 bob, by user id
        "alice",  # A00002 alice, by user id: queued after her email-keyed records
        "carol@example.com",  # A00003 carol, who is not in the queue
        "nobody@example.com",  # A00004 an email no user has
        "bob@example.com",  # A00005 bob by email; its owner will change mid-run
        "ghost-7",  # A00006 a user id nobody has
        "",  # A00007 no owner at all
        "gone@example.com",  # A00008 a deactivated user
        "alice@example.com",  # A00009 alice
    ]
    list_id = make_list(api, owned_rows(owners))
    queue_id = make_queue(api, [alice, bob, dave])
    campaign_id = make_campaign(
        api, list_id, queue_id, sort=[{"column": "balance", "descending": True}]
    )
    start(api, campaign_id)

    # The error monitor names every record that cannot be delivered, and why.
    assert errors(api, campaign_id) == {
        "not_in_queue": 1,
        "invalid_email": 1,
        "unknown_user_id": 1,
        "missing_value": 1,
        "inactive_user": 1,
    }
    listed = api.get(
        f"/api/v1/campaigns/{campaign_id}/errors/records", params={"reason": "invalid_email"}
    ).json()
    assert [(r["owner_value"], r["data"]["account"]) for r in listed] == [
        ("nobody@example.com", "A00004")
    ]

    # Mid-run: bob's A00005 is given to alice, and carol joins the queue.
    record_ids = _record_ids(api, list_id)
    changed = api.patch(
        f"/api/v1/contact-lists/{list_id}/records/{record_ids['A00005']}",
        json={"data": {"agent": "alice@example.com"}},
    )
    assert changed.status_code == 200, changed.text
    api.post(f"/api/v1/queues/{queue_id}/members", json={"user_ids": ["carol"]})

    # Alice gets only her records, email-keyed first, each group in sort order
    # (balance descending: A00009=63, A00000=0; then A00002=14).
    assert drain(app_client, alice, campaign_id) == ["A00009", "A00000", "A00002"]
    # Bob still gets A00005: the owner change waits for the recycle.
    assert drain(app_client, bob, campaign_id) == ["A00005", "A00001"]
    # Carol joined the queue after the start: nothing until the recycle.
    assert drain(app_client, carol, campaign_id) == []
    assert drain(app_client, dave, campaign_id) == []

    # An append that fixes the invalid owner makes that record deliverable without recycle.
    report = api.post(
        f"/api/v1/contact-lists/{list_id}/records",
        json={"records": [owned_rows(["dave"], start=4)[0]], "on_duplicate": "update"},
    ).json()
    assert (report["rows_accepted"], report["rows_updated"]) == (1, 1)
    assert drain(app_client, dave, campaign_id) == ["A00004"]
    # So does an edit of the record that fixes its unknown user id.
    fixed = api.patch(
        f"/api/v1/contact-lists/{list_id}/records/{record_ids['A00006']}",
        json={"data": {"agent": "dave"}},
    )
    assert fixed.status_code == 200, fixed.text
    assert "unknown_user_id" not in errors(api, campaign_id)
    assert drain(app_client, dave, campaign_id) == ["A00006"]
    # New rows appended to the list reach their owners without recycle too.
    append(api, list_id, owned_rows(["bob"], start=10))
    assert drain(app_client, bob, campaign_id) == ["A00010"]
    assert "invalid_email" not in errors(api, campaign_id)

    # Recycle: the new owner and the new queue member are honoured, unfinished lists start
    # again from the beginning, and records handled before are marked as such.
    assert api.post(f"/api/v1/campaigns/{campaign_id}/recycle").status_code == 200
    again = get_record(app_client, bob, campaign_id)
    assert again is not None and account(again) == "A00010"
    assert again["already_handled"]["code"] == "no_answer"
    assert drain(app_client, carol, campaign_id) == ["A00003"]
    assert drain(app_client, alice, campaign_id) == ["A00009", "A00005", "A00000", "A00002"]
    assert errors(api, campaign_id) == {"missing_value": 1, "inactive_user": 1}

    progress = api.get(f"/api/v1/campaigns/{campaign_id}/progress").json()
    by_agent = {a["user_id"]: a for a in progress["agents"]}
    assert by_agent["alice"]["total"] == 4 and by_agent["alice"]["handled"] == 4
    assert by_agent["bob"]["delivered"] == 1 and by_agent["bob"]["remaining"] == 2
    assert progress["campaign"]["errors"] == 2
    assert by_agent["gone"]["errors"] == 1


def _record_ids(api: TestClient, list_id: int) -> dict[str, int]:
    records: list[dict[str, Any]] = api.get(
        f"/api/v1/contact-lists/{list_id}/records", params={"limit": 1000}
    ).json()
    return {r["data"]["account"]: r["id"] for r in records}


def test_owner_order_user_id_first(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = make_list(
        api, owned_rows(["alice@example.com", "alice", "alice@example.com", "alice"])
    )
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, [alice]),
        owner_order="user_id_first",
        sort=[{"column": "account"}],
    )
    start(api, campaign_id)
    assert drain(app_client, alice, campaign_id) == ["A00001", "A00003", "A00000", "A00002"]


def test_deactivated_owner_is_not_matched(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    list_id = make_list(api, owned_rows(["alice", "bob"]))
    campaign_id = make_campaign(api, list_id, make_queue(api, [alice, bob]))
    start(api, campaign_id)
    api.post("/api/v1/users/bob/deactivate")
    api.post(f"/api/v1/campaigns/{campaign_id}/recycle")
    assert errors(api, campaign_id) == {"inactive_user": 1}


def test_no_cap_of_200_agents(api: TestClient, app_client: TestClient, db: Any, clock: Any) -> None:
    """No cap of 200 agents : 300 agents, two records each, all delivered."""
    from callhopper.core.users import UserService
    from callhopper.domain.actors import SYSTEM
    from callhopper.security import Argon2PasswordHasher
    from callhopper.store import users
    from callhopper.store.uow import SqlUnitOfWork

    service = UserService(SqlUnitOfWork(db), clock, Argon2PasswordHasher())
    for n in range(300):
        service.create_user(
            SYSTEM,
            email=f"agent{n}@example.com",
            display_name="",
            role="agent",
            password=None,
            user_id=f"ag{n}",
        )
    list_id = make_list(api, owned_rows([f"ag{n % 300}" for n in range(600)]))
    queue = api.post("/api/v1/queues", json={"name": "Big"}).json()
    api.post(
        f"/api/v1/queues/{queue['id']}/members", json={"user_ids": [f"ag{n}" for n in range(300)]}
    )
    campaign_id = make_campaign(api, list_id, queue["id"])
    start(api, campaign_id)
    progress = api.get(f"/api/v1/campaigns/{campaign_id}/progress").json()
    assert len(progress["agents"]) == 300
    assert progress["campaign"]["errors"] == 0 and progress["campaign"]["remaining"] == 600
    with db.read() as session:
        actor = users.actor_of(session, users.get_user(session, "ag299"))
    from callhopper.core.dispensing import Delivery, Dispenser
    from callhopper.store.uow import SqlUnitOfWork

    dispenser = Dispenser(SqlUnitOfWork(db), clock)
    first = dispenser.get_record(actor, campaign_id)
    assert isinstance(first, Delivery)
    # The owner column is not on the agent's form : the record's data says whose.
    assert "agent" not in {f.name for f in first.fields}
    from callhopper.store.models import Record

    with db.read() as session:
        record = session.get(Record, first.record_id)
        assert record is not None and record.data["agent"] == "ag299"


def test_the_error_monitor_shows_an_owner_deactivated_mid_campaign_at_once(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    """The monitor shows each record's reason now, not as of the last snapshot: records of
    an owner deactivated (or taken out of the queue) mid-campaign, which go to nobody else,
    count at once, and count no more once the owner is back."""
    ann, ben = agents(make_user, "ann", "ben")
    list_id = make_list(api, owned_rows(["ann", "ann", "ben", "ben", "ben"]))
    queue_id = make_queue(api, [ann, ben])
    campaign_id = make_campaign(api, list_id, queue_id)
    start(api, campaign_id)
    held = get_record(app_client, ben, campaign_id)
    assert held is not None
    done(app_client, ben, campaign_id, held["record_id"], code="not_interested")  # final
    assert errors(api, campaign_id) == {}

    assert api.post(f"/api/v1/users/{ben.user_id}/deactivate").status_code == 200
    assert errors(api, campaign_id) == {"inactive_user": 2}
    listed = api.get(
        f"/api/v1/campaigns/{campaign_id}/errors/records", params={"reason": "inactive_user"}
    ).json()
    assert [(r["owner_user_id"], r["reason"]) for r in listed] == [
        (ben.user_id, "inactive_user")
    ] * 2

    removed = api.post(
        f"/api/v1/queues/{queue_id}/members/remove", json={"user_ids": [ann.user_id]}
    )
    assert removed.is_success, removed.text
    assert errors(api, campaign_id) == {"inactive_user": 2, "not_in_queue": 2}

    assert api.post(f"/api/v1/users/{ben.user_id}/activate").status_code == 200
    assert errors(api, campaign_id) == {"not_in_queue": 2}
