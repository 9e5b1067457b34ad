"""Lead owners set by admins: one lead, mass edit, staleness rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.core import owners as owners_core
from callhopper.core.staleness import StalenessRunner
from callhopper.domain.actors import SYSTEM
from callhopper.domain.errors import InvalidInput
from callhopper.domain.lead_owners import MAX_MASS_EDIT_RECORDS, MassAction, MassEdit
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.models import AuditEntry, HopperEntry, Record, StalenessRule, User
from callhopper.store.uow import SqlUnitOfWork
from tests.campaign_helpers import agents, make_campaign, make_list, make_queue, owned_rows
from tests.support import MakeUser, Person

DAY = timedelta(days=1)


@pytest.fixture
def client(
    settings: Settings, db: Database, clock: FrozenClock, admin: Person
) -> Iterator[TestClient]:
    """An admin's API client."""
    app = create_app(settings, db, clock)
    with TestClient(app) as test_client:
        test_client.headers.update(admin.headers)
        yield test_client


# --- helpers -------------------------------------------------------------------------------------


def leads(client: TestClient, count: int, *, name: str = "Leads", start: int = 0) -> int:
    """A list of ``count`` leads, balances 0, 7, 14, … (``balance`` is a number column)."""
    return make_list(client, owned_rows(["x"] * count, start=start), name=name)


def record_ids(db: Database, list_id: int) -> list[int]:
    with db.read() as session:
        return list(
            session.scalars(select(Record.id).where(Record.list_id == list_id).order_by(Record.id))
        )


def pk(db: Database, user_id: str) -> int:
    with db.read() as session:
        found = session.scalar(select(User.id).where(User.user_id == user_id))
    assert found is not None
    return found


def set_owners(db: Database, owners: dict[int, str | None]) -> None:
    """Set ``records.owner_id`` directly, as the agent workflow would."""
    with db.write() as session:
        for record_id, user_id in owners.items():
            owner = None
            if user_id is not None:
                owner = session.scalar(select(User.id).where(User.user_id == user_id))
            session.execute(update(Record).where(Record.id == record_id).values(owner_id=owner))


def set_status(
    db: Database, record_id: int, *, code: str | None = None, called_at: datetime | None = None
) -> None:
    with db.write() as session:
        session.execute(
            update(Record)
            .where(Record.id == record_id)
            .values(last_code=code, last_called_at=called_at)
        )


def owners(db: Database, list_id: int) -> dict[int, str | None]:
    with db.read() as session:
        return dict(
            session.execute(
                select(Record.id, User.user_id)
                .outerjoin(User, User.id == Record.owner_id)
                .where(Record.list_id == list_id)
                .order_by(Record.id)
            ).all()
        )


def owner_audit(db: Database) -> list[AuditEntry]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "record.owner")
                .order_by(AuditEntry.id)
            )
        )


