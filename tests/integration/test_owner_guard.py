"""Agents never change a lead's owner, through any endpoint.

The test walks every route of the application (its OpenAPI document), so a route
added later is tried too: each is called by an agent, on every record, with bodies that
try every way an owner could be named. Afterwards no owner has changed and no owner
change was audited.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from callhopper.store.db import Database
from callhopper.store.models import AuditEntry
from tests.campaign_helpers import agents, make_campaign, make_list, make_queue, owned_rows, phone
from tests.integration.test_lead_owners import owners, record_ids, set_owners
from tests.support import MakeUser

API = "/api/v1"

#: Bodies naming an owner in every shape an endpoint could take one.
OWNER_BODIES: list[dict[str, Any]] = [
    {"owner": "ann", "reason": "mine now"},
    {"owner": None},
    {"owner_user_id": "ann", "action": "set_owner", "dry_run": False},
    {"action": "clear_owner", "dry_run": False},
    {"action": "distribute", "agents": ["ann"], "dry_run": False},
    {"data": {"owner": "ann", "agent": "ann", "@owner": "ann"}},
    {"data": {"agent": "ann"}},
    {"code": "interested", "fields": {"owner": "ann"}},
    {"code": "interested", "fields": {"agent": "ann"}},
    {"code": "interested", "note": "set owner ann", "fields": {}},
    {"user_id": "ann", "owner": "ann", "list_id": 0},
    {
        "list_id": 0,
        "owner": "ann",
        "leads": [{"account": "Z9", "phone": phone(90), "user_id": "ann"}],
    },
    {"user_ids": ["ann"]},
    {"action": "do_not_call"},
    {},
]


def test_no_endpoint_lets_an_agent_change_a_lead_owner(
    api: TestClient, db: Database, make_user: MakeUser
) -> None:
    ann, ben = agents(make_user, "ann", "ben")
    list_id = make_list(api, owned_rows(["", "", ""]))
    ids = record_ids(db, list_id)
    before = {ids[0]: "ben", ids[1]: "ann", ids[2]: None}
    set_owners(db, before)
    queue_id = make_queue(api, [ann, ben])
    campaign_id = make_campaign(
        api, list_id, queue_id, agent_owned_column=None, enforce_lead_ownership=True
    )
    assert api.post(f"{API}/campaigns/{campaign_id}/start").status_code == 200
    for agent in (ann, ben):
        login = api.post(f"{API}/agent/campaigns/{campaign_id}/login", headers=agent.headers)
        assert login.status_code == 204, login.text
    assert api.post(f"{API}/campaigns/{campaign_id}/hopper/load").status_code == 200
    got = api.post(f"{API}/agent/campaigns/{campaign_id}/get-record", headers=ann.headers)
    assert got.json()["delivery"]["record_id"] == ids[1]  # ann holds her own lead

    values = {
        "list_id": [str(list_id)],
        "campaign_id": [str(campaign_id)],
        "record_id": [str(i) for i in ids],
        "user_id": ["ann", "ben"],
    }
    tried = 0
    paths = api.get("/openapi.json").json()["paths"]  # every HTTP route of the application
    for template, operations in paths.items():
        names = re.findall(r"{(\w+)}", template)
        choices = [values.get(name, ["1"]) for name in names]
        for combo, method in itertools.product(itertools.product(*choices), operations):
            path = template
            for name, value in zip(names, combo, strict=True):
                path = path.replace("{" + name + "}", value)
            first = api.request(method.upper(), path, json={}, headers=ann.headers)
            tried += 1
            if first.status_code == 403 or method not in ("post", "put", "patch"):
                continue  # the right is checked before the body is read
            for body in OWNER_BODIES:
                body = {k: (list_id if k == "list_id" else v) for k, v in body.items()}
                api.request(method.upper(), path, json=body, headers=ann.headers)
                tried += 1
    assert tried > 300

    assert owners(db, list_id) == before
    with db.read() as session:
        changes = session.scalars(select(AuditEntry).where(AuditEntry.action == "record.owner"))
        assert list(changes) == []
