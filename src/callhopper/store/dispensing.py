"""The claim of a record and the guarded transitions of a lease (SQL of the dispensing core).

A claim is one statement per database (docs/adr/0001-claim-model.md):

* PostgreSQL: ordered CTEs with ``LIMIT 1 FOR UPDATE SKIP LOCKED`` choose the
  candidate, and ``UPDATE … FROM … RETURNING`` leases it. Concurrent claims
  skip each other's rows instead of queueing on them.
* SQLite: a conditional ``UPDATE … WHERE record_id = (SELECT … LIMIT 1)
  RETURNING`` inside ``BEGIN IMMEDIATE``; the writer lock serialises claims
  across processes.

Every later transition names, in its WHERE clause, the state it expects and
the agent holding the lease, and raises a domain error when no row matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    null,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement

from callhopper.domain.errors import NotFound
from callhopper.store.callbacks import MARK_DUE_DELIVERED
from callhopper.store.callbacks import PENDING as PENDING_CALLBACK
from callhopper.store.models import (
    AgentSession,
    Assignment,
    Callback,
    Campaign,
    CampaignRecord,
    Interaction,
    Record,
    table_of,
)
from callhopper.store.types import UTCDateTime

# Which records a claim may take (every branch also needs the agent's records: their
# owner snapshot, or no owner; the contact's zone open now; no other campaign owning it):
# a retry whose time has come, oldest first; else, in campaign order, the next record of
# the pass, a lease whose time ran out, or a record that another campaign owned until now.
_DUE = "c.status = 'waiting' AND c.retry_at <= :now"
_FRESH = "c.status IN ('ready', 'leased') AND (c.status = 'ready' OR c.lease_expires_at <= :now)"
_FREED = "c.status = 'blocked' AND c.blocked_until <= :now"
_OWNER = {True: "c.agent_id = :agent", False: "c.agent_id IS NULL"}
# The open time zones are one parameter: an array on PostgreSQL, a JSON array on SQLite.
# (Hundreds of separate parameters would cost more to bind and plan than the claim itself.)
_IN_ZONES = {
    "postgresql": "c.tz = ANY(CAST(:zones AS text[]))",
    "sqlite": "c.tz IN (SELECT value FROM json_each(:zones))",
}
# The contact record's own columns say whether another campaign owns it (SPEC §6) or has
# it out with an agent now (SPEC §10.1). The claim locks that row: on PostgreSQL a row
# changed by a transaction that committed meanwhile is re-checked against these very
# conditions before it is taken, so of two campaigns racing for one record only one wins.
_FREE = (
    "(r.owner_campaign_id IS NULL OR r.owner_campaign_id = :campaign "
    "OR r.owner_until <= :now) "
    "AND (r.out_campaign_id IS NULL OR r.out_campaign_id = :campaign OR r.out_until <= :now)"
)
_BRANCH = (
    "SELECT c.record_id, c.rank FROM campaign_records AS c JOIN records AS r "
    "ON r.id = c.record_id "
    "WHERE c.campaign_id = :campaign AND {owner} AND {state} AND {in_zones} AND {free} "
    # a personal callback waits for its agent (SPEC §4.2)
    "AND (c.reserved_for IS NULL OR c.reserved_for = :agent) "
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
    "status = 'leased', lease_agent_id = :agent, lease_expires_at = :until, leased_at = :now, "
    "delivered_pass = :pass_no, blocked_until = NULL, pending = NULL"
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


def claim_statement(dialect: str, owned: bool, *, prefix: str = "") -> Any:
    """The claim statement for a dialect; ``prefix`` is for EXPLAIN in tests."""
    template = _PG_CLAIM if dialect == "postgresql" else _SQLITE_CLAIM

    def branch(state: str, order: str) -> str:
        return (
            _BRANCH.format(
                owner=_OWNER[owned],
                state=state,
                in_zones=_IN_ZONES[dialect],
                free=_FREE,
                order=order,
            )
            + _LOCK[dialect]
        )

    sql = template.format(
        due=branch(_DUE, "c.retry_at"),
        fresh=branch(_FRESH, "c.rank"),
        freed=branch(_FREED, "c.rank"),
        set_lease=_SET_LEASE,
    )
    zones = bindparam("zones", type_=ARRAY(String()) if dialect == "postgresql" else JSON())
    return text(prefix + sql).bindparams(
        bindparam("now", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime()), zones
    )


_STATEMENTS = {
    (dialect, owned): claim_statement(dialect, owned)
    for dialect in ("postgresql", "sqlite")
    for owned in (True, False)
}


# The statements of every Get Record and Done, built once: building a statement and its
# cache key costs more than running it, and ORM-enabled UPDATEs several times more again.
_CR = table_of(CampaignRecord)
_RECORDS = table_of(Record)
_ASSIGNMENTS = table_of(Assignment)
_EDITS_TYPE = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
_IS_LEASE = (
    _CR.c.campaign_id == bindparam("campaign"),
    _CR.c.status == "leased",
    _CR.c.lease_agent_id == bindparam("agent"),
)
_CURRENT_LEASE = select(_CR.c.record_id).where(*_IS_LEASE)
#: The record the agent holds in a campaign, its row locked (``campaign``, ``agent``).
CURRENT_LEASE_LOCKED = _CURRENT_LEASE.with_for_update()
_LEASED = select(CampaignRecord).where(*_IS_LEASE, CampaignRecord.record_id == bindparam("record"))
_LEASED_LOCKED = _LEASED.with_for_update()
_CALLBACKS = table_of(Callback)


@dataclass(frozen=True)
class CallbackView:
    """A record's pending callback in a campaign, as a lease reads it."""

    kind: str
    status: str
    due_at: datetime
    number: str | None
    note: str
    agent_id: int | None