def mass(client: TestClient, list_id: int, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/contact-lists/{list_id}/mass-edit", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- one lead ------------------------------------------------------------------------------------


def test_an_admin_assigns_reassigns_and_clears_one_owner_with_an_audit_entry_each(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    ann, ben = agents(make_user, "ann", "ben")
    list_id = leads(client, 2)
    record_id = record_ids(db, list_id)[0]
    url = f"/api/v1/contact-lists/{list_id}/records/{record_id}/owner"

    for owner in ("ann", "ben", None):
        response = client.put(url, json={"owner": owner, "reason": "territory change"})
        assert response.status_code == 200, response.text
        assert response.json()["owner_user_id"] == owner
        record = client.get(f"/api/v1/contact-lists/{list_id}/records/{record_id}").json()
        assert record["owner_user_id"] == owner

    entries = owner_audit(db)
    assert [(e.before, e.after) for e in entries] == [
        ({"owner_user_id": None}, {"owner_user_id": "ann"}),
        ({"owner_user_id": "ann"}, {"owner_user_id": "ben"}),
        ({"owner_user_id": "ben"}, {"owner_user_id": None}),
    ]
    assert {(e.target_type, e.target_id, e.reason) for e in entries} == {
        ("record", str(record_id), "territory change")
    }
    assert ann.user_id != ben.user_id
    # Setting the owner it already has changes nothing.
    assert client.put(url, json={"owner": None}).status_code == 200
    assert len(owner_audit(db)) == 3


@pytest.mark.parametrize("who", ["gone", "super", "nobody"])
def test_a_new_owner_must_be_an_active_agent(
    client: TestClient, db: Database, make_user: MakeUser, who: str
) -> None:
    gone = make_user("agent", user_id="gone")
    make_user("supervisor", user_id="super")
    assert client.post(f"/api/v1/users/{gone.user_id}/deactivate").status_code == 200
    list_id = leads(client, 1)
    record_id = record_ids(db, list_id)[0]

    response = client.put(
        f"/api/v1/contact-lists/{list_id}/records/{record_id}/owner", json={"owner": who}
    )

    assert response.status_code == 422, response.text
    assert repr(who) in response.json()["error"]["message"]
    assert owners(db, list_id) == {record_id: None}


def test_an_unknown_record_is_404(client: TestClient, db: Database, make_user: MakeUser) -> None:
    agents(make_user, "ann")
    list_id = leads(client, 1)
    response = client.put(
        f"/api/v1/contact-lists/{list_id}/records/999999/owner", json={"owner": "ann"}
    )
    assert response.status_code == 404


# --- mass edit -----------------------------------------------------------------------------------


def test_a_dry_run_counts_and_the_real_run_changes_the_same_leads(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    agents(make_user, "ann", "ben")
    list_id = leads(client, 10)  # balances 0, 7, …, 63
    ids = record_ids(db, list_id)
    set_owners(db, {ids[8]: "ben", ids[9]: "ann"})
    body = {"filter": "balance >= 28", "action": "set_owner", "owner_user_id": "ben"}

    dry = mass(client, list_id, **body, dry_run=True)
    sample = [
        {"record_id": i, "owner_user_id": owner, "new_owner_user_id": "ben"}
        for i, owner in [*((ids[n], None) for n in range(4, 8)), (ids[9], "ann")]
    ]
    assert dry == {
        "matched": 6,
        "changed": 5,
        "per_agent": None,
        "dry_run": True,
        "sample": sample,
    }
    assert owners(db, list_id)[ids[4]] is None
    assert owner_audit(db) == []

    real = mass(client, list_id, **body, dry_run=False, note="ann moved to renewals")
    assert real == {
        "matched": 6,
        "changed": 5,
        "per_agent": None,
        "dry_run": False,
        "sample": [],
    }
    assert owners(db, list_id) == {i: ("ben" if n >= 4 else None) for n, i in enumerate(ids)}


def test_a_dry_run_shows_the_first_twenty_leads_that_would_change(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    agents(make_user, "ann")
    list_id = leads(client, 25)
    ids = record_ids(db, list_id)
    set_owners(db, {ids[0]: "ann"})

    dry = mass(client, list_id, action="set_owner", owner_user_id="ann", dry_run=True)

    assert (dry["matched"], dry["changed"]) == (25, 24)
    assert [s["record_id"] for s in dry["sample"]] == ids[1:21]
    assert {(s["owner_user_id"], s["new_owner_user_id"]) for s in dry["sample"]} == {(None, "ann")}


def test_every_change_is_audited_per_record_with_the_note(
    client: TestClient, db: Database, make_user: MakeUser, admin: Person
) -> None:
    agents(make_user, "ann", "ben")
    list_id = leads(client, 5)
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids[:3], "ann"))

    result = mass(
        client,
        list_id,
        owner="ann",
        action="set_owner",
        owner_user_id="ben",
        dry_run=False,
        note="ann left",
    )

    assert result["changed"] == 3
    entries = owner_audit(db)
    assert [int(e.target_id) for e in entries] == ids[:3]
    for entry in entries:
        assert entry.before == {"owner_user_id": "ann"}
        assert entry.after == {"owner_user_id": "ben"}
        assert entry.reason == "mass edit: ann left"
        assert entry.target_type == "record"
        assert entry.actor == admin.user_id
    with db.read() as session:
        summary = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "lead.mass_edit")
        ).one()
    assert summary.target_id == str(list_id)
    assert summary.after is not None
    assert (summary.after["matched"], summary.after["changed"]) == (3, 3)


