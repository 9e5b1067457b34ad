"""One record as the claims see it: the columns their conditions read, and each named
condition of the claim statements (:data:`~callhopper.store.claims.statements.CONDITIONS`)
evaluated for that record, with the very SQL the claims run. "Why not?" reads this; it
never restates a condition."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from callhopper.domain.dispensing import CampaignContext, HeldElsewhere
from callhopper.domain.eligibility import Presence, RecordConditions
from callhopper.domain.records import CallbackStatus, RecordStatus
from callhopper.store.claims.statements import (
    COMMON,
    STATES,
    ClaimRequest,
    claim_binds,
    claim_params,
    condition,
    owner_condition,
)
from callhopper.store.models import AgentSession, Campaign, QueueMember, User
from callhopper.store.types import UTCDateTime

_TIMES = (
    "lease_expires_at",
    "retry_at",
    "blocked_until",
    "owner_until",
    "out_until",
    "callback_due_at",
)


@cache
def _statement(dialect: str, owned: bool) -> Any:
    names = (*STATES, owner_condition(owned), *COMMON)
    holds = ", ".join(
        f"CASE WHEN ({condition(n, dialect)}) THEN 1 ELSE 0 END AS holds_{n}" for n in names
    )
    sql = (
        "SELECT c.status, c.agent_id AS owner_snapshot, u.user_id AS lease_agent, "
        "c.lease_expires_at, c.retry_at, c.blocked_until, c.reserved_for, c.tz, c.last_code, "
        "c.error, r.owner_id AS lead_owner, r.owner_campaign_id, oc.name AS owner_campaign, "
        "r.owner_until, r.out_campaign_id, xc.name AS out_campaign, r.out_until, "
        "(SELECT min(cb.due_at) FROM callbacks AS cb WHERE cb.campaign_id = c.campaign_id "
        f"AND cb.record_id = c.record_id AND cb.status = '{CallbackStatus.SCHEDULED.value}') "
        "AS callback_due_at, "
        "(SELECT count(*) FROM hopper AS h WHERE h.campaign_id = c.campaign_id "
        "AND h.record_id = c.record_id) AS in_hopper, "
        f"{holds} "
        "FROM campaign_records AS c JOIN records AS r ON r.id = c.record_id "
        "LEFT JOIN users AS u ON u.id = c.lease_agent_id "
        "LEFT JOIN campaigns AS oc ON oc.id = r.owner_campaign_id "
        "LEFT JOIN campaigns AS xc ON xc.id = r.out_campaign_id "
        "WHERE c.campaign_id = :campaign AND c.record_id = :record"
    )
    return (
        text(sql)
        .bindparams(*claim_binds(dialect, sql))
        .columns(**{name: UTCDateTime() for name in _TIMES})
    )


def conditions(
    session: Session,
    ctx: CampaignContext,
    record_id: int,
    *,
    agent_id: int | None,
    zones: Sequence[str],
    now: datetime,
) -> RecordConditions | None:
    """The record in the campaign, and whether each condition of a claim by ``agent_id``
    (``None``: an agent without records of their own) holds for it now; ``None`` when the
    record is not the campaign's."""
    dialect = session.get_bind().dialect.name
    owned = ctx.agent_owned_column is not None
    request = ClaimRequest(
        campaign_id=ctx.id,
        agent_id=agent_id or 0,
        owned=owned,
        now=now,
        lease_until=now,
        zones=zones,
        pass_no=ctx.pass_no,
    )
    params = {**claim_params(request), "agent": agent_id, "record": record_id}
    row = session.execute(_statement(dialect, owned), params).mappings().one_or_none()
    if row is None:
        return None
    holds = {
        key.removeprefix("holds_"): bool(value)
        for key, value in row.items()
        if key.startswith("holds_")
    }
    return RecordConditions(
        status=RecordStatus(row["status"]),
        owner_snapshot=row["owner_snapshot"],
        lease_agent=row["lease_agent"],
        lease_expires_at=row["lease_expires_at"],
        retry_at=row["retry_at"],
        blocked_until=row["blocked_until"],
        reserved_for=row["reserved_for"],
        tz=row["tz"],
        last_code=row["last_code"],
        error=row["error"],
        lead_owner=row["lead_owner"],
        owner_campaign_id=row["owner_campaign_id"],
        owner_campaign=row["owner_campaign"],
        owner_until=row["owner_until"],
        out_campaign_id=row["out_campaign_id"],
        out_campaign=row["out_campaign"],
        out_until=row["out_until"],
        callback_due_at=row["callback_due_at"],
        in_hopper=bool(row["in_hopper"]),
        holds=holds,
    )


