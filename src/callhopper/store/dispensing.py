"""The guarded transitions of a lease: renew, accept, dial, release (the history of
deliveries is :mod:`callhopper.store.deliveries`).

A record is leased by a claim (:mod:`callhopper.store.claims`); every later transition
names, in its WHERE clause, the state it expects and the agent holding the lease, and
raises :class:`~callhopper.domain.errors.NotFound` when no row matched (the record is no
longer delivered to that agent).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement

from callhopper.domain.dispensing import (
    CallbackView,
    ContactRecord,
    DialTarget,
    Lease,
    LeaseView,
    Rank,
)
from callhopper.domain.errors import NotFound
from callhopper.domain.records import OPEN_CALLBACK_STATUSES, CallbackStatus, RecordStatus
from callhopper.store.deliveries import END_DELIVERY_CTES
from callhopper.store.models import (
    AgentSession,
    Callback,
    CampaignRecord,
    Record,
    table_of,
)
from callhopper.store.types import UTCDateTime

_LEASED = RecordStatus.LEASED.value

# The statements of every Get Record and Done, built once: building a statement and its
# cache key costs more than running it, and ORM-enabled UPDATEs several times more again.
_CR = table_of(CampaignRecord)
_RECORDS = table_of(Record)
_IS_LEASE = (
    _CR.c.campaign_id == bindparam("campaign"),
    _CR.c.status == _LEASED,
    _CR.c.lease_agent_id == bindparam("agent"),
)
_CURRENT_LEASE = select(_CR.c.record_id).where(*_IS_LEASE)
#: The record the agent holds in a campaign, its row locked (``campaign``, ``agent``).
CURRENT_LEASE_LOCKED = _CURRENT_LEASE.with_for_update()
_LEASE = select(
    _CR.c.record_id,
    _CR.c.agent_id,
    _CR.c.leased_at,
    _CR.c.accept_by,
    _CR.c.called_at,
    _CR.c.handled_pass,
).where(*_IS_LEASE, _CR.c.record_id == bindparam("record"))
_LEASE_LOCKED = _LEASE.with_for_update()
_CALLBACKS = table_of(Callback)


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
            _CALLBACKS.c.status.in_([s.value for s in OPEN_CALLBACK_STATUSES]),
        ),
    )
)
_LEASED_WITH_RECORD = WITH_RECORD_AND_CALLBACK.where(
    *_IS_LEASE, _CR.c.record_id == bindparam("record")
).with_for_update(of=[_CR, _RECORDS])


#: What Call reads of a delivered record, in one statement with both rows locked (Call and a
#: Done claiming campaign ownership take turns on the record's row): the lease, the contact
#: record, who else has it out or owns it (the record's own copies, current under the
#: lock), and the number of the callback being delivered, if it has one.
_DIAL_TARGET = (
    select(
        _CR.c.record_id,
        _CR.c.agent_id,
        _CR.c.leased_at,
        _CR.c.accept_by,
        _CR.c.called_at,
        _CR.c.handled_pass,
        _RECORDS.c.tz,
        _RECORDS.c.phones,
        _RECORDS.c.data,
        _RECORDS.c.owner_id,
        _RECORDS.c.out_campaign_id,
        _RECORDS.c.out_until,
        _RECORDS.c.owner_campaign_id,
        _RECORDS.c.owner_until,
        _CALLBACKS.c.number,
    )
    .select_from(
        _CR.join(_RECORDS, _RECORDS.c.id == _CR.c.record_id).outerjoin(
            _CALLBACKS,
            and_(
                _CALLBACKS.c.campaign_id == _CR.c.campaign_id,
                _CALLBACKS.c.record_id == _CR.c.record_id,
                _CALLBACKS.c.status == CallbackStatus.DELIVERED.value,
            ),
        )
    )
    .where(*_IS_LEASE, _CR.c.record_id == bindparam("record"))
    .with_for_update(of=[_CR, _RECORDS])
)


def dial_target(session: Session, campaign_id: int, record_id: int, agent_id: int) -> DialTarget:
    """:data:`_DIAL_TARGET`; 404 unless the record is delivered to ``agent_id``."""
    row = session.execute(
        _DIAL_TARGET, {"campaign": campaign_id, "agent": agent_id, "record": record_id}
    ).one_or_none()
    if row is None:
        raise _not_delivered(campaign_id, record_id)
    (record, owner, leased_at, accept_by, called_at, handled_pass, tz, phones, data) = row[:9]
    lead_owner, out_campaign, out_until, owner_campaign, owner_until, number = row[9:]
    return DialTarget(
        lease=Lease(int(record), owner, leased_at, accept_by, called_at, handled_pass),
        record=ContactRecord(id=int(record), tz=tz, phones=phones, data=data, owner_id=lead_owner),
        out_campaign_id=out_campaign,
        out_until=out_until,
        owner_campaign_id=owner_campaign,
        owner_until=owner_until,
        callback_number=number,
    )


def lease_view(row: Any) -> LeaseView:
    """A row of :data:`WITH_RECORD_AND_CALLBACK` (extra columns after it are ignored)."""
    values = row._mapping
    callback = None
    if values["callback_status"] is not None:
        fields = {name: values[f"callback_{name}"] for name in _CALLBACK_FIELDS}
        fields["status"] = CallbackStatus(fields["status"])
        callback = CallbackView(**fields)
    lease = {name: values[name] for name in _LEASE_FIELDS}
    lease["status"] = RecordStatus(lease["status"])
    return LeaseView(**lease, callback=callback)


_UPDATE_LEASE = update(_CR).where(*_IS_LEASE, _CR.c.record_id == bindparam("record"))
#: The same for a record leased to the dialer (a predictive call in flight: no agent yet).
UPDATE_DIALER_LEASE = update(_CR).where(
    _CR.c.campaign_id == bindparam("campaign"),
    _CR.c.status == _LEASED,
    _CR.c.lease_agent_id.is_(None),
    _CR.c.record_id == bindparam("record"),
)
_UNTIL = bindparam("until", type_=UTCDateTime())
_NOW = bindparam("now", type_=UTCDateTime())
_RENEW = _UPDATE_LEASE.values(lease_expires_at=_UNTIL)
_ACCEPT = _UPDATE_LEASE.values(lease_expires_at=_UNTIL, accept_by=None, leased_at=_NOW)
_SET_PENDING = _UPDATE_LEASE.values(
    lease_expires_at=_UNTIL, pending=bindparam("wrapup", type_=_CR.c.pending.type)
)
#: The first call of this lease (a lapsed lease may have left an older one).
_DIALLED_VALUES = {
    "lease_expires_at": _UNTIL,
    "called_at": case(
        (or_(_CR.c.called_at.is_(None), _CR.c.called_at < _CR.c.leased_at), _NOW),
        else_=_CR.c.called_at,
    ),
}
_DIALLED = _UPDATE_LEASE.values(**_DIALLED_VALUES)
_DIALLED_BY_DIALER = UPDATE_DIALER_LEASE.values(**_DIALLED_VALUES)

RENEW_OUT = (
    update(_RECORDS)
    .where(
        _RECORDS.c.id == bindparam("record"), _RECORDS.c.out_campaign_id == bindparam("campaign")
    )
    .values(out_until=bindparam("until", type_=UTCDateTime()))
)
#: A call: the contact's last call, and still out with this campaign's agent (renewed).
_RENEW_OUT_CALLED = (
    update(_RECORDS)
    .where(_RECORDS.c.id == bindparam("record"))
    .values(
        last_called_at=_NOW,
        out_until=case(
            (_RECORDS.c.out_campaign_id == bindparam("campaign"), _UNTIL),
            else_=_RECORDS.c.out_until,
        ),
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


def current_lease(
    session: Session, campaign_id: int, agent_id: int, *, lock: bool = False
) -> int | None:
    """The record the agent holds in this campaign (even if its time ran out), if any."""
    query = CURRENT_LEASE_LOCKED if lock else _CURRENT_LEASE
    found = session.scalar(query, {"campaign": campaign_id, "agent": agent_id})
    return int(found) if found is not None else None


def lease(
    session: Session, campaign_id: int, record_id: int, agent_id: int, *, lock: bool = False
) -> Lease:
    """The lease if the record is delivered to ``agent_id``; else 404 (no existence leak)."""
    row = session.execute(
        _LEASE_LOCKED if lock else _LEASE,
        {"campaign": campaign_id, "agent": agent_id, "record": record_id},
    ).one_or_none()
    if row is None:
        raise _not_delivered(campaign_id, record_id)
    record, owner, leased_at, accept_by, called_at, handled_pass = row
    return Lease(int(record), owner, leased_at, accept_by, called_at, handled_pass)


def _not_delivered(campaign_id: int, record_id: int) -> NotFound:
    return NotFound(
        f"record {record_id} is not delivered to you in campaign {campaign_id}",
        field="record_id",
    )


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


def renew(
    session: Session, campaign_id: int, record_id: int, agent_id: int, until: datetime
) -> None:
    """Push the lease's expiry to ``until``; 404 if the lease is no longer the agent's."""
    update_lease(session, _RENEW, campaign_id, record_id, agent_id, until=until)
    session.execute(RENEW_OUT, {"record": record_id, "campaign": campaign_id, "until": until})


def accept(
    session: Session,
    campaign_id: int,
    record_id: int,
    agent_id: int,
    now: datetime,
    until: datetime,
) -> None:
    """A push accepted: no deadline any more, the preview starts now, the lease runs until
    ``until``."""
    update_lease(session, _ACCEPT, campaign_id, record_id, agent_id, now=now, until=until)
    session.execute(RENEW_OUT, {"record": record_id, "campaign": campaign_id, "until": until})


def set_pending(
    session: Session,
    campaign_id: int,
    record_id: int,
    agent_id: int,
    pending: dict[str, Any],
    until: datetime,
) -> None:
    """The wrap-up chosen for Done, and the lease renewed until ``until``."""
    update_lease(
        session, _SET_PENDING, campaign_id, record_id, agent_id, until=until, wrapup=pending
    )
    session.execute(RENEW_OUT, {"record": record_id, "campaign": campaign_id, "until": until})


def dialled(
    session: Session,
    campaign_id: int,
    record_id: int,
    agent_id: int | None,
    now: datetime,
    until: datetime,
) -> None:
    """A call placed now: the lease's first call (``called_at``), renewed until ``until``,
    and the contact's last call. ``agent_id`` ``None``: the record is leased to the dialer."""
    statement = _DIALLED if agent_id is not None else _DIALLED_BY_DIALER
    update_lease(session, statement, campaign_id, record_id, agent_id, now=now, until=until)
    params = {"record": record_id, "campaign": campaign_id, "until": until, "now": now}
    session.execute(_RENEW_OUT_CALLED, params)