def test_selection_by_current_owner_and_filter(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    agents(make_user, "ann", "ben", "cat")
    list_id = leads(client, 6)  # balances 0, 7, 14, 21, 28, 35
    ids = record_ids(db, list_id)
    set_owners(db, {ids[0]: "ann", ids[1]: "ann", ids[2]: "ben"})

    unowned = mass(
        client, list_id, owner="none", action="set_owner", owner_user_id="cat", dry_run=True
    )
    assert unowned["matched"] == 3
    anns_cheap = mass(
        client, list_id, owner="ann", filter="balance < 5", action="clear_owner", dry_run=False
    )
    assert (anns_cheap["matched"], anns_cheap["changed"]) == (1, 1)
    by_owner_property = mass(
        client, list_id, filter='@owner == "ben"', action="clear_owner", dry_run=False
    )
    assert by_owner_property["changed"] == 1
    assert owners(db, list_id) == {
        ids[0]: None,
        ids[1]: "ann",
        ids[2]: None,
        ids[3]: None,
        ids[4]: None,
        ids[5]: None,
    }
    # No selector at all: every lead of the list.
    everyone = mass(client, list_id, action="clear_owner", dry_run=True)
    assert (everyone["matched"], everyone["changed"]) == (6, 1)


def test_distribute_spreads_leads_evenly_round_robin_in_record_order(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    agents(make_user, "gone", "ann", "ben", "cat")
    list_id = leads(client, 12)
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids[:10], "gone"))
    body = {"owner": "gone", "action": "distribute", "agents": ["ann", "ben", "cat"]}

    dry = mass(client, list_id, **body, dry_run=True)
    assert dry["per_agent"] == {"ann": 4, "ben": 3, "cat": 3}
    assert (dry["matched"], dry["changed"], dry["dry_run"]) == (10, 10, True)
    assert [(s["owner_user_id"], s["new_owner_user_id"]) for s in dry["sample"]] == [
        ("gone", agent) for agent in ["ann", "ben", "cat"] * 3 + ["ann"]
    ]
    real = mass(client, list_id, **body, dry_run=False, note="gone left")

    assert real["per_agent"] == {"ann": 4, "ben": 3, "cat": 3}
    assigned = owners(db, list_id)
    assert [assigned[i] for i in ids] == [
        "ann",
        "ben",
        "cat",
        "ann",
        "ben",
        "cat",
        "ann",
        "ben",
        "cat",
        "ann",
        None,
        None,
    ]
    assert len(owner_audit(db)) == 10