@dataclass(frozen=True)
class LeaseView:
    """A campaign's record (its progress and lease), the contact record's fields, and its
    pending callback in the campaign (if any), read in one statement."""

    status: str
    lease_agent_id: int | None
    leased_at: datetime | None
    lease_expires_at: datetime | None
    accept_by: datetime | None
    called_at: datetime | None
    attempts: int
    pending: dict[str, Any] | None
    handled_pass: int | None
    last_code: str | None
    last_at: datetime | None
    tz: str | None
    data: dict[str, Any]
    phones: list[str | None]
    callback: CallbackView | None


# Table columns, not ORM entities: both run on every delivery and every Done, where loading
# three ORM objects cost more than the statement.
_LEASE_FIELDS = [f for f in LeaseView.__dataclass_fields__ if f != "callback"]
_CALLBACK_FIELDS = list(CallbackView.__dataclass_fields__)
#: A campaign's record with its contact record and its pending callback, if any (one per
#: record and campaign): :func:`lease_view` reads a row; the WHERE clause is the caller's.
WITH_RECORD_AND_CALLBACK = select(
    *(
        (_RECORDS.c[name] if name in ("tz", "data", "phones") else _CR.c[name])
        for name in _LEASE_FIELDS
    ),
    *(_CALLBACKS.c[name].label(f"callback_{name}") for name in _CALLBACK_FIELDS),
).select_from(
    _CR.join(_RECORDS, _RECORDS.c.id == _CR.c.record_id).outerjoin(
        _CALLBACKS,
        and_(
            _CALLBACKS.c.campaign_id == _CR.c.campaign_id,
            _CALLBACKS.c.record_id == _CR.c.record_id,
            _CALLBACKS.c.status.in_(PENDING_CALLBACK),
        ),
    )
)
_LEASED_WITH_RECORD = WITH_RECORD_AND_CALLBACK.where(
    *_IS_LEASE, _CR.c.record_id == bindparam("record")
).with_for_update(of=[_CR, _RECORDS])