def update_lease(
    session: Session,
    statement: Any,
    campaign_id: int,
    record_id: int,
    agent_id: int | None,
    **values: Any,
) -> None:
    params = {"campaign": campaign_id, "agent": agent_id, "record": record_id, **values}
    if not session.execute(statement, params).rowcount:  # type: ignore[attr-defined]
        raise _not_delivered(campaign_id, record_id)


def release(
    session: Session,
    campaign_id: int,
    record_id: int,
    agent_id: int | None,
    *,
    attempts_added: int = 0,
    lead_status: str | None = None,
    rank: Rank | None = None,
    ending: dict[str, Any] | None = None,
    **values: Any,
) -> bool:
    """End the agent's lease, setting ``values`` (status and progress) and adding
    ``attempts_added`` to the attempts, in the same guarded UPDATE; 404 if the record is no
    longer leased to the agent. ``lead_status``: the record's status across campaigns
    (``records.last_code``) becomes this wrap-up code, in the statement that frees the
    contact for other campaigns. ``rank``: the record goes before or after every record of
    the campaign. ``agent_id`` ``None``: the record is leased to the dialer. ``ending``: the
    parameters of :func:`callhopper.store.deliveries.end_delivery`, whose writes the release
    carries where it is one statement (returns whether it did: else the caller sends them)."""
    dialer = agent_id is None
    # Plain values are parameters of a statement built once; SQL expressions (a rank computed
    # in the statement) are added to it.
    exprs = {name: v for name, v in values.items() if isinstance(v, ClauseElement)}
    plain = {name: v for name, v in values.items() if name not in exprs}
    params: dict[str, Any] = {"campaign": campaign_id, "agent": agent_id, "record": record_id}
    params.update({f"set_{name}": value for name, value in plain.items()})
    params["attempts_added"] = attempts_added
    one_statement = session.get_bind().dialect.name == "postgresql" and not exprs
    if one_statement:
        # One statement: the lease's release, then the contact freed in a statement that
        # reads the released row (so nothing is freed when the guard failed).
        statement = _release_and_free_postgresql(
            frozenset(plain), rank, lead_status is not None, dialer, ending is not None
        )
        params["lead_code"] = lead_status
        result = session.execute(statement, {**params, **(ending or {})})
    else:
        statement = _release_statement(frozenset(plain), rank, dialer)
        if exprs:
            statement = statement.values(**exprs)
        result = session.execute(statement, params)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(
            f"record {record_id} is not delivered to you in campaign {campaign_id}",
            field="record_id",
        )
    if one_statement:
        return ending is not None  # the contact was freed by the same statement
    if lead_status is None:
        clear_out(session, campaign_id, [record_id])
    else:
        session.execute(
            _CLEAR_OUT_WITH_STATUS,
            {"record": record_id, "campaign": campaign_id, "status": lead_status},
        )
    return False