def test_distribute_counts_leads_already_with_their_agent_as_unchanged(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    agents(make_user, "ann", "ben")
    list_id = leads(client, 4)
    ids = record_ids(db, list_id)
    set_owners(db, {ids[0]: "ann", ids[1]: "ann"})

    result = mass(client, list_id, action="distribute", agents=["ann", "ben"], dry_run=False)

    assert (result["matched"], result["changed"]) == (4, 3)
    assert [owners(db, list_id)[i] for i in ids] == ["ann", "ben", "ann", "ben"]
    assert len(owner_audit(db)) == 3


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"action": "distribute", "agents": ["ann", "gone"]}, "'gone'"),
        ({"action": "distribute", "agents": ["ann", "super"]}, "'super'"),
        ({"action": "set_owner", "owner_user_id": "nobody"}, "'nobody'"),
        ({"action": "set_owner"}, "owner_user_id"),
        ({"action": "clear_owner", "agents": ["ann"]}, "agents"),
        ({"action": "distribute", "agents": []}, "agent"),
        ({"action": "clear_owner", "filter": 'stat != "AZ"'}, "'stat'"),
        ({"action": "clear_owner", "filter": "balance >="}, "filter"),
        ({"action": "clear_owner", "owner": "nobody"}, "'nobody'"),
    ],
)
def test_an_invalid_mass_edit_changes_nothing(
    client: TestClient, db: Database, make_user: MakeUser, body: dict[str, Any], named: str
) -> None:
    agents(make_user, "ann", "gone")
    make_user("supervisor", user_id="super")
    assert client.post("/api/v1/users/gone/deactivate").status_code == 200
    list_id = leads(client, 5)
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids, "ann"))
    before = owners(db, list_id)

    response = client.post(
        f"/api/v1/contact-lists/{list_id}/mass-edit", json={**body, "dry_run": False}
    )

    assert response.status_code == 422, response.text
    assert named in response.json()["error"]["message"]
    assert owners(db, list_id) == before
    assert owner_audit(db) == []


