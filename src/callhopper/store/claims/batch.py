"""The batch claim: one statement leases a record to each of many agents of a campaign
whose records have no owner, when they all wait for a push at once (a shift starting).

The agents, in the order they have waited, are paired with the records in the order a
claim (:mod:`callhopper.store.claims.statements`) takes them, the n-th record to the n-th
agent, under the same conditions (the contact's zone open now, no other campaign owning
the record or having it out), with the same locks (``FOR UPDATE OF r, c SKIP LOCKED`` on
PostgreSQL; SQLite's writer lock). A personal callback due for one of them goes to that
agent first (the oldest if several); a record reserved for anybody else is left alone.
The delivery's bookkeeping (:func:`callhopper.store.dispensing.deliver`) follows for every
pair at once, each statement sent once with the parameters of every pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Integer, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from callhopper.store.callbacks import MARK_DUE_DELIVERED
from callhopper.store.claims.statements import (
    _LOCK,
    _SET_LEASE,
    _TIMES,
    ClaimRequest,
    _zones_param,
    claim_params,
    condition,
)
from callhopper.store.dispensing import DELIVERY_STATEMENTS
from callhopper.store.types import UTCDateTime

_BATCH_BRANCH = (
    "SELECT c.record_id, c.rank, c.retry_at, c.reserved_for "
    "FROM campaign_records AS c JOIN records AS r "
    "ON r.id = c.record_id "
    "WHERE c.campaign_id = :campaign AND {owner} AND {state} AND {in_zones} "
    "AND {free} AND {reserved} ORDER BY {order}{limit}"
)
_AGENTS = {
    "postgresql": "SELECT a.agent, a.n FROM unnest(CAST(:agents AS integer[])) "
    "WITH ORDINALITY AS a(agent, n)",
    "sqlite": "SELECT value AS agent, key + 1 AS n FROM json_each(:agents)",
}
_BATCH_CLAIM = """
WITH agents AS MATERIALIZED (  -- the agents to serve, longest wait first
    {agents}
), mine AS MATERIALIZED (  -- personal callbacks due for these agents
    {mine}
), own AS MATERIALIZED (  -- one each, the oldest
    SELECT record_id, agent FROM (
        SELECT record_id, reserved_for AS agent,
               row_number() OVER (PARTITION BY reserved_for ORDER BY retry_at, record_id) AS k
        FROM mine) AS m
    WHERE k = 1
), rest AS MATERIALIZED (  -- the other agents, numbered in order
    SELECT agent, row_number() OVER (ORDER BY n) AS n FROM agents
    WHERE agent NOT IN (SELECT agent FROM own)
), due AS MATERIALIZED (  -- retries whose time has come
    {due}
), fresh AS MATERIALIZED (  -- the next records of the pass, or lapsed leases
    {fresh}
), freed AS MATERIALIZED (  -- records another campaign owned until now
    {freed}
), pick AS MATERIALIZED (  -- in the order a claim takes them: retries, then campaign order
    SELECT record_id, row_number() OVER (ORDER BY k, o) AS n FROM (
        SELECT record_id, 0 AS k, row_number() OVER (ORDER BY retry_at, record_id) AS o
        FROM due
        UNION ALL
        SELECT record_id, 1 AS k, row_number() OVER (ORDER BY rank) AS o
        FROM (SELECT * FROM fresh UNION ALL SELECT * FROM freed) AS next
    ) AS ordered
), paired AS MATERIALIZED (  -- the n-th record to the n-th agent
    SELECT record_id, agent FROM own
    UNION ALL
    SELECT pick.record_id, rest.agent FROM pick JOIN rest ON rest.n = pick.n
){out}
UPDATE campaign_records AS cr SET {set_lease}
FROM paired WHERE cr.campaign_id = :campaign AND cr.record_id = paired.record_id
RETURNING {returning}
"""
_PG_BATCH_OUT = """, out AS (  -- the contacts are out with this campaign now
    UPDATE records SET out_campaign_id = :campaign, out_until = :until
    FROM paired WHERE records.id = paired.record_id
)"""
_IN_AGENTS = {
    "postgresql": "c.reserved_for = ANY(CAST(:agents AS integer[]))",
    "sqlite": "c.reserved_for IN (SELECT value FROM json_each(:agents))",
}


def batch_claim_statement(dialect: str) -> Any:
    """The batch claim for a dialect (see above): ``agents`` in order, ``count`` of them."""

    def branch(state: str, order: str, reserved: str, limit: str = " LIMIT :count") -> str:
        sql = _BATCH_BRANCH.format(
            owner=condition("without_owner", dialect),
            state=condition(state, dialect),
            in_zones=condition("in_zones", dialect),
            free=" AND ".join(
                condition(name, dialect) for name in ("not_owned_elsewhere", "not_out_elsewhere")
            ),
            reserved=reserved,
            order=order,
            limit=limit,
        )
        if dialect == "sqlite":  # a LIMIT inside a compound SELECT needs its own level
            return f"SELECT * FROM ({sql})"
        return sql + _LOCK[dialect]

    # Every due callback of these agents (each agent takes the oldest of theirs).
    mine = branch("due", "c.retry_at", _IN_AGENTS[dialect], limit="")
    sql = _BATCH_CLAIM.format(
        agents=_AGENTS[dialect],
        mine=mine,
        due=branch("due", "c.retry_at", "c.reserved_for IS NULL"),
        fresh=branch("fresh", "c.rank", "c.reserved_for IS NULL"),
        freed=branch("freed", "c.rank", "c.reserved_for IS NULL"),
        out=_PG_BATCH_OUT if dialect == "postgresql" else "",
        # SQLite's RETURNING names the updated table's columns alone, unqualified.
        returning="cr.lease_agent_id, cr.record_id"
        if dialect == "postgresql"
        else "lease_agent_id, record_id",
        set_lease=_SET_LEASE.replace(":agent", "paired.agent"),
    )
    params = [*_TIMES, _zones_param(dialect)]
    if dialect == "postgresql":
        params.append(bindparam("agents", type_=ARRAY(Integer())))
    else:
        params.append(bindparam("agents", type_=JSON()))
    return text(sql).bindparams(*params)


_BATCH_STATEMENTS = {
    dialect: batch_claim_statement(dialect) for dialect in ("postgresql", "sqlite")
}

#: The contacts of a batch are out with the campaign (SQLite's second statement of one).
_MARK_OUT_MANY = text(
    "UPDATE records SET out_campaign_id = :campaign, out_until = :until "
    "WHERE id IN (SELECT value FROM json_each(:records))"
).bindparams(bindparam("until", type_=UTCDateTime()), bindparam("records", type_=JSON()))


def claim_batch(
    session: Session, request: ClaimRequest, agent_ids: Sequence[int]
) -> list[tuple[int, int]]:
    """The batch claim: a record leased to each of ``agent_ids`` while there are records
    (``request.agent_id`` is not used); the (agent, record) pairs leased."""
    if not request.zones or not agent_ids:
        return []
    dialect = session.get_bind().dialect.name
    params = claim_params(request)
    params.update(agents=list(agent_ids), count=len(agent_ids))
    rows = session.execute(_BATCH_STATEMENTS[dialect], params).all()
    pairs = [(int(agent), int(record)) for agent, record in rows]
    if pairs and dialect == "sqlite":  # PostgreSQL marks the records in the claim itself
        session.execute(
            _MARK_OUT_MANY,
            {
                "campaign": request.campaign_id,
                "until": request.lease_until,
                "records": [record for _, record in pairs],
            },
        )
    return pairs


def deliver_batch(
    session: Session,
    request: ClaimRequest,
    name: str,
    list_id: int,
    pairs: Sequence[tuple[int, int]],
) -> None:
    """The bookkeeping of every delivery of a batch (see :func:`dispensing.deliver`)."""
    if not pairs:
        return
    common = {
        "campaign": request.campaign_id,
        "name": name,
        "list": list_id,
        "pass": request.pass_no,
        "now": request.now,
    }
    params = [{**common, "agent": agent, "record": record} for agent, record in pairs]
    deliver_postgresql, close_assignment, open_assignment = DELIVERY_STATEMENTS
    if session.get_bind().dialect.name == "postgresql":
        session.execute(deliver_postgresql, params)
        return
    closing = [{**p, "history_outcome": "expired", "history_code": None} for p in params]
    session.execute(close_assignment, closing)
    session.execute(open_assignment, params)
    session.execute(MARK_DUE_DELIVERED, params)