_OTHER = _CR.alias("other")
#: A rank before, or after, every record of the campaign.
_RANKS = {
    Rank.TOP: select(func.coalesce(func.min(_OTHER.c.rank), 0) - 1)
    .where(_OTHER.c.campaign_id == bindparam("campaign"))
    .scalar_subquery(),
    Rank.BACK: select(func.coalesce(func.max(_OTHER.c.rank), 0) + 1)
    .where(_OTHER.c.campaign_id == bindparam("campaign"))
    .scalar_subquery(),
}


@lru_cache(maxsize=64)
def _release_statement(
    names: frozenset[str], rank: Rank | None = None, dialer: bool = False
) -> Any:
    """The guarded UPDATE of a release setting these columns (one per set of names)."""
    ranked = {"rank": _RANKS[rank]} if rank is not None else {}
    guarded = UPDATE_DIALER_LEASE if dialer else _UPDATE_LEASE
    return guarded.values(
        lease_agent_id=None,
        lease_expires_at=None,
        pending=null(),  # SQL NULL (None would be JSON null)
        attempts=_CR.c.attempts + bindparam("attempts_added"),
        **{name: bindparam(f"set_{name}", type_=_CR.c[name].type) for name in names},
        **ranked,
    )


@lru_cache(maxsize=64)
def _release_and_free_postgresql(
    names: frozenset[str], rank: Rank | None, with_lead_code: bool, dialer: bool, ending: bool
) -> Any:
    """:func:`_release_statement` as a CTE, and the contact it releases no longer out with
    this campaign (and given the lead's status ``lead_code``), in one UPDATE whose row count
    is the release's; with ``ending``, the end of the delivery too (its interaction and its
    history row: :data:`~callhopper.store.deliveries.END_DELIVERY_CTES`). No parameter is
    named after a column of either table: an UPDATE adds such a parameter to what it sets."""
    released = _release_statement(names, rank, dialer).returning(_CR.c.record_id).cte("released")
    values: dict[str, Any] = dict(_FREED_IF_OURS)
    if with_lead_code:
        values["last_code"] = bindparam("lead_code")
    statement = (
        update(_RECORDS)
        .where(_RECORDS.c.id.in_(select(released.c.record_id).scalar_subquery()))
        .values(**values)
    )
    return statement.add_cte(*END_DELIVERY_CTES) if ending else statement


def clear_out(session: Session, campaign_id: int, record_ids: Sequence[int]) -> None:
    """The contacts are no longer out with an agent of this campaign."""
    session.execute(_CLEAR_OUT, {"records": list(record_ids), "campaign": campaign_id})


def end_agent_work(session: Session, agent_id: int, now: datetime) -> int:
    """A deactivated agent leaves every campaign: logged out, every lease they hold lapses
    now (the next claim takes the record, as after any lapsed lease), and a push they had
    not accepted goes back. Returns how many records they held."""
    held = session.execute(
        select(CampaignRecord.campaign_id, CampaignRecord.record_id).where(
            CampaignRecord.status == _LEASED, CampaignRecord.lease_agent_id == agent_id
        )
    ).all()
    session.execute(
        update(CampaignRecord)
        .where(CampaignRecord.status == _LEASED, CampaignRecord.lease_agent_id == agent_id)
        .values(lease_expires_at=now, accept_by=None)
        .execution_options(synchronize_session=False)
    )
    for campaign_id, record_id in held:
        clear_out(session, campaign_id, [record_id])
    session.execute(delete(AgentSession).where(AgentSession.user_id == agent_id))
    return len(held)