def test_a_mass_edit_failing_after_the_update_leaves_nothing_behind(
    client: TestClient,
    db: Database,
    clock: FrozenClock,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agents(make_user, "ann", "ben")
    list_id = leads(client, 6)
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids, "ann"))

    def broken_audit(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    # The summary entry is written after the leads changed: failing there must undo them.
    edit = MassEdit(action=MassAction.DISTRIBUTE, agents=("ann", "ben"))
    with pytest.raises(RuntimeError), SqlUnitOfWork(db).write() as tx:
        monkeypatch.setattr(tx.audit, "add", broken_audit)
        owners_core.mass_edit(tx, SYSTEM, list_id, edit, dry_run=False, now=clock.now())

    assert set(owners(db, list_id).values()) == {"ann"}
    assert owner_audit(db) == []


def test_a_mass_edit_is_capped(
    client: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    agents(make_user, "ann")
    list_id = leads(client, 4)
    edit = MassEdit(action=MassAction.SET_OWNER, owner_user_id="ann")

    with pytest.raises(InvalidInput, match="matches 4 leads"), SqlUnitOfWork(db).write() as tx:
        owners_core.mass_edit(tx, SYSTEM, list_id, edit, dry_run=False, now=clock.now(), limit=3)
    with SqlUnitOfWork(db).write() as tx:
        done = owners_core.mass_edit(
            tx, SYSTEM, list_id, edit, dry_run=False, now=clock.now(), limit=4
        )

    assert done.changed == 4
    assert MAX_MASS_EDIT_RECORDS == 1_000_000


def test_a_changed_owner_takes_the_lead_out_of_the_hopper(
    client: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    ann, ben = agents(make_user, "ann", "ben")
    list_id = leads(client, 3)
    campaign_id = make_campaign(
        client, list_id, make_queue(client, [ann, ben]), agent_owned_column=None
    )
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids, "ann"))
    with db.write() as session:
        session.add_all(
            HopperEntry(
                campaign_id=campaign_id,
                record_id=r,
                owner_id=pk(db, "ann"),
                position=n,
                loaded_at=clock.now(),
            )
            for n, r in enumerate(ids)
        )

    mass(
        client,
        list_id,
        filter="balance > 0",
        action="set_owner",
        owner_user_id="ben",
        dry_run=False,
    )

    with db.read() as session:
        staged = set(session.scalars(select(HopperEntry.record_id)))
    assert staged == {ids[0]}


def test_agents_cannot_change_owners_anywhere(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    ann, _ben = agents(make_user, "ann", "ben")
    list_id = leads(client, 2)
    record_id = record_ids(db, list_id)[0]
    set_owners(db, {record_id: "ben"})
    rule = client.post("/api/v1/staleness-rules", json={"name": "r", "owner_deactivated": True})
    rule_id = rule.json()["id"]
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PUT", f"/contact-lists/{list_id}/records/{record_id}/owner", {"owner": "ann"}),
        ("PUT", f"/contact-lists/{list_id}/records/{record_id}/owner", {"owner": None}),
        (
            "POST",
            f"/contact-lists/{list_id}/mass-edit",
            {"action": "set_owner", "owner_user_id": "ann", "dry_run": False},
        ),
        ("POST", f"/contact-lists/{list_id}/mass-edit", {"action": "clear_owner", "dry_run": True}),
        (
            "POST",
            f"/contact-lists/{list_id}/mass-edit",
            {"action": "distribute", "agents": ["ann"], "dry_run": False},
        ),
        ("PATCH", f"/contact-lists/{list_id}/records/{record_id}", {"data": {"agent": "ann"}}),
        ("PATCH", f"/contact-lists/{list_id}/records/{record_id}", {"data": {"owner": "ann"}}),
        ("GET", "/staleness-rules", None),
        ("POST", "/staleness-rules", {"name": "mine", "statuses": ["sale"]}),
        ("PATCH", f"/staleness-rules/{rule_id}", {"enabled": False}),
        ("POST", f"/staleness-rules/{rule_id}/run", None),
        ("DELETE", f"/staleness-rules/{rule_id}", None),
        ("POST", "/inbound-routes", {"number": "(480) 234-5678", "fallback": "voicemail"}),
    ]

    for method, path, body in attempts:
        response = client.request(method, f"/api/v1{path}", json=body, headers=ann.headers)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "permission_denied"

    assert owners(db, list_id)[record_id] == "ben"
    assert owner_audit(db) == []


# --- staleness rules -----------------------------------------------------------------------------


def make_rule(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/staleness-rules", json={"name": "stale", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def run(client: TestClient, rule_id: int) -> int:
    response = client.post(f"/api/v1/staleness-rules/{rule_id}/run")
    assert response.status_code == 200, response.text
    return int(response.json()["released"])


def test_a_status_rule_releases_owned_leads_in_those_statuses(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    agents(make_user, "ann")
    list_id = leads(client, 5)
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids[:4], "ann"))
    for record_id, code in zip(
        ids, ["not_interested", "wrong_number", "sale", None, "sale"], strict=True
    ):
        set_status(db, record_id, code=code)
    rule = make_rule(client, statuses=["not_interested", "wrong_number"])

    assert run(client, rule["id"]) == 2

    assert owners(db, list_id) == {
        ids[0]: None,
        ids[1]: None,
        ids[2]: "ann",
        ids[3]: "ann",
        ids[4]: None,
    }


def test_a_not_called_rule_releases_leads_not_called_for_n_days(
    client: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    agents(make_user, "ann")
    list_id = leads(client, 4)  # created at T0
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids[:3], "ann"))  # ids[3]: unowned, so never released
    clock.advance(40 * DAY)
    set_status(db, ids[0], code="no_answer", called_at=clock.now() - 31 * DAY)  # stale
    set_status(db, ids[1], code="no_answer", called_at=clock.now() - 29 * DAY)  # recent
    # ids[2]: never called, created 40 days ago: stale.
    rule = make_rule(client, not_called_days=30)

    assert run(client, rule["id"]) == 2
    assert [owners(db, list_id)[i] for i in ids] == [None, "ann", None, None]


def test_a_never_called_lead_is_stale_only_once_it_is_n_days_old(
    client: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    agents(make_user, "ann")
    list_id = leads(client, 2)
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids, "ann"))
    rule = make_rule(client, not_called_days=30)

    clock.advance(29 * DAY)
    assert run(client, rule["id"]) == 0
    clock.advance(2 * DAY)
    assert run(client, rule["id"]) == 2


