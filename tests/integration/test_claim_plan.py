"""The claim statement walks its index; it never scans the records tables (STYLE: EXPLAIN test)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from callhopper.clock import FrozenClock
from callhopper.domain.calling_window import CallingWindow
from callhopper.store.claims.statements import ClaimRequest, claim_params, claim_statement
from callhopper.store.db import Database
from tests.campaign_helpers import agents, make_campaign, make_list, make_queue, owned_rows, start
from tests.support import MakeUser


def plan(db: Database, owned: bool, request: ClaimRequest) -> str:
    with db.write() as session:
        if db.dialect == "postgresql":
            session.execute(text("ANALYZE"))
            rows = session.execute(
                claim_statement(db.dialect, owned, prefix="EXPLAIN (FORMAT JSON) "),
                claim_params(request),
            ).scalar_one()
            return json.dumps(rows)
        rows = session.execute(
            claim_statement(db.dialect, owned, prefix="EXPLAIN QUERY PLAN "),
            claim_params(request),
        ).all()
        return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize("owned", [True, False], ids=["agent-owned", "pool"])
def test_claim_uses_its_index(
    api: TestClient, db: Database, make_user: MakeUser, clock: FrozenClock, owned: bool
) -> None:
    people = agents(make_user, *(f"a{n}" for n in range(40)))
    rows = owned_rows([f"a{n % 40}" for n in range(4000)])
    list_id = make_list(api, [])
    for start_at in range(0, len(rows), 2000):
        api.post(
            f"/api/v1/contact-lists/{list_id}/records",
            json={"records": rows[start_at : start_at + 2000]},
        )
    # A pool campaign (no agent-owned column) gives any record to any agent of its queue.
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, people),
        sort=[{"column": "balance"}],
        agent_owned_column="agent" if owned else None,
    )
    start(api, campaign_id)
    now = clock.now()
    request = ClaimRequest(
        campaign_id=campaign_id,
        agent_id=2,
        owned=owned,
        now=now,
        lease_until=now,
        zones=sorted(CallingWindow(start="00:00", end="24:00").open_zones(now)),
        pass_no=1,
    )
    text_plan = plan(db, owned, request)
    # PostgreSQL has indexes of its own for records without an owner snapshot; SQLite walks
    # the same indexes for both (``agent_id IS NULL`` is an equality to it).
    suffix = "_pool" if not owned and db.dialect == "postgresql" else ""
    indexes = {f"ix_campaign_records_{name}{suffix}" for name in ("fresh", "retry", "blocked")}
    if db.dialect == "postgresql":
        nodes = list(_nodes(json.loads(text_plan)[0]["Plan"]))
        used = {n.get("Index Name") for n in nodes}
        assert indexes <= used, used
        scanned = {n.get("Relation Name") for n in nodes if n["Node Type"] == "Seq Scan"}
        assert not scanned & {"campaign_records", "records"}, scanned
        # The index gives the campaign's order: nothing sorts the campaign's records.
        assert not [n for n in nodes if n["Node Type"] == "Sort" and n["Plan Rows"] > 10]
    else:
        for index in indexes:
            assert f"USING INDEX {index} " in text_plan, text_plan
        assert "SCAN campaign_records" not in text_plan.replace("SCAN campaign_records USING", "")
        assert " records" not in text_plan.replace("campaign_records", "")


def _nodes(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
