"""Agents' channel state (ready / not ready per channel, SPEC §2), and which agents of
pushed campaigns wait for a record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, literal, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from callhopper.domain.campaigns import CampaignState, Channel, DialingMode
from callhopper.store.models import (
    AgentChannel,
    AgentSession,
    Assignment,
    Campaign,
    CampaignRecord,
    QueueMember,
    User,
)
from callhopper.store.types import UTCDateTime

PUSH_MODES = (DialingMode.PUSH_PREVIEW.value, DialingMode.DIRECT_PUSH_PREVIEW.value)

_SET = text(
    "INSERT INTO agent_channels (user_id, channel, ready, changed_at) "
    "VALUES (:agent, :channel, :ready, :now) "
    "ON CONFLICT (user_id, channel) DO UPDATE SET ready = excluded.ready, "
    "changed_at = excluded.changed_at"
).bindparams(bindparam("now", type_=UTCDateTime()))


def set_ready(
    session: Session, agent_id: int, channel: Channel, ready: bool, now: datetime
) -> None:
    session.execute(_SET, {"agent": agent_id, "channel": channel.value, "ready": ready, "now": now})


def channels(session: Session, agent_id: int) -> dict[Channel, bool]:
    """Every channel's state; a channel never set is not ready."""
    state = dict.fromkeys(Channel, False)
    for channel, ready in session.execute(
        select(AgentChannel.channel, AgentChannel.ready).where(AgentChannel.user_id == agent_id)
    ):
        state[Channel(channel)] = bool(ready)
    return state


def ready_agents(session: Session, agent_ids: list[int], channel: Channel) -> set[int]:
    return set(
        session.scalars(
            select(AgentChannel.user_id).where(
                AgentChannel.user_id.in_(agent_ids),
                AgentChannel.channel == channel.value,
                AgentChannel.ready.is_(True),
            )
        )
    )


def _waiting_statement() -> Select[Any]:
    # The agent holds no lease. A scalar subquery, not NOT EXISTS: PostgreSQL keeps it a
    # probe of the one-lease-per-agent index per session. As an anti-join, planned with
    # statistics taken before the shift began (no leases yet), it compared every session
    # with every lease: 200 ms for 1,000 agents, where the probes take 3.
    no_lease = (
        select(literal(1))
        .where(
            CampaignRecord.campaign_id == AgentSession.campaign_id,
            CampaignRecord.lease_agent_id == AgentSession.user_id,
            CampaignRecord.status == "leased",
        )
        .limit(1)
        .scalar_subquery()
        .is_(None)
    )
    # The newest assignment (index on agent, leased_at): its release ended the last record.
    released_at = (
        select(Assignment.released_at)
        .where(
            Assignment.agent_id == AgentSession.user_id,
            Assignment.campaign_id == AgentSession.campaign_id,
        )
        .order_by(Assignment.leased_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    in_queue = (
        select(QueueMember.user_id)
        .where(
            QueueMember.queue_id == Campaign.queue_id,
            QueueMember.user_id == AgentSession.user_id,
        )
        .exists()
    )
    push_preview = Campaign.mode == DialingMode.PUSH_PREVIEW.value
    return (
        select(
            AgentSession.campaign_id,
            AgentSession.user_id,
            AgentSession.receiving_since,
            released_at,
            case((push_preview, AgentChannel.changed_at), else_=None),
        )
        .join(Campaign, Campaign.id == AgentSession.campaign_id)
        .join(User, User.id == AgentSession.user_id)
        # The agent's outbound_preview state: when they got ready is when push preview's
        # wait starts.
        .outerjoin(
            AgentChannel,
            and_(
                AgentChannel.user_id == AgentSession.user_id,
                AgentChannel.channel == Channel.OUTBOUND_PREVIEW.value,
            ),
        )
        .where(
            User.active.is_(True),  # a deactivated agent's session outlives them
            Campaign.state == CampaignState.ON.value,
            Campaign.mode.in_(PUSH_MODES),
            in_queue,
            no_lease,
            (
                and_(push_preview, AgentChannel.ready.is_(True))
                | and_(
                    Campaign.mode == DialingMode.DIRECT_PUSH_PREVIEW.value,
                    AgentSession.receiving.is_(True),
                )
            ),
        )
        .order_by(AgentSession.user_id)
    )


_WAITING = _waiting_statement()
_WAITING_IN = _WAITING.where(AgentSession.campaign_id == bindparam("campaign"))
_TWO_WAITING_IN = _WAITING_IN.with_only_columns(AgentSession.user_id).limit(2)
_WAITING_AGENT = _WAITING_IN.with_only_columns(AgentSession.user_id).where(
    AgentSession.user_id == bindparam("agent")
)


def waiting(session: Session, campaign_id: int | None = None) -> list[tuple[int, int]]:
    """(campaign, agent) pairs of agents of pushed campaigns who should get a record now (in
    the queue, active, ready or receiving, holding none), of one campaign or of all.

    The agent who has waited longest comes first: from the latest of their last release in
    the campaign, the moment Get Record / Stop went on (or the login) and, in push preview,
    the moment they got ready. Records scarcer than agents then go round the floor, not to
    whoever logged in first."""
    if campaign_id is None:
        rows = session.execute(_WAITING).all()
    else:
        rows = session.execute(_WAITING_IN, {"campaign": campaign_id}).all()
    # Stable: equal waits keep the user id order.
    by_wait = sorted(rows, key=lambda r: max(t for t in r[2:] if t is not None))
    return [(r[0], r[1]) for r in by_wait]


def first_in_line(session: Session, campaign_id: int, agent_id: int, *, alone: bool) -> bool:
    """Whether the agent waits for a push in the campaign (see :func:`waiting`) and, when
    ``alone``, nobody else does: then nobody has waited longer. Reads two rows at most,
    where :func:`waiting` reads and sorts every waiting agent."""
    if not alone:
        params = {"campaign": campaign_id, "agent": agent_id}
        return session.execute(_WAITING_AGENT, params).first() is not None
    found = session.scalars(_TWO_WAITING_IN, {"campaign": campaign_id}).all()
    return list(found) == [agent_id]
