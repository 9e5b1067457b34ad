"""Agents' sessions in campaigns, their channel state (ready or not ready on each
channel), and which agents of pushed campaigns wait for a record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, literal, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from callhopper.domain.actors import Actor
from callhopper.domain.campaigns import PUSH_MODES, CampaignState, Channel, DialingMode
from callhopper.domain.dispensing import AgentCampaign
from callhopper.domain.errors import NotFound
from callhopper.domain.events import HeldPush
from callhopper.domain.records import RecordStatus
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
from callhopper.store.users import actor_of

_PUSHED = [mode.value for mode in PUSH_MODES]
#: Campaign states in which agents work a campaign.
_ACTIVE = (CampaignState.ON.value, CampaignState.STOPPING.value)

#: Log an agent into a campaign if needed and set Get Record / Stop (one upsert).
SESSION_UPSERT = text(
    "INSERT INTO agent_sessions (campaign_id, user_id, logged_in_at, receiving, receiving_since) "
    "VALUES (:campaign, :agent, :now, :receiving, :now) "
    "ON CONFLICT (campaign_id, user_id) DO UPDATE SET receiving = excluded.receiving, "
    "receiving_since = CASE WHEN excluded.receiving AND NOT agent_sessions.receiving "
    "THEN excluded.receiving_since ELSE agent_sessions.receiving_since END "
    # unchanged (a Get Record while receiving): no new row version, the row locked all the same
    "WHERE agent_sessions.receiving <> excluded.receiving"
).bindparams(bindparam("now", type_=UTCDateTime()))

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
            CampaignRecord.status == RecordStatus.LEASED.value,
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
            Campaign.mode.in_(_PUSHED),
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


_MY_CAMPAIGNS = (
    select(Campaign, AgentSession)
    .join(QueueMember, QueueMember.queue_id == Campaign.queue_id)
    .outerjoin(
        AgentSession,
        and_(
            AgentSession.campaign_id == Campaign.id,
            AgentSession.user_id == bindparam("agent"),
        ),
    )
    .where(QueueMember.user_id == bindparam("agent"), Campaign.state.in_(_ACTIVE))
    .order_by(Campaign.name)
)
_MY_LEASES = select(CampaignRecord.campaign_id, CampaignRecord.record_id).where(
    CampaignRecord.lease_agent_id == bindparam("agent"),
    CampaignRecord.status == RecordStatus.LEASED.value,
)
# From the running pushed campaigns to their records leased to the agents, through the
# partial index of leases by (campaign, agent): no scan of a campaign's records.
_HELD_PUSHES = (
    select(
        CampaignRecord.lease_agent_id,
        CampaignRecord.campaign_id,
        CampaignRecord.record_id,
        CampaignRecord.leased_at,
    )
    .join(Campaign, Campaign.id == CampaignRecord.campaign_id)
    .where(
        Campaign.mode.in_(_PUSHED),
        Campaign.state.in_(_ACTIVE),
        CampaignRecord.status == RecordStatus.LEASED.value,
        CampaignRecord.lease_agent_id.in_(bindparam("agents", expanding=True)),
    )
)
#: Agents per statement (bound parameters).
_HELD_PUSHES_CHUNK = 1000
_RECEIVING = select(AgentSession.receiving).where(
    AgentSession.campaign_id == bindparam("campaign"),
    AgentSession.user_id == bindparam("agent"),
)


class SqlAgentSessions:
    """Agents' sessions and channels in one session's transaction
    (:class:`callhopper.ports.agents.AgentSessions`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enter(self, campaign_id: int, agent_id: int, now: datetime, *, receiving: bool) -> None:
        params = {"campaign": campaign_id, "agent": agent_id, "now": now, "receiving": receiving}
        self.session.execute(SESSION_UPSERT, params)

    def leave(self, campaign_id: int, agent_id: int) -> None:
        self.session.execute(
            delete(AgentSession).where(
                AgentSession.campaign_id == campaign_id, AgentSession.user_id == agent_id
            )
        )

    def receiving(self, campaign_id: int, agent_id: int) -> bool:
        return bool(self.session.scalar(_RECEIVING, {"campaign": campaign_id, "agent": agent_id}))

    def set_ready(self, agent_id: int, channel: Channel, ready: bool, now: datetime) -> None:
        set_ready(self.session, agent_id, channel, ready, now)

    def channels(self, agent_id: int) -> dict[Channel, bool]:
        return channels(self.session, agent_id)

    def waiting(self, campaign_id: int | None = None) -> list[tuple[int, int]]:
        return waiting(self.session, campaign_id)

    def first_in_line(self, campaign_id: int, agent_id: int, *, alone: bool) -> bool:
        return first_in_line(self.session, campaign_id, agent_id, alone=alone)

    def held_pushes(self, agent_ids: list[int]) -> list[HeldPush]:
        held = []
        for at in range(0, len(agent_ids), _HELD_PUSHES_CHUNK):
            chunk = agent_ids[at : at + _HELD_PUSHES_CHUNK]
            for agent, campaign, record, leased_at in self.session.execute(
                _HELD_PUSHES, {"agents": chunk}
            ):
                if agent is not None and leased_at is not None:  # both set while leased
                    held.append(HeldPush(agent, campaign, record, leased_at))
        return held

    def my_campaigns(self, agent_id: int) -> list[AgentCampaign]:
        rows = self.session.execute(_MY_CAMPAIGNS, {"agent": agent_id}).all()
        leases: dict[int, int] = {
            int(c): int(r) for c, r in self.session.execute(_MY_LEASES, {"agent": agent_id})
        }
        return [
            AgentCampaign(
                id=c.id,
                name=c.name,
                description=c.description,
                state=CampaignState(c.state),
                mode=DialingMode(c.mode),
                logged_in=s is not None,
                receiving=s.receiving if s is not None else False,
                record_id=leases.get(c.id),
            )
            for c, s in rows
        ]

    def actor(self, agent_id: int) -> Actor:
        user = self.session.get(User, agent_id)
        if user is None or not user.active:
            raise NotFound(f"no active agent {agent_id}")
        return actor_of(self.session, user)