def test_an_owner_deactivated_rule_releases_the_leads_of_agents_who_left(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    agents(make_user, "ann", "gone")
    list_id = leads(client, 4)
    ids = record_ids(db, list_id)
    set_owners(db, {ids[0]: "gone", ids[1]: "gone", ids[2]: "ann"})
    assert client.post("/api/v1/users/gone/deactivate").status_code == 200
    rule = make_rule(client, owner_deactivated=True)

    assert run(client, rule["id"]) == 2

    assert owners(db, list_id) == {ids[0]: None, ids[1]: None, ids[2]: "ann", ids[3]: None}


def test_conditions_combine_with_or_and_a_rule_can_be_scoped_to_one_list(
    client: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    agents(make_user, "ann", "gone")
    first = leads(client, 3, name="First")
    second = leads(client, 3, name="Second", start=100)
    a, b = record_ids(db, first), record_ids(db, second)
    set_owners(db, {a[0]: "gone", a[1]: "ann", a[2]: "ann", b[0]: "gone", b[1]: "ann"})
    assert client.post("/api/v1/users/gone/deactivate").status_code == 200
    set_status(db, a[1], code="dnc", called_at=clock.now())
    set_status(db, b[1], code="dnc", called_at=clock.now())
    scoped = make_rule(client, list_id=first, statuses=["dnc"], owner_deactivated=True)

    assert run(client, scoped["id"]) == 2

    assert owners(db, first) == {a[0]: None, a[1]: None, a[2]: "ann"}
    assert owners(db, second) == {b[0]: "gone", b[1]: "ann", b[2]: None}


def test_a_run_is_audited_per_lead_and_as_a_whole(
    client: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    agents(make_user, "ann")
    list_id = leads(client, 3)
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids, "ann"))
    set_status(db, ids[0], code="sale")
    set_status(db, ids[2], code="sale")
    rule = make_rule(client, name="closed deals", statuses=["sale"])

    assert run(client, rule["id"]) == 2

    entries = owner_audit(db)
    assert [int(e.target_id) for e in entries] == [ids[0], ids[2]]
    assert {e.reason for e in entries} == {"staleness rule closed deals"}
    assert all(e.before == {"owner_user_id": "ann"} for e in entries)
    assert all(e.after == {"owner_user_id": None} for e in entries)
    with db.read() as session:
        runs = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "staleness_rule.run")
        ).all()
    assert [(r.target_id, r.after) for r in runs] == [(str(rule["id"]), {"released": 2})]
    shown = client.get(f"/api/v1/staleness-rules/{rule['id']}").json()
    assert shown["last_run_at"] is not None
    assert datetime.fromisoformat(shown["last_run_at"]) == clock.now()
    # A second run finds nothing more.
    assert run(client, rule["id"]) == 0


def test_run_due_runs_enabled_rules_every_n_minutes(
    client: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    agents(make_user, "ann")
    list_id = leads(client, 4)
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids, "ann"))
    hourly = make_rule(client, name="hourly", statuses=["sale"], every_minutes=60)
    make_rule(client, name="off", statuses=["dnc"], enabled=False)
    set_status(db, ids[0], code="sale")
    set_status(db, ids[1], code="dnc")

    assert owners_core.run_due(SqlUnitOfWork(db), SYSTEM, clock.now()) == {hourly["id"]: 1}
    set_status(db, ids[2], code="sale")
    clock.advance(timedelta(minutes=59))
    assert owners_core.run_due(SqlUnitOfWork(db), SYSTEM, clock.now()) == {}
    clock.advance(timedelta(minutes=1))
    assert owners_core.run_due(SqlUnitOfWork(db), SYSTEM, clock.now()) == {hourly["id"]: 1}
    assert owners_core.run_due(SqlUnitOfWork(db), SYSTEM, clock.now()) == {}

    assert [owners(db, list_id)[i] for i in ids] == [None, "ann", None, "ann"]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(StalenessRule)) == 2


