"""Which agents have a personal callback due now (the dialing engine's question, before it
dials a predictive campaign's callbacks for their agents).

One statement, built once per dialect from the claims' own conditions
(:data:`callhopper.store.claims.statements.CONDITIONS`): a record counts when a claim by
its agent would take it now as a due retry (the contact's zone open, no other campaign
owning it or having it out).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from callhopper.store.claims.statements import _TIMES, _zones_param, condition

_IN_AGENTS = {
    "postgresql": "c.reserved_for = ANY(CAST(:agents AS integer[]))",
    "sqlite": "c.reserved_for IN (SELECT value FROM json_each(:agents))",
}


def personal_due_statement(dialect: str) -> Any:
    """The agents among ``:agents`` with a personal callback due now (see the module)."""
    names = ("without_owner", "due", "in_zones", "not_owned_elsewhere", "not_out_elsewhere")
    conditions = " AND ".join(f"({condition(n, dialect)})" for n in names)
    sql = (
        "SELECT DISTINCT c.reserved_for FROM campaign_records AS c "
        "JOIN records AS r ON r.id = c.record_id "
        f"WHERE c.campaign_id = :campaign AND {_IN_AGENTS[dialect]} AND {conditions}"
    )
    agents = ARRAY(Integer()) if dialect == "postgresql" else JSON()
    return text(sql).bindparams(
        *_TIMES[:1], _zones_param(dialect), bindparam("agents", type_=agents)
    )


_STATEMENTS = {dialect: personal_due_statement(dialect) for dialect in ("postgresql", "sqlite")}


def personal_due(
    session: Session,
    campaign_id: int,
    agent_ids: Sequence[int],
    zones: Sequence[str],
    now: datetime,
) -> set[int]:
    """The agents among ``agent_ids`` who have a personal callback of the campaign (a
    campaign without owners) due now, in one of the open ``zones``."""
    if not agent_ids or not zones:
        return set()
    dialect = session.get_bind().dialect.name
    params = {"campaign": campaign_id, "agents": list(agent_ids), "zones": list(zones), "now": now}
    return {int(agent) for agent in session.scalars(_STATEMENTS[dialect], params)}
