"""Agents' sessions: My Campaigns, login and logout, Get Record / Stop, ready and not ready
on each channel."""

from __future__ import annotations

from callhopper.core.dispensing.base import (
    DispensingBase,
    agent_id_of,
    complete_if_stopping,
)
from callhopper.core.dispensing.views import MyCampaign
from callhopper.domain.actors import Actor
from callhopper.domain.campaigns import Channel
from callhopper.domain.dispensing import LeaseChange
from callhopper.domain.events import AgentEvent
from callhopper.domain.records import RecordStatus
from callhopper.domain.rights import Right


def my_campaigns(d: DispensingBase, agent: Actor) -> list[MyCampaign]:
    """Running campaigns of the agent's queues (*My Campaigns*)."""
    agent_id = agent_id_of(agent)
    with d.uow.read() as tx:
        rows = tx.agents.my_campaigns(agent_id)
    return [
        MyCampaign(
            id=c.id,
            name=c.name,
            description=c.description,
            state=c.state,
            mode=c.mode,
            delivery=c.mode.delivery,
            logged_in=c.logged_in,
            receiving=c.receiving,
            record_id=c.record_id,
        )
        for c in rows
    ]


def login(d: DispensingBase, agent: Actor, campaign_id: int) -> None:
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id)
        tx.agents.enter(ctx.id, agent_id_of(agent), d.clock.now(), receiving=True)
    d.agents_changed(campaign_id)


def logout(d: DispensingBase, agent: Actor, campaign_id: int) -> None:
    """Leave the campaign. A record still delivered goes back; its owner does not change."""
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id)
        record_id = tx.claims.current_lease(ctx.id, agent_id, lock=True)
        now = d.clock.now()  # once the lease is held: the history's times stay in order
        if record_id is not None:
            back = LeaseChange(status=RecordStatus.READY)
            tx.claims.release(ctx.id, record_id, agent_id, back)
            tx.claims.close_assignment(ctx.id, record_id, now=now, outcome="logout")
        tx.agents.leave(ctx.id, agent_id)
        complete_if_stopping(tx, ctx, now)
    d.agents_changed(campaign_id)


def set_receiving(d: DispensingBase, agent: Actor, campaign_id: int, on: bool) -> None:
    """Direct push preview's Get Record / Stop toggle."""
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        d.context(tx, agent, campaign_id)
        tx.agents.enter(campaign_id, agent_id, d.clock.now(), receiving=on)
        d.publish(AgentEvent(agent_id, "state", campaign_id), tx)
    d.agents_changed(campaign_id)
    d.work(campaign_id)


def set_channel(
    d: DispensingBase, agent: Actor, channel: Channel, ready: bool
) -> dict[Channel, bool]:
    """Ready / not ready on a channel."""
    agent_id = agent_id_of(agent)
    agent.require(Right.AGENT_WORK)
    with d.uow.write() as tx:
        tx.agents.set_ready(agent_id, channel, ready, d.clock.now())
        state = tx.agents.channels(agent_id)
        d.publish(AgentEvent(agent_id, "state"), tx)
    if ready:
        d.work(0)
    return state


def channels(d: DispensingBase, agent: Actor) -> dict[Channel, bool]:
    with d.uow.read() as tx:
        return tx.agents.channels(agent_id_of(agent))


def receiving(d: DispensingBase, agent: Actor, campaign_id: int) -> bool:
    """Whether the agent's Get Record / Stop toggle is on in the campaign (off when they
    are not logged into it)."""
    with d.uow.read() as tx:
        return tx.agents.receiving(campaign_id, agent_id_of(agent))