def test_the_staleness_runner_runs_due_rules_until_stopped(
    client: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    agents(make_user, "ann")
    list_id = leads(client, 2)
    ids = record_ids(db, list_id)
    set_owners(db, dict.fromkeys(ids, "ann"))
    set_status(db, ids[1], code="sale")
    make_rule(client, statuses=["sale"])
    stop = threading.Event()
    runner = StalenessRunner(SqlUnitOfWork(db), clock)
    thread = threading.Thread(target=runner.run_forever, args=(stop, 0.02))

    thread.start()
    try:
        deadline = time.monotonic() + 10
        while owners(db, list_id)[ids[1]] is not None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=10)

    assert not thread.is_alive()
    assert owners(db, list_id) == {ids[0]: "ann", ids[1]: None}


def test_staleness_rules_crud(client: TestClient, make_user: MakeUser) -> None:
    list_id = leads(client, 1)
    rule = make_rule(
        client, name="old", list_id=list_id, statuses=["sale", " sale"], not_called_days=30
    )
    assert rule["statuses"] == ["sale"]
    assert rule["every_minutes"] == 60 and rule["enabled"] is True
    assert rule["next_run_at"] == rule["created_at"]

    changed = client.patch(
        f"/api/v1/staleness-rules/{rule['id']}",
        json={"list_id": None, "not_called_days": None, "every_minutes": 15},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["list_id"], changed.json()["not_called_days"]) == (None, None)
    assert changed.json()["statuses"] == ["sale"]
    assert [r["name"] for r in client.get("/api/v1/staleness-rules").json()] == ["old"]

    no_condition = client.patch(f"/api/v1/staleness-rules/{rule['id']}", json={"statuses": []})
    assert no_condition.status_code == 422
    assert "at least one condition" in no_condition.json()["error"]["message"]
    duplicate = client.post("/api/v1/staleness-rules", json={"name": "old", "statuses": ["x"]})
    assert duplicate.status_code == 409
    unknown_list = client.post(
        "/api/v1/staleness-rules", json={"name": "n", "list_id": 999, "statuses": ["x"]}
    )
    assert unknown_list.status_code == 404

    assert client.delete(f"/api/v1/staleness-rules/{rule['id']}").status_code == 204
    assert client.get(f"/api/v1/staleness-rules/{rule['id']}").status_code == 404
    assert client.post(f"/api/v1/staleness-rules/{rule['id']}/run").status_code == 404


def test_a_stopped_runner_returns_at_once(db: Database, clock: FrozenClock) -> None:
    runner = StalenessRunner(SqlUnitOfWork(db), clock, poll_s=3600)
    thread = threading.Thread(target=runner.run)
    thread.start()
    runner.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    with pytest.raises(ValueError, match="poll_s"):
        StalenessRunner(SqlUnitOfWork(db), clock, poll_s=0)


def test_the_runs_of_staleness_rules_are_listed_newest_first_and_outlive_their_rule(
    client: TestClient,
) -> None:
    ids = [
        client.post("/api/v1/staleness-rules", json={"name": n, "owner_deactivated": True}).json()[
            "id"
        ]
        for n in ("A", "B")
    ]
    for rule_id in (ids[0], ids[1], ids[0]):
        assert client.post(f"/api/v1/staleness-rules/{rule_id}/run").status_code == 200
    runs = client.get("/api/v1/staleness-runs").json()
    assert [r["rule_id"] for r in runs] == [ids[0], ids[1], ids[0]]
    assert {r["released"] for r in runs} == {0}
    assert runs[1]["reason"] == "staleness rule B"
    one = client.get(f"/api/v1/staleness-runs?rule_id={ids[0]}&limit=1").json()
    assert [r["rule_id"] for r in one] == [ids[0]] and one[0]["at"] == runs[0]["at"]
    assert client.get("/api/v1/staleness-runs?rule_id=999999").status_code == 404
    assert client.get("/api/v1/staleness-runs?limit=0").status_code == 422
    assert client.delete(f"/api/v1/staleness-rules/{ids[1]}").status_code == 204
    assert len(client.get("/api/v1/staleness-runs").json()) == 3
