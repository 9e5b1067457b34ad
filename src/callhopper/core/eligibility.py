""" "Why not?": whether a record can be delivered (or dialled) now in a campaign, and every
reason it cannot, each with its end where it has one.

Nothing here restates a rule of the dispenser. The store evaluates, for the one record,
each named condition the claim statements are built from, as the claim of the agent the
record waits for would; the do-not-call check is the one the claim runs
(:func:`callhopper.core.dispensing.getrecord.listed_plan_of`);
:func:`callhopper.domain.eligibility.blockers` names what does not hold.
"""

from __future__ import annotations

from datetime import datetime

from callhopper.core.dispensing.getrecord import listed_plan_of
from callhopper.domain.actors import Actor
from callhopper.domain.dispensing import CampaignContext
from callhopper.domain.eligibility import (
    Eligibility,
    RecordConditions,
    awaited_agent,
    blockers,
)
from callhopper.domain.errors import NotFound
from callhopper.domain.predial import CloseReason, numbers_of
from callhopper.domain.rights import Right
from callhopper.ports.clock import Clock
from callhopper.ports.transactions import Transaction, UnitOfWork

#: Who may ask: those who manage campaigns or read their reports (not agents).
READERS = (Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW)


class EligibilityService:
    """Explains one record's eligibility in one campaign (supervisors and administrators)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def explain(self, actor: Actor, campaign_id: int, record_id: int) -> Eligibility:
        """Whether the record can be delivered now in the campaign, and if not, why."""
        if not any(actor.can(r) for r in READERS):
            actor.require(READERS[0])
        with self.uow.read() as tx:
            ctx = tx.claims.context(campaign_id, None)
            if ctx is None:
                raise NotFound(f"no campaign {campaign_id}", field="campaign_id")
            now = self.clock.now()
            # First as any agent's claim, to learn whom the record waits for; then as the
            # claim of that agent.
            found = _conditions(tx, ctx, record_id, None, now)
            agent_id = awaited_agent(
                found,
                agent_owned=ctx.agent_owned_column is not None,
                lead_ownership=ctx.enforce_lead_ownership,
            )
            if agent_id is not None:
                found = _conditions(tx, ctx, record_id, agent_id, now)
            listed = None
            if ctx.checks_dnc:
                plan = listed_plan_of(tx, ctx, record_id)
                if plan is not None and plan.close_reason is CloseReason.DNC:
                    listed = tuple(numbers_of(tx.records.get(record_id).phones))
            reasons = blockers(
                found,
                tx.claims.presence(ctx.id, agent_id),
                state=ctx.state,
                window=ctx.window,
                agent_owned=ctx.agent_owned_column is not None,
                lead_ownership=ctx.enforce_lead_ownership,
                listed_numbers=listed,
                now=now,
            )
        return Eligibility(ctx.id, record_id, not reasons, reasons)


def _conditions(
    tx: Transaction, ctx: CampaignContext, record_id: int, agent_id: int | None, now: datetime
) -> RecordConditions:
    found = tx.claims.conditions(
        ctx, record_id, agent_id=agent_id, zones=ctx.open_zones(now), now=now
    )
    if found is None:
        raise NotFound(f"no record {record_id} in campaign {ctx.id}", field="record_id")
    return found
