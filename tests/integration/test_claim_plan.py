"""Each claim walks its indexes; none scans the records tables (an EXPLAIN test per claim:
the preview claim, the push claim and the hopper claim)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from callhopper.clock import FrozenClock
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.filters import parse_filter
from callhopper.store.claims.statements import (
    ClaimRequest,
    claim,
    claim_hopper,
    claim_params,
    claim_statement,
    hopper_claim_statement,
)
from callhopper.store.db import Database
from tests.campaign_helpers import agents, make_campaign, make_list, make_queue, owned_rows, start
from tests.integration.test_hopper import lead_campaign, lead_list, leads, load, login, skill
from tests.support import MakeUser

ALL_DAY = CallingWindow(start="00:00", end="24:00")


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


class _Undo(Exception):
    pass


def claim_as_run(db: Database, run: Callable[[Session], object]) -> tuple[str, Any]:
    """The first statement ``run`` executes (the claim), as the driver gets it: SQL text
    and parameters. Its transaction is rolled back."""
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    try:
        with db.write() as session:
            connection = session.connection()
            event.listen(connection, "before_cursor_execute", grab)
            run(session)
            event.remove(connection, "before_cursor_execute", grab)
            raise _Undo
    except _Undo:
        pass
    return seen[0]


def explained(db: Database, statement: str, parameters: Any) -> tuple[list[Any], str]:
    """The plan of a statement: (PostgreSQL's plan nodes, SQLite's plan text)."""
    with db.write() as session:
        connection = session.connection()
        if db.dialect == "postgresql":
            connection.exec_driver_sql("ANALYZE")
            found = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            return list(_nodes(found.scalar_one()[0]["Plan"])), ""
        found = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return [], "\n".join(str(r[-1]) for r in found.all())


def test_the_push_claim_is_the_preview_claim_with_its_accept_deadline(
    api: TestClient, db: Database, make_user: MakeUser, clock: FrozenClock
) -> None:
    """A push (push preview) sets its accept deadline in the claim statement itself: the
    same statement text, and the same plan, as Get Record's claim."""
    people = agents(make_user, *(f"a{n}" for n in range(10)))
    list_id = make_list(api, [])
    rows = owned_rows([""] * 4000)
    for start_at in range(0, len(rows), 2000):
        api.post(
            f"/api/v1/contact-lists/{list_id}/records",
            json={"records": rows[start_at : start_at + 2000]},
        )
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, people),
        mode="push_preview",
        sort=[{"column": "balance"}],
        agent_owned_column=None,
    )
    start(api, campaign_id)
    now = clock.now()
    request = ClaimRequest(
        campaign_id=campaign_id,
        agent_id=2,
        owned=False,
        now=now,
        lease_until=now + timedelta(seconds=30),
        zones=sorted(ALL_DAY.open_zones(now)),
        pass_no=1,
        accept_by=now + timedelta(seconds=30),
    )
    statement, parameters = claim_as_run(db, lambda session: claim(session, request))
    assert statement == str(claim_statement(db.dialect, False).compile(dialect=db.engine.dialect))
    nodes, text_plan = explained(db, statement, parameters)
    suffix = "_pool" if db.dialect == "postgresql" else ""
    indexes = {f"ix_campaign_records_{name}{suffix}" for name in ("fresh", "retry", "blocked")}
    if db.dialect == "postgresql":
        assert indexes <= {n.get("Index Name") for n in nodes}
        scanned = {n.get("Relation Name") for n in nodes if n["Node Type"] == "Seq Scan"}
        assert not scanned & {"campaign_records", "records"}, scanned
    else:
        for index in indexes:
            assert f"USING INDEX {index} " in text_plan, text_plan


def test_the_hopper_claim_reads_the_hopper_by_its_index(
    api: TestClient, app_client: TestClient, db: Database, make_user: MakeUser, clock: FrozenClock
) -> None:
    """The hopper claim reads the agent's leads, then the general ones, from the hopper's
    owner index, and each lead's campaign record and contact record by key: it never scans
    the campaign's records or the list's."""
    people = agents(make_user, *(f"a{n}" for n in range(20)))
    rows = [row for n in range(20) for row in leads(f"a{n}", "AZ", 150, n * 1000)]
    rows += leads(None, "AZ", 2000, 50000) + leads(None, "CA", 2000, 60000)
    skill(api, "Arizona", 'state == "AZ"', people[0])
    campaign_id = lead_campaign(api, lead_list(api, rows), people, hopper_level=50)
    for person in people:
        login(app_client, person, campaign_id)
    load(api, campaign_id)
    now = clock.now()
    request = ClaimRequest(
        campaign_id=campaign_id,
        agent_id=2,
        owned=False,
        now=now,
        lease_until=now + timedelta(minutes=30),
        zones=sorted(ALL_DAY.open_zones(now)),
        pass_no=1,
    )
    lead_filter = parse_filter('state == "AZ"')
    statement, parameters = claim_as_run(
        db, lambda session: claim_hopper(session, request, lead_filter)
    )
    nodes, text_plan = explained(db, statement, parameters)
    if db.dialect == "postgresql":
        assert "ix_hopper_owner" in {n.get("Index Name") for n in nodes}
        scanned = {n.get("Relation Name") for n in nodes if n["Node Type"] == "Seq Scan"}
        assert not scanned & {"campaign_records", "records"}, scanned
    else:
        assert "SEARCH hopper USING INDEX ix_hopper_owner " in text_plan, text_plan
        assert "SCAN campaign_records" not in text_plan, text_plan
        assert "SCAN records" not in text_plan, text_plan


def test_a_claim_statement_is_built_once(db: Database) -> None:
    """Every claim reuses its statement (and so its SQL text, which psycopg prepares after
    a few executions): the hopper claim is built once per lead filter."""
    first = parse_filter('state == "AZ"')
    assert hopper_claim_statement(db.dialect, first) is hopper_claim_statement(
        db.dialect, parse_filter('state == "AZ"')
    )
    assert hopper_claim_statement(db.dialect, None) is hopper_claim_statement(db.dialect, None)
