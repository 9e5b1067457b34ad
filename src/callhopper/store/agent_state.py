"""Agents' channel state (ready / not ready per channel, SPEC §2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from callhopper.domain.campaigns import Channel
from callhopper.store.models import AgentChannel
from callhopper.store.types import UTCDateTime

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
