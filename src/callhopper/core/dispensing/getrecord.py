"""Get Record: the record the agent already holds in a campaign, else their next one, and
why there is none when nothing can be delivered.

The claim itself is one statement of the store (``tx.claims.claim``); around it this
module applies the rules: the campaign must be running, the agent must be in its queue,
only records whose contact is inside the calling window are eligible, an agent holds at
most one record per campaign, and a lease lasts the campaign's lease timeout from the
agent's last action on it.
"""

from __future__ import annotations

from datetime import datetime

from callhopper.core.dispensing.base import DispensingBase, again_after_contention, agent_id_of
from callhopper.core.dispensing.calls import close_undialable
from callhopper.core.dispensing.views import Delivery, NoRecord, delivery
from callhopper.domain.actors import Actor
from callhopper.domain.campaigns import DialingMode
from callhopper.domain.dispensing import CampaignContext, LeaseRace
from callhopper.domain.predial import CloseReason, DialPlan, listed_plan, numbers_of
from callhopper.ports.transactions import Transaction

#: Why nothing was delivered: the hopper of a lead-ownership campaign has nothing for you.
HOPPER_EMPTY = "hopper_empty"
#: Why nothing was delivered: what is left, another campaign sharing the list holds now.
HELD_BY_ANOTHER_CAMPAIGN = "held_by_another_campaign"


def get_record(d: DispensingBase, agent: Actor, campaign_id: int) -> Delivery | NoRecord:
    """Get Record: the record the agent already holds here, else their next one."""
    try:
        result = again_after_contention(lambda: _get_record(d, agent, campaign_id))
    except LeaseRace:
        # A second Get Record of the same agent raced this one and leased first: answer
        # with theirs.
        result = again_after_contention(lambda: _get_record(d, agent, campaign_id))
    if isinstance(result, NoRecord) and result.reason == HOPPER_EMPTY:
        d.agents_changed(campaign_id)  # a new agent, or a drained hopper
    return result


def _get_record(d: DispensingBase, agent: Actor, campaign_id: int) -> Delivery | NoRecord:
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id)
        now = d.clock.now()  # read in the transaction: leases are stamped in order
        held = tx.claims.receive_and_held(ctx.id, agent_id, now)
        until = ctx.lease_until(now)
        if held is not None:
            tx.claims.renew(ctx.id, held, agent_id, until)
            return delivery(tx, ctx, held, agent_id, now)
        if not ctx.is_on:
            return NoRecord(
                "campaign_not_running",
                f"the campaign is {ctx.state.value}: no new records are delivered",
            )
        if ctx.mode is not DialingMode.PREVIEW:
            # Pushed modes: Get Record turns receiving on; records come on the channel.
            d.work(ctx.id)
            return NoRecord(
                "pushed",
                "records of this campaign are pushed to you on the real-time channel "
                + (
                    "while you are ready on outbound_preview"
                    if ctx.mode is DialingMode.PUSH_PREVIEW
                    else "until you Stop"
                ),
            )
        record_id = claim(tx, ctx, agent_id, now, until)
        if record_id is None:
            if ctx.enforce_lead_ownership:
                return NoRecord(
                    HOPPER_EMPTY,
                    "no lead of yours and none matching your skills is in the hopper now; "
                    "the next hopper load adds more",
                )
            return why_nothing(tx, ctx, agent_id, now)
        return delivery(tx, ctx, record_id, agent_id, now)


def claim(
    tx: Transaction,
    ctx: CampaignContext,
    agent_id: int,
    now: datetime,
    until: datetime,
    accept_by: datetime | None = None,
    *,
    isolated: bool = False,
) -> int | None:
    """Lease the agent's next record (the selection path of every mode): only records
    whose contact is inside the calling window now. A record whose every number is on a
    do-not-call list the campaign checks is never delivered: the claim closes it as
    ``dnc`` (as a Call would) and takes the next one, in the same transaction."""
    zones = ctx.open_zones(now)
    while True:
        record_id = tx.claims.claim(
            ctx,
            agent_id,
            zones=zones,
            now=now,
            until=until,
            accept_by=accept_by,
            isolated=isolated,
        )
        if record_id is None or not ctx.checks_dnc:
            return record_id
        plan = listed_plan_of(tx, ctx, record_id)
        if plan is None or plan.close_reason is not CloseReason.DNC:
            return record_id
        close_undialable(tx, ctx, record_id, agent_id, plan, now)


def listed_plan_of(tx: Transaction, ctx: CampaignContext, record_id: int) -> DialPlan | None:
    """The record's dial plan from the campaign's do-not-call lists alone (see
    :func:`callhopper.domain.predial.listed_plan`)."""
    phones = tx.records.get(record_id).phones
    return listed_plan(phones, tx.outcomes.dnc_numbers(ctx.id, numbers_of(phones)))


def why_nothing(tx: Transaction, ctx: CampaignContext, agent_id: int, now: datetime) -> NoRecord:
    """Why the claim found nothing: records that wait for the calling window, records that
    another campaign holds (which one, until when), a retry due later, or a pass that is
    over."""
    owner = agent_id if ctx.agent_owned_column else None
    # A record inside the window that the claim passed over is being claimed by another
    # agent right now (PostgreSQL skips locked rows): it does not wait for the window.
    backlog = tx.claims.backlog(ctx.id, owner, sorted(ctx.window.open_zones(now)), now)
    if backlog.outside_window:
        return NoRecord(
            "outside_calling_window",
            f"{backlog.outside_window} record(s) wait until their contacts are inside the "
            f"calling window ({ctx.window.describe()})",
        )
    held = tx.claims.held_elsewhere(ctx, agent_id, now)
    if held is not None:
        until = f"until {held.until.isoformat()}" if held.until else "with no expiry"
        return NoRecord(
            HELD_BY_ANOTHER_CAMPAIGN,
            f"{held.count} record(s) left are held by another campaign on this list; the "
            f"first is held by {held.campaign!r} {until}",
            next_retry_at=backlog.next_retry_at,
            held_by=held.campaign,
            held_until=held.until,
        )
    if backlog.next_retry_at is not None:
        return NoRecord(
            "waiting_for_retry",
            "every record is handled for now; the next retry is due later",
            next_retry_at=backlog.next_retry_at,
        )
    return NoRecord(
        "list_exhausted",
        "every record of this pass is handled; the campaign needs a recycle for more",
    )


def deliveries(d: DispensingBase, agent: Actor) -> list[Delivery]:
    """Every record delivered to the agent now (what a reconnecting client resumes)."""
    now = d.clock.now()
    agent_id = agent_id_of(agent)
    with d.uow.read() as tx:
        result = []
        for campaign_id, record_id in tx.claims.leases_of(agent_id):
            ctx = d.context(tx, agent, campaign_id, require_member=False)
            result.append(delivery(tx, ctx, record_id, agent_id, now))
        return result


def delivered(d: DispensingBase, agent: Actor, campaign_id: int, record_id: int) -> Delivery:
    """A record delivered to the agent (404 for any other record)."""
    now = d.clock.now()
    agent_id = agent_id_of(agent)
    with d.uow.read() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        return delivery(tx, ctx, record_id, agent_id, now)


def keepalive(d: DispensingBase, agent: Actor, campaign_id: int, record_id: int) -> datetime:
    """Keep a delivered record: its lease runs for the lease timeout from now."""
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        now = d.clock.now()  # read in the transaction, like every state change
        until = ctx.lease_until(now)
        tx.claims.renew(campaign_id, record_id, agent_id_of(agent), until)
        return until
