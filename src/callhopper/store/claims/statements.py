"""The claims: one statement leases an agent's next record (docs/adr/0001-claim-model.md).

Three claims share this module, each built once at import (or once per shape):

* the **preview claim** takes the next record of a campaign in its order (an agent-owned
  campaign's records go to their owner only);
* the **hopper claim** takes the next lead of a lead-ownership campaign's hopper: the
  agent's own leads first, then general leads their skills match. Its statement depends
  on the agent's lead filter, so one is built per distinct filter and kept;
* the **push claim** is either of them with an accept deadline (push preview): the
  deadline is a parameter of the same statement, so a push costs no statement more.

On PostgreSQL ordered CTEs with ``LIMIT 1 FOR UPDATE SKIP LOCKED`` choose the candidate
and ``UPDATE … FROM … RETURNING`` leases it, marking the contact out with the campaign in
the same statement; concurrent claims skip each other's rows instead of queueing on them.
On SQLite a conditional ``UPDATE … WHERE record_id = (SELECT … LIMIT 1) RETURNING`` runs
inside ``BEGIN IMMEDIATE``, whose writer lock serialises claims across processes.

Every runtime value is a bound parameter and the SQL text of a statement never changes, so
psycopg prepares each claim on a connection after a few executions and PostgreSQL plans it
once per connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from callhopper.domain.filters import Filter
from callhopper.domain.records import RecordStatus
from callhopper.store.models import CampaignRecord, HopperEntry, Record, table_of
from callhopper.store.record_filters import record_filter
from callhopper.store.types import UTCDateTime

_READY, _LEASED = RecordStatus.READY.value, RecordStatus.LEASED.value
_WAITING, _BLOCKED = RecordStatus.WAITING.value, RecordStatus.BLOCKED.value

# --- the preview claim ----------------------------------------------------------------------

# The conditions a claim puts on a record, by name: SQL over the campaign's view of the
# record ``{c}`` (``campaign_records``) and the contact record ``{r}`` (``records``). Both
# claims below are built from them, and a record's eligibility (``store/claims/eligibility.py``)
# evaluates each of them for that one record: one rule, so the explanation cannot disagree
# with the claim. Every branch of a claim needs: the agent's records (their owner snapshot,
# or no owner); the contact's zone open now; no other campaign owning the record or having
# it out; no personal callback waiting for another agent; and one of the states ``due`` (a
# retry whose time has come, oldest first), else, in campaign order, ``fresh`` (the next
# record of the pass, or a lease whose time ran out) or ``freed`` (a record that another
# campaign owned until now).
CONDITIONS: dict[str, str] = {
    "due": f"{{c}}.status = '{_WAITING}' AND {{c}}.retry_at <= :now",
    "fresh": (
        f"{{c}}.status IN ('{_READY}', '{_LEASED}') "
        f"AND ({{c}}.status = '{_READY}' OR {{c}}.lease_expires_at <= :now)"
    ),
    "freed": f"{{c}}.status = '{_BLOCKED}' AND {{c}}.blocked_until <= :now",
    "owned_by_agent": "{c}.agent_id = :agent",
    "without_owner": "{c}.agent_id IS NULL",
    # The open time zones are one parameter: an array on PostgreSQL, a JSON array on SQLite.
    # (Hundreds of separate parameters would cost more to bind and plan than the claim.)
    "in_zones@postgresql": "{c}.tz = ANY(CAST(:zones AS text[]))",
    "in_zones@sqlite": "{c}.tz IN (SELECT value FROM json_each(:zones))",
    # The contact record's own columns say whether another campaign owns it (campaign
    # ownership) or has it out with an agent now (one contact, one agent at a time). The
    # claim locks that row: on PostgreSQL a row changed by a transaction that committed
    # meanwhile is re-checked against these very conditions before it is taken, so of two
    # campaigns racing for one record only one wins.
    "not_owned_elsewhere": (
        "({r}.owner_campaign_id IS NULL OR {r}.owner_campaign_id = :campaign "
        "OR {r}.owner_until <= :now)"
    ),
    "not_out_elsewhere": (
        "({r}.out_campaign_id IS NULL OR {r}.out_campaign_id = :campaign OR {r}.out_until <= :now)"
    ),
    # a personal callback waits for its agent
    "reserved_for_agent": "({c}.reserved_for IS NULL OR {c}.reserved_for = :agent)",
}
#: The states in which a claim may take a record (one branch each).
STATES = ("due", "fresh", "freed")
#: The conditions of every branch, besides the owner's and the state.
COMMON = ("in_zones", "not_owned_elsewhere", "not_out_elsewhere", "reserved_for_agent")


def condition(name: str, dialect: str, c: str = "c", r: str = "r") -> str:
    """The named condition (:data:`CONDITIONS`) over the tables (or aliases) ``c`` and
    ``r``, for a dialect."""
    template = CONDITIONS.get(f"{name}@{dialect}") or CONDITIONS[name]
    return template.format(c=c, r=r)


def owner_condition(owned: bool) -> str:
    """Which records an agent may take: their own (an agent-owned campaign) or those
    without an owner."""
    return "owned_by_agent" if owned else "without_owner"


_BRANCH = (
    "SELECT c.record_id, c.rank FROM campaign_records AS c JOIN records AS r "
    "ON r.id = c.record_id "
    "WHERE c.campaign_id = :campaign AND {conditions} "
    "ORDER BY {order} LIMIT 1"
)
# The record first, then the campaign's row: a record that another transaction holds (a
# Done, which may set the record aside in this campaign's row) is skipped before its
# campaign row is locked. In the other order PostgreSQL keeps the campaign row locked
# while skipping, and that Done waits for this claim's transaction (or deadlocks with it).
# Statements that wait for their locks (a Done's, a renewal's) take the campaign row first;
# a claim never waits for a campaign row, so the two orders cannot close a cycle.
_LOCK = {"postgresql": " FOR UPDATE OF r, c SKIP LOCKED", "sqlite": ""}
_SET_LEASE = (
    f"status = '{_LEASED}', lease_agent_id = :agent, lease_expires_at = :until, "
    "leased_at = :now, delivered_pass = :pass_no, blocked_until = NULL, pending = NULL, "
    "accept_by = :accept_deadline"
)

_PG_CLAIM = """
WITH due AS (  -- a retry whose time has come
    {due}
), fresh AS (  -- the next record of the pass, or a lapsed lease
    {fresh}
), freed AS (  -- a record another campaign owned until now
    {freed}
), pick AS (  -- the retry, else the first in campaign order
    SELECT record_id FROM due
    UNION ALL
    (SELECT record_id FROM (SELECT * FROM fresh UNION ALL SELECT * FROM freed) AS next
     ORDER BY rank LIMIT 1)
    LIMIT 1
), out AS (  -- the contact is out with this campaign now
    UPDATE records SET out_campaign_id = :campaign, out_until = :until
    FROM pick WHERE records.id = pick.record_id
)
UPDATE campaign_records AS cr SET {set_lease}
FROM pick WHERE cr.campaign_id = :campaign AND cr.record_id = pick.record_id
RETURNING cr.record_id
"""

_SQLITE_CLAIM = """
UPDATE campaign_records SET {set_lease}
WHERE campaign_id = :campaign AND record_id = coalesce(
    (SELECT record_id FROM ({due})),  -- a retry whose time has come
    (SELECT record_id FROM (  -- else the first in campaign order of:
        SELECT * FROM ({fresh})  -- the next record of the pass, or a lapsed lease
        UNION ALL
        SELECT * FROM ({freed})  -- a record another campaign owned until now
     ) ORDER BY rank LIMIT 1))