def lease_view(row: Any) -> LeaseView:
    """A row of :data:`WITH_RECORD_AND_CALLBACK` (extra columns after it are ignored)."""
    values = row._mapping
    callback = None
    if values["callback_status"] is not None:
        callback = CallbackView(**{name: values[f"callback_{name}"] for name in _CALLBACK_FIELDS})
    return LeaseView(**{name: values[name] for name in _LEASE_FIELDS}, callback=callback)


_LOCK_RECORD = (
    select(Record)
    .where(Record.id == bindparam("record"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_UPDATE_LEASE = update(_CR).where(*_IS_LEASE, _CR.c.record_id == bindparam("record"))
_RENEW_OUT = (
    update(_RECORDS)
    .where(
        _RECORDS.c.id == bindparam("record"), _RECORDS.c.out_campaign_id == bindparam("campaign")
    )
    .values(out_until=bindparam("until", type_=UTCDateTime()))
)
_MARK_OUT = (
    update(_RECORDS)
    .where(_RECORDS.c.id == bindparam("record"))
    .values(
        out_campaign_id=bindparam("campaign"), out_until=bindparam("until", type_=UTCDateTime())
    )
)
_CLEAR_OUT = (
    update(_RECORDS)
    .where(
        _RECORDS.c.id.in_(bindparam("records", expanding=True)),
        _RECORDS.c.out_campaign_id == bindparam("campaign"),
    )
    .values(out_campaign_id=None, out_until=None)
)
# The same for one record, which also takes the lead's status (its last wrap-up code in any
# campaign): one statement for Done, where the record is locked already.
_ours = _RECORDS.c.out_campaign_id == bindparam("campaign")
#: The contact no longer out with this campaign (untouched if another campaign has it out).
_FREED_IF_OURS = {
    "out_campaign_id": case((_ours, None), else_=_RECORDS.c.out_campaign_id),
    "out_until": case((_ours, None), else_=_RECORDS.c.out_until),
}
_CLEAR_OUT_WITH_STATUS = (
    update(_RECORDS)
    .where(_RECORDS.c.id == bindparam("record"))
    .values(last_code=bindparam("status"), **_FREED_IF_OURS)
)
_OPEN_ASSIGNMENT = insert(_ASSIGNMENTS).values(
    campaign_id=bindparam("campaign"),
    campaign_name=bindparam("name"),
    list_id=bindparam("list"),
    record_id=bindparam("record"),
    agent_id=bindparam("agent"),
    pass_no=bindparam("pass"),
    leased_at=bindparam("now", type_=UTCDateTime()),
)
_CLOSE_ASSIGNMENT = (
    update(_ASSIGNMENTS)
    .where(
        _ASSIGNMENTS.c.campaign_id == bindparam("campaign"),
        _ASSIGNMENTS.c.record_id == bindparam("record"),
        _ASSIGNMENTS.c.released_at.is_(None),
    )
    .values(
        released_at=bindparam("now", type_=UTCDateTime()),
        outcome=bindparam("history_outcome"),
        code=bindparam("history_code"),
    )
)


_CLOSED_LAPSED = (
    _CLOSE_ASSIGNMENT.values(outcome="expired", code=None)
    .returning(_ASSIGNMENTS.c.id)
    .cte("closed")
)
# The history's new row is selected from a count of the rows closed: reading them makes the
# close run first (sub-statements of a WITH otherwise run in no set order), so the row it
# closes no longer holds the one-open-delivery index when the new one is inserted.
_DELIVER_POSTGRESQL = (
    insert(_ASSIGNMENTS)
    .from_select(
        [
            "campaign_id",
            "campaign_name",
            "list_id",
            "record_id",
            "agent_id",
            "pass_no",
            "leased_at",
        ],
        select(
            bindparam("campaign", type_=Integer()),
            bindparam("name", type_=String()),
            bindparam("list", type_=Integer()),
            bindparam("record", type_=BigInteger()),
            bindparam("agent", type_=Integer()),
            bindparam("pass", type_=Integer()),
            bindparam("now", type_=UTCDateTime()),
        ).select_from(select(func.count()).select_from(_CLOSED_LAPSED).subquery()),
    )
    .add_cte(MARK_DUE_DELIVERED.cte("called"))
)


# The end of a delivery: its interaction, and the history's row closed. The parameters are
# not named after columns (an UPDATE or INSERT adds such a parameter to what it sets).
_INTERACTIONS = table_of(Interaction)
_END_INTERACTION = insert(_INTERACTIONS).values(
    record_id=bindparam("record"),
    campaign_id=bindparam("campaign"),
    campaign_name=bindparam("name"),
    agent_id=bindparam("agent"),
    kind=bindparam("interaction_kind"),
    at=bindparam("now", type_=UTCDateTime()),
    code=bindparam("interaction_code"),
    note=bindparam("note_text"),
    # no edits: SQL NULL, not JSON null
    edits=bindparam("edits_doc", type_=_EDITS_TYPE),
)
_END_DELIVERY_POSTGRESQL = _END_INTERACTION.add_cte(_CLOSE_ASSIGNMENT.cte("closed"))


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


def claim(session: Session, request: ClaimRequest) -> int | None:
    """Lease the agent's next record; ``None`` when nothing is deliverable now."""
    if not request.zones:
        return None
    dialect = session.get_bind().dialect.name
    record_id = session.scalar(_STATEMENTS[(dialect, request.owned)], claim_params(request))
    if record_id is None:
        return None
    if dialect == "sqlite":  # PostgreSQL marks the record in the claim statement itself
        _mark_out(session, request.campaign_id, int(record_id), request.lease_until)
    return int(record_id)


def _mark_out(session: Session, campaign_id: int, record_id: int, until: datetime | None) -> None:
    session.execute(
        _MARK_OUT,
        {"record": record_id, "campaign": campaign_id if until else None, "until": until},
    )


def claim_params(request: ClaimRequest) -> dict[str, Any]:
    return {
        "campaign": request.campaign_id,
        "agent": request.agent_id,
        "now": request.now,
        "until": request.lease_until,
        "zones": list(request.zones),
        "pass_no": request.pass_no,
    }


def current_lease(
    session: Session, campaign_id: int, agent_id: int, *, lock: bool = False
) -> int | None:
    """The record the agent holds in this campaign (even if its time ran out), if any."""
    query = CURRENT_LEASE_LOCKED if lock else _CURRENT_LEASE
    found = session.scalar(query, {"campaign": campaign_id, "agent": agent_id})
    return int(found) if found is not None else None


def leased(
    session: Session, campaign_id: int, record_id: int, agent_id: int, *, lock: bool = False
) -> CampaignRecord:
    """The campaign record if it is leased to ``agent_id``; else 404 (no existence leak)."""
    row = session.scalar(
        _LEASED_LOCKED if lock else _LEASED,
        {"campaign": campaign_id, "agent": agent_id, "record": record_id},
    )
    if row is None:
        raise NotFound(
            f"record {record_id} is not delivered to you in campaign {campaign_id}",
            field="record_id",
        )
    return row


def leased_locked(session: Session, campaign_id: int, record_id: int, agent_id: int) -> LeaseView:
    """:func:`leased`, with the contact record, both rows locked, and the record's pending
    callback in the campaign (if any); one statement."""
    found = session.execute(
        _LEASED_WITH_RECORD, {"campaign": campaign_id, "agent": agent_id, "record": record_id}
    ).one_or_none()
    if found is None:
        raise NotFound(
            f"record {record_id} is not delivered to you in campaign {campaign_id}",
            field="record_id",
        )
    return lease_view(found)


def out_elsewhere(session: Session, campaign_id: int, record_id: int, now: datetime) -> bool:
    """Whether an agent of another campaign holds the record now (a live lease)."""
    found = session.scalar(
        select(Record.id).where(
            Record.id == record_id,
            Record.out_campaign_id != campaign_id,
            Record.out_until > now,
        )
    )
    return found is not None


def lock_record(session: Session, record_id: int) -> Record:
    """The contact record, its row held until the transaction ends (PostgreSQL; SQLite's
    writer lock already serialises every write transaction)."""
    record = session.scalar(_LOCK_RECORD, {"record": record_id})
    if record is None:
        raise NotFound(f"no record {record_id}", field="record_id")
    return record


def renew(
    session: Session, campaign_id: int, record_id: int, agent_id: int, until: datetime
) -> None:
    """Push the lease's expiry to ``until``; 404 if the lease is no longer the agent's."""
    where = {"campaign": campaign_id, "agent": agent_id, "record": record_id}
    result = session.execute(_UPDATE_LEASE.values(lease_expires_at=until), where)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(
            f"record {record_id} is not delivered to you in campaign {campaign_id}",
            field="record_id",
        )
    session.execute(_RENEW_OUT, {"record": record_id, "campaign": campaign_id, "until": until})


def release(
    session: Session,
    campaign_id: int,
    record_id: int,
    agent_id: int,
    *,
    attempts_added: int = 0,
    lead_status: str | None = None,
    **values: Any,
) -> None:
    """End the agent's lease, setting ``values`` (status and progress) and adding
    ``attempts_added`` to the attempts, in the same guarded UPDATE; 404 if the record is no
    longer leased to the agent. ``lead_status``: the record's status across campaigns
    (``records.last_code``) becomes this wrap-up code, in the statement that frees the
    contact for other campaigns."""
    # Plain values are parameters of a statement built once; SQL expressions (a rank computed
    # in the statement) are added to it.
    exprs = {name: v for name, v in values.items() if isinstance(v, ClauseElement)}
    plain = {name: v for name, v in values.items() if name not in exprs}
    params = {"campaign": campaign_id, "agent": agent_id, "record": record_id}
    params.update({f"set_{name}": value for name, value in plain.items()})
    params["attempts_added"] = attempts_added
    one_statement = session.get_bind().dialect.name == "postgresql" and not exprs
    if one_statement:
        # One statement: the lease's release, then the contact freed in a statement that
        # reads the released row (so nothing is freed when the guard failed).
        statement = _release_and_free_postgresql(frozenset(plain), lead_status is not None)
        result = session.execute(statement, {**params, "lead_code": lead_status})
    else:
        statement = _release_statement(frozenset(plain))
        if exprs:
            statement = statement.values(**exprs)
        result = session.execute(statement, params)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(
            f"record {record_id} is not delivered to you in campaign {campaign_id}",
            field="record_id",
        )
    if one_statement:
        return  # the contact was freed by the same statement
    if lead_status is None:
        clear_out(session, campaign_id, [record_id])
    else:
        session.execute(
            _CLEAR_OUT_WITH_STATUS,
            {"record": record_id, "campaign": campaign_id, "status": lead_status},
        )


@lru_cache(maxsize=64)
def _release_statement(names: frozenset[str]) -> Any:
    """The guarded UPDATE of a release setting these columns (one per set of names)."""
    return _UPDATE_LEASE.values(
        lease_agent_id=None,
        lease_expires_at=None,
        pending=null(),  # SQL NULL (None would be JSON null)
        attempts=_CR.c.attempts + bindparam("attempts_added"),
        **{name: bindparam(f"set_{name}", type_=_CR.c[name].type) for name in names},
    )


@lru_cache(maxsize=64)
def _release_and_free_postgresql(names: frozenset[str], with_lead_code: bool) -> Any:
    """:func:`_release_statement` as a CTE, and the contact it releases no longer out with
    this campaign (and given the lead's status ``lead_code``), in one UPDATE whose row count
    is the release's. No parameter is named after a column of either table: an UPDATE adds
    such a parameter to what it sets."""
    released = _release_statement(names).returning(_CR.c.record_id).cte("released")
    values: dict[str, Any] = dict(_FREED_IF_OURS)
    if with_lead_code:
        values["last_code"] = bindparam("lead_code")
    return (
        update(_RECORDS)
        .where(_RECORDS.c.id.in_(select(released.c.record_id).scalar_subquery()))
        .values(**values)
    )


def clear_out(session: Session, campaign_id: int, record_ids: Sequence[int]) -> None:
    """The contacts are no longer out with an agent of this campaign."""
    session.execute(_CLEAR_OUT, {"records": list(record_ids), "campaign": campaign_id})


def end_agent_work(session: Session, agent_id: int, now: datetime) -> int:
    """A deactivated agent leaves every campaign: logged out, every lease they hold lapses
    now (the next claim takes the record, as after any lapsed lease), and a push they had
    not accepted goes back. Returns how many records they held."""
    held = session.execute(
        select(CampaignRecord.campaign_id, CampaignRecord.record_id).where(
            CampaignRecord.status == "leased", CampaignRecord.lease_agent_id == agent_id
        )
    ).all()
    session.execute(
        update(CampaignRecord)
        .where(CampaignRecord.status == "leased", CampaignRecord.lease_agent_id == agent_id)
        .values(lease_expires_at=now, accept_by=None)
        .execution_options(synchronize_session=False)
    )
    for campaign_id, record_id in held:
        clear_out(session, campaign_id, [record_id])
    session.execute(delete(AgentSession).where(AgentSession.user_id == agent_id))
    return len(held)


def back_of_the_order(session: Session, campaign_id: int) -> Any:
    """A rank after every record of the campaign (for skips reinserted and calls later)."""
    return (
        select(func.coalesce(func.max(CampaignRecord.rank), 0) + 1)
        .where(CampaignRecord.campaign_id == campaign_id)
        .scalar_subquery()
    )


def deliver(
    session: Session, campaign: Campaign, record_id: int, agent_id: int, *, now: datetime
) -> None:
    """The bookkeeping of a claim: the delivery appended to the history (a previous holder's
    lapsed lease closed first), and a callback of the record whose time had come marked
    delivered. One statement on PostgreSQL, where each is a round trip of every claim."""
    # No parameter is named after a column: an UPDATE would add it to what it sets.
    params = {
        "campaign": campaign.id,
        "name": campaign.name,
        "list": campaign.list_id,
        "record": record_id,
        "agent": agent_id,
        "pass": campaign.pass_no,
        "now": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_DELIVER_POSTGRESQL, params)
        return
    close_assignment(session, campaign.id, record_id, now=now, outcome="expired")
    session.execute(_OPEN_ASSIGNMENT, params)
    session.execute(MARK_DUE_DELIVERED, params)


def end_delivery(
    session: Session,
    *,
    campaign: Campaign,
    record_id: int,
    agent_id: int,
    kind: str,
    code: str | None,
    note: str,
    now: datetime,
    outcome: str,
    history_code: str | None = None,
    edits: dict[str, Any] | None = None,
) -> None:
    """The end of a delivery: its interaction written (``kind``, ``code``, ``note`` and
    ``edits``), and its row of the history closed with ``outcome`` (and ``history_code``).
    One statement on PostgreSQL."""
    params = {
        "campaign": campaign.id,
        "name": campaign.name,
        "record": record_id,
        "agent": agent_id,
        "interaction_kind": kind,
        "interaction_code": code,
        "note_text": note,
        "edits_doc": edits,
        "now": now,
        "history_outcome": outcome,
        "history_code": history_code,
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_END_DELIVERY_POSTGRESQL, params)
        return
    session.execute(_END_INTERACTION, params)
    session.execute(_CLOSE_ASSIGNMENT, params)


def close_assignment(
    session: Session,
    campaign_id: int,
    record_id: int,
    *,
    now: datetime,
    outcome: str,
    code: str | None = None,
) -> None:
    session.execute(
        _CLOSE_ASSIGNMENT,
        {
            "campaign": campaign_id,
            "record": record_id,
            "now": now,
            "history_outcome": outcome,
            "history_code": code,
        },
    )
