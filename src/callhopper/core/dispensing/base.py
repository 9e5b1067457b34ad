"""What every part of the dispensing core shares: its ports, its wake-up hooks, and the
campaign as the agent may see it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from callhopper.domain.actors import Actor
from callhopper.domain.campaigns import CampaignState
from callhopper.domain.dispensing import CampaignContext
from callhopper.domain.errors import Contention, NotFound
from callhopper.domain.events import AgentEvent
from callhopper.domain.rights import Right
from callhopper.ports.clock import Clock
from callhopper.ports.events import AgentEvents
from callhopper.ports.transactions import Transaction, UnitOfWork
from callhopper.ports.validation import NumberValidator

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


class DispensingBase:
    """The ports and hooks of the dispensing core (the facade,
    :class:`~callhopper.core.dispensing.Dispenser`, is one)."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        *,
        bus: AgentEvents | None = None,
        on_agents_change: Callable[[int], None] | None = None,
        on_work: Callable[[int], None] | None = None,
        on_webhooks_queued: Callable[[], None] | None = None,
        validator: NumberValidator | None = None,
        load_hopper: Callable[[int], object] | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        #: Where agents' real-time events go (deliveries, state changes); none: nowhere.
        self.bus = bus
        #: The external pre-dial validation service, if one is configured (without one,
        #: every number passes it; the campaign's do-not-call lists still apply).
        self.validator = validator
        #: Called with a campaign id when an agent logs in or out (wakes the hopper loader).
        self.on_agents_change = on_agents_change
        #: Called with a campaign id when a record or an agent becomes free (wakes the
        #: pusher; ``0``: an agent got ready, any campaign).
        self.on_work = on_work
        #: Called after a Done whose workflow rules queued webhooks has committed (wakes the
        #: webhook sender).
        self.on_webhooks_queued = on_webhooks_queued
        #: Loads a lead-ownership campaign's hopper now, in the caller's thread (the
        #: loader's ``load``): the first Get Record after a login, before any load has
        #: staged the agent's leads, runs it rather than answer ``hopper_empty``.
        self.load_hopper = load_hopper

    def work(self, campaign_id: int) -> None:
        if self.on_work is not None:
            self.on_work(campaign_id)

    def agents_changed(self, campaign_id: int) -> None:
        if self.on_agents_change is not None:
            self.on_agents_change(campaign_id)

    def publish(self, event: AgentEvent, tx: Transaction | None = None) -> None:
        """Tell the agent's channel, once ``tx`` commits (or at once without one)."""
        if self.bus is not None:
            self.bus.publish(event, tx)

    @staticmethod
    def context(
        tx: Transaction, agent: Actor, campaign_id: int, *, require_member: bool = True
    ) -> CampaignContext:
        """The campaign as the agent may see it: 404 unless they are in its queue.

        Actions on a record already delivered need no membership check: the guarded lease
        is the agent's right to act on it.
        """
        agent.require(Right.AGENT_WORK)
        ctx = tx.claims.context(campaign_id, agent.id)
        if ctx is None or (require_member and not ctx.member):
            raise NotFound(f"no campaign {campaign_id} for you", field="campaign_id")
        return ctx


def agent_id_of(agent: Actor) -> int:
    if agent.id is None:
        raise NotFound("only a user can work records")
    return agent.id


def complete_if_stopping(tx: Transaction, ctx: CampaignContext, now: datetime) -> None:
    """A stopping campaign completes with the end of its last lease."""
    if ctx.state is CampaignState.STOPPING:
        tx.claims.complete_if_drained(ctx.id, now)


def again_after_contention(work: Callable[[], _T]) -> _T:
    """``work`` (one transaction), run once more if the database rolled it back to break a
    deadlock. Seen in dispense_bench with two campaigns sharing a list, campaign ownership
    on, before claims locked a candidate's record first: a Done setting its record aside
    in the other campaign waited for a row the other campaign's claim held, and that claim
    waited for the Done's transaction. Kept for cycles that no lock order rules out
    (PostgreSQL may wait for a newer version of a row even under SKIP LOCKED). Nothing of
    the victim was committed, and its events are sent only on commit, so running it again
    is safe."""
    try:
        return work()
    except Contention as exc:
        logger.warning("rolled back to break a deadlock; running it again: %s", exc)
    return work()