RETURNING record_id
"""

_TIMES = (
    bindparam("now", type_=UTCDateTime()),
    bindparam("until", type_=UTCDateTime()),
    bindparam("accept_deadline", type_=UTCDateTime()),
)


def _zones_param(dialect: str) -> Any:
    return bindparam("zones", type_=ARRAY(String()) if dialect == "postgresql" else JSON())


def claim_statement(dialect: str, owned: bool, *, prefix: str = "") -> Any:
    """The preview claim for a dialect (``owned``: an agent-owned campaign); ``prefix`` is
    for EXPLAIN in tests. :func:`claim` runs the ones built at import."""
    template = _PG_CLAIM if dialect == "postgresql" else _SQLITE_CLAIM

    def branch(state: str, order: str) -> str:
        names = (owner_condition(owned), state, *COMMON)
        conditions = " AND ".join(f"({condition(n, dialect)})" for n in names)
        return _BRANCH.format(conditions=conditions, order=order) + _LOCK[dialect]

    sql = template.format(
        due=branch("due", "c.retry_at"),
        fresh=branch("fresh", "c.rank"),
        freed=branch("freed", "c.rank"),
        set_lease=_SET_LEASE,
    )
    return text(prefix + sql).bindparams(*_TIMES, _zones_param(dialect))


_STATEMENTS = {
    (dialect, owned): claim_statement(dialect, owned)
    for dialect in ("postgresql", "sqlite")
    for owned in (True, False)
}


@dataclass(frozen=True)
class ClaimRequest:
    campaign_id: int
    agent_id: int
    #: Agent-owned campaign: only records whose owner snapshot is this agent.
    owned: bool
    now: datetime
    lease_until: datetime
    #: Time zones in which the calling window is open now.
    zones: Sequence[str]
    pass_no: int
    #: A push to accept before then (push preview); ``None`` for every other claim.
    accept_by: datetime | None = None


def claim_params(request: ClaimRequest) -> dict[str, Any]:
    """The parameters of every claim statement."""
    return {
        "campaign": request.campaign_id,
        "agent": request.agent_id,
        "now": request.now,
        "until": request.lease_until,
        "zones": list(request.zones),
        "pass_no": request.pass_no,
        "accept_deadline": request.accept_by,
    }


def claim(session: Session, request: ClaimRequest) -> int | None:
    """The preview claim: lease the agent's next record; ``None`` when nothing is
    deliverable now."""
    if not request.zones:
        return None
    dialect = session.get_bind().dialect.name
    record_id = session.scalar(_STATEMENTS[(dialect, request.owned)], claim_params(request))
    if record_id is None:
        return None
    if dialect == "sqlite":  # PostgreSQL marks the record in the claim statement itself
        _mark_out(session, request, int(record_id))
    return int(record_id)


def _mark_out(session: Session, request: ClaimRequest, record_id: int) -> None:
    params = {"record": record_id, "campaign": request.campaign_id, "until": request.lease_until}
    session.execute(_MARK_OUT, params)


_RECORDS = table_of(Record)
_HOPPER = table_of(HopperEntry)
#: The contact is out with the campaign's agent until the lease's end (SQLite's second
#: statement of a claim).
_MARK_OUT = (
    update(_RECORDS)
    .where(_RECORDS.c.id == bindparam("record"))
    .values(
        out_campaign_id=bindparam("campaign"), out_until=bindparam("until", type_=UTCDateTime())
    )
)

# --- the hopper claim -----------------------------------------------------------------------

cr, h = CampaignRecord, HopperEntry


def sql_condition(names: Sequence[str], dialect: str, c: str = "c", r: str = "r") -> Any:
    """The named conditions (:data:`CONDITIONS`) ORed together, as a Core clause with its
    parameters typed as the claims bind them."""
    sql = " OR ".join(f"({condition(n, dialect, c, r)})" for n in names)
    clause = text(f"({sql})")
    binds = claim_binds(dialect, sql)
    return clause.bindparams(*binds) if binds else clause


def claim_binds(dialect: str, sql: str) -> list[Any]:
    """The typed parameters of the claims (times, open zones) that ``sql`` uses."""
    return [b for b in (*_TIMES, _zones_param(dialect)) if f":{b.key}" in sql]


def _deliverable(dialect: str) -> Any:
    """The campaign's view of a record allows delivering it now: the preview claim's
    conditions (but the owner's), over ``campaign_records`` and ``records``."""
    tables = {"c": "campaign_records", "r": "records"}
    return and_(
        cr.campaign_id == bindparam("campaign", type_=Integer()),
        sql_condition(STATES, dialect, **tables),
        *(sql_condition([name], dialect, **tables) for name in COMMON),
    )


@lru_cache(maxsize=512)
def hopper_claim_statement(dialect: str, lead_filter: Filter | None) -> Any:
    """The hopper claim for an agent whose skills select ``lead_filter`` (``None``: every
    general lead): their owned leads first, then general leads the filter matches, a due
    callback before hopper order in each. One statement on each database, built once per
    dialect and filter."""
    now = bindparam("now", type_=UTCDateTime())
    campaign = bindparam("campaign", type_=Integer())
    agent = bindparam("agent", type_=Integer())
    due_first = case((and_(cr.status == _WAITING, cr.retry_at <= now), 0), else_=1)
    matches = record_filter(lead_filter) if lead_filter is not None else true()

    def branch(owned: bool) -> Any:
        mine = (
            and_(h.owner_id == agent, Record.owner_id == agent)
            if owned
            else and_(h.owner_id.is_(None), Record.owner_id.is_(None), matches)
        )
        query = (
            select(cr.record_id)
            .select_from(h)
            .join(cr, and_(cr.campaign_id == h.campaign_id, cr.record_id == h.record_id))
            .join(Record, Record.id == h.record_id)
            .where(
                h.campaign_id == campaign,
                mine,
                _deliverable(dialect),
            )
            .order_by(due_first, h.position.asc())
            .limit(1)
        )
        if dialect == "postgresql":
            # The record first (see _LOCK).
            query = query.with_for_update(of=[Record, cr], skip_locked=True)
        return query

    lease = {
        "status": _LEASED,
        "lease_agent_id": agent,
        "lease_expires_at": bindparam("until", type_=UTCDateTime()),
        "leased_at": now,
        "delivered_pass": bindparam("pass_no", type_=Integer()),
        "blocked_until": None,
        "accept_by": bindparam("accept_deadline", type_=UTCDateTime()),
    }
    if dialect != "postgresql":
        first = func.coalesce(branch(True).scalar_subquery(), branch(False).scalar_subquery())
        return (
            update(cr)
            .where(cr.campaign_id == campaign, cr.record_id == first)
            .values(**lease)
            .returning(cr.record_id)
            .execution_options(synchronize_session=False)
        )
    owned, general = branch(True).cte("owned"), branch(False).cte("general")
    pick = union_all(select(owned.c.record_id), select(general.c.record_id)).limit(1).cte("pick")
    out = (
        update(Record)
        .where(Record.id == pick.c.record_id)
        .values(out_campaign_id=campaign, out_until=bindparam("until", type_=UTCDateTime()))
        .cte("out")
    )
    gone = delete(h).where(h.campaign_id == campaign, h.record_id == pick.c.record_id).cte("gone")
    return (
        update(cr)
        .where(cr.campaign_id == campaign, cr.record_id == pick.c.record_id)
        .values(**lease)
        .returning(cr.record_id)
        .add_cte(out, gone)
        .execution_options(synchronize_session=False)
    )


#: The lead leaves the hopper once claimed (SQLite's third statement of a hopper claim).
_LEAVE_HOPPER = delete(_HOPPER).where(
    _HOPPER.c.campaign_id == bindparam("campaign"), _HOPPER.c.record_id == bindparam("record")
)


def claim_hopper(session: Session, request: ClaimRequest, lead_filter: Filter | None) -> int | None:
    """The hopper claim: lease the agent's next hopper lead; ``None`` when none is
    deliverable now."""
    if not request.zones:
        return None
    dialect = session.get_bind().dialect.name
    params = claim_params(request)
    record_id = session.scalar(hopper_claim_statement(dialect, lead_filter), params)
    if record_id is None:
        return None
    if dialect != "postgresql":  # PostgreSQL did both in the claim statement
        _mark_out(session, request, int(record_id))
        session.execute(_LEAVE_HOPPER, {"campaign": request.campaign_id, "record": record_id})
    return int(record_id)