@cache
def _held_statement(dialect: str, owned: bool) -> Any:
    # Deliverable but for the holder: in a state a claim takes (or set aside for another
    # campaign), the agent's, and owned elsewhere or out elsewhere now.
    state = " OR ".join(f"({condition(n, dialect)})" for n in STATES)
    free = " AND ".join(
        f"({condition(n, dialect)})" for n in ("not_owned_elsewhere", "not_out_elsewhere")
    )
    mine = " AND ".join(
        f"({condition(n, dialect)})" for n in (owner_condition(owned), "reserved_for_agent")
    )
    held = (
        f"FROM campaign_records AS c JOIN records AS r ON r.id = c.record_id "
        f"WHERE c.campaign_id = :campaign AND {mine} AND ((({state}) AND NOT ({free})) "
        f"OR (c.status = '{RecordStatus.BLOCKED.value}' AND c.blocked_until > :now))"
    )
    # The holder: the owning campaign, else the one that has the contact out.
    holder = (
        "CASE WHEN r.owner_campaign_id IS NOT NULL AND r.owner_campaign_id <> :campaign "
        "AND (r.owner_until IS NULL OR r.owner_until > :now) THEN r.owner_campaign_id "
        "ELSE r.out_campaign_id END"
    )
    until = (
        "CASE WHEN c.status = 'blocked' AND c.blocked_until > :now THEN c.blocked_until "
        "WHEN r.owner_campaign_id IS NOT NULL AND r.owner_campaign_id <> :campaign "
        "AND (r.owner_until IS NULL OR r.owner_until > :now) THEN r.owner_until "
        "ELSE r.out_until END"
    )
    sql = (
        f"SELECT (SELECT count(*) {held}) AS held, h.holder, k.name, h.until FROM "
        f"(SELECT {holder} AS holder, {until} AS until {held} "
        # the one freed first; no expiry last
        "ORDER BY CASE WHEN " + until + " IS NULL THEN 1 ELSE 0 END, " + until + " LIMIT 1"
        ") AS h LEFT JOIN campaigns AS k ON k.id = h.holder"
    )
    return text(sql).bindparams(*claim_binds(dialect, sql)).columns(until=UTCDateTime())


def held_elsewhere(
    session: Session, ctx: CampaignContext, agent_id: int, now: datetime
) -> HeldElsewhere | None:
    """The agent's records that another campaign holds now, if any."""
    dialect = session.get_bind().dialect.name
    owned = ctx.agent_owned_column is not None
    params = {"campaign": ctx.id, "agent": agent_id, "now": now}
    row = session.execute(_held_statement(dialect, owned), params).first()
    if row is None or not row.held or row.holder is None:
        return None
    return HeldElsewhere(int(row.held), int(row.holder), row.name, row.until)


def presence(session: Session, campaign_id: int, agent_id: int | None) -> Presence:
    """The agent a record waits for (``None``: any agent), as the campaign sees them."""
    queue = select(Campaign.queue_id).where(Campaign.id == campaign_id).scalar_subquery()
    members = select(QueueMember.user_id).where(QueueMember.queue_id == queue)
    logged_in_members = session.scalar(
        select(func.count())
        .select_from(AgentSession)
        .join(User, User.id == AgentSession.user_id)
        .where(
            AgentSession.campaign_id == campaign_id,
            User.active.is_(True),
            AgentSession.user_id.in_(members),
        )
    )
    if agent_id is None:
        return Presence(None, None, True, True, True, int(logged_in_members or 0))
    row = session.execute(
        select(
            User.user_id,
            User.active,
            select(QueueMember.user_id)
            .where(QueueMember.queue_id == queue, QueueMember.user_id == agent_id)
            .exists(),
            select(AgentSession.user_id)
            .where(AgentSession.campaign_id == campaign_id, AgentSession.user_id == agent_id)
            .exists(),
        ).where(User.id == agent_id)
    ).one_or_none()
    if row is None:
        return Presence(agent_id, None, False, False, False, int(logged_in_members or 0))
    user_id, active, member, logged_in = row
    return Presence(
        agent_id, user_id, bool(active), bool(member), bool(logged_in), int(logged_in_members or 0)
    )
