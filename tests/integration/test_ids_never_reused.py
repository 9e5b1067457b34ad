"""An id, once given, is never given again: a new campaign (list, queue, …) never takes a
deleted one's id, so its history and audit entries are its own, on both databases and
across the migration that brought this to existing SQLite databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callhopper.store import migrate
from callhopper.store.db import Database
from tests.campaign_helpers import agents, make_campaign, make_list, make_queue, owned_rows
from tests.support import MakeUser

# What to create and delete, for each kind of thing with its own id: (collection, body).
KINDS: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "contact list": (
        "/api/v1/contact-lists",
        lambda n: {"name": f"List {n}", "columns": ["phone"], "phone_columns": ["phone"]},
    ),
    "queue": ("/api/v1/queues", lambda n: {"name": f"Queue {n}"}),
    "skill": ("/api/v1/skills", lambda n: {"name": f"Skill {n}", "expression": 'state == "AZ"'}),
    "dnc list": ("/api/v1/dnc-lists", lambda n: {"name": f"DNC {n}"}),
}


def _audited_ids(api: TestClient, target_type: str) -> list[str]:
    entries = api.get("/api/v1/audit", params={"target_type": target_type}).json()
    return [e["target_id"] for e in entries]


def test_a_deleted_campaigns_id_goes_to_no_new_campaign(
    api: TestClient, make_user: MakeUser
) -> None:
    list_id = make_list(api, owned_rows(["a"]))
    queue_id = make_queue(api, agents(make_user, "a"))
    first = make_campaign(api, list_id, queue_id, name="First")
    assert api.delete(f"/api/v1/campaigns/{first}").status_code == 204

    second = make_campaign(api, list_id, queue_id, name="Second")

    assert second > first
    # The deleted campaign's history stays its own: nothing of it reads as the new one's.
    assert str(second) not in _audited_ids(api, "campaign")[1:]


@pytest.mark.parametrize("kind", KINDS)
def test_a_deleted_id_goes_to_nothing_new(api: TestClient, kind: str) -> None:
    collection, body = KINDS[kind]
    created = api.post(collection, json=body(1))
    assert created.status_code == 201, created.text
    first = int(created.json()["id"])
    assert api.delete(f"{collection}/{first}").status_code == 204

    again = api.post(collection, json=body(2))
    assert again.status_code == 201, again.text
    assert int(again.json()["id"]) > first


def test_deleted_records_ids_go_to_no_new_record(api: TestClient) -> None:
    list_id = make_list(api, owned_rows(["a", "b"]))
    records = api.get(f"/api/v1/contact-lists/{list_id}/records").json()
    highest = max(int(r["id"]) for r in records)
    assert api.delete(f"/api/v1/contact-lists/{list_id}").status_code == 204

    list_id = make_list(api, owned_rows(["c"]), name="Again")
    records = api.get(f"/api/v1/contact-lists/{list_id}/records").json()
    assert min(int(r["id"]) for r in records) > highest


def _sqlite_autoincrement_tables(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'"
        ).all()
    return {str(name) for (name,) in rows}


def test_the_migration_keeps_rows_and_keys_and_skips_ids_already_given(
    db: Database, api: TestClient, make_user: MakeUser
) -> None:
    """Rows made before the migration survive it with their foreign keys, and ids that the
    database knew before (deleted rows, named in the audit log) are not handed out again."""
    list_id = make_list(api, owned_rows(["a", "b", "c"]))
    queue_id = make_queue(api, agents(make_user, "a"))
    kept = make_campaign(api, list_id, queue_id, name="Kept")
    deleted = make_campaign(api, list_id, queue_id, name="Deleted")
    assert api.delete(f"/api/v1/campaigns/{deleted}").status_code == 204
    before = _counts(db)

    migrate.downgrade(db, "0014")  # the schema as an older callhopper left it
    if db.dialect == "sqlite":
        assert _sqlite_autoincrement_tables(db) == set()
    assert _counts(db) == before
    migrate.upgrade(db)

    assert _counts(db) == before
    if db.dialect == "sqlite":
        assert "campaigns" in _sqlite_autoincrement_tables(db)
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    assert api.get(f"/api/v1/campaigns/{kept}").json()["list_id"] == list_id
    # The deleted campaign's id, which only the audit log still names, is not given again.
    new = make_campaign(api, list_id, queue_id, name="New")
    assert new > deleted


def _counts(db: Database) -> dict[str, int]:
    tables = ("campaigns", "contact_lists", "records", "record_phones", "campaign_records")
    tables += ("campaign_agents", "queues", "queue_members", "users", "audit_log")
    with db.engine.connect() as conn:
        return {
            t: int(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()) for t in tables
        }
