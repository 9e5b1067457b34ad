"""Pushed delivery (push preview, direct push preview): pushes, accept and reject, and the
timers of preview-type modes (accept timeout, preview timeout).

Push preview delivers to agents logged into the campaign and ready on ``outbound_preview``;
direct push preview to agents whose Get Record / Stop toggle is on, whatever their ready
state. An agent gets one record at a time; a push is the same claim as Get Record's, with
push preview's accept deadline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from callhopper.core.dispensing import calls
from callhopper.core.dispensing.base import DispensingBase, agent_id_of
from callhopper.core.dispensing.getrecord import claim, listed_plan_of
from callhopper.core.dispensing.views import DialResult, delivery
from callhopper.domain.actors import SYSTEM, Actor
from callhopper.domain.campaigns import Channel, DialingMode
from callhopper.domain.dispensing import CampaignContext, LeaseChange, LeaseRace, Rank
from callhopper.domain.errors import CallhopperError
from callhopper.domain.events import AgentEvent
from callhopper.domain.predial import CloseReason
from callhopper.domain.records import RecordStatus
from callhopper.ports.transactions import Transaction


def push_many(
    d: DispensingBase, campaign_id: int, agent_ids: Sequence[int], *, shared: bool
) -> tuple[list[tuple[int, int]], bool]:
    """Push the next record to each of these agents (the pusher's waiting agents: in the
    queue, active, ready or receiving), in one transaction that reads the campaign once.
    ``shared``: every agent draws on the same records (no owners): one statement leases
    a record to each of them, and records running out ends the round. Returns the
    (agent, record) pairs pushed, and whether the campaign has nothing more for these
    agents now."""
    pushed: list[tuple[int, int]] = []
    with d.uow.write() as tx:
        ctx = d.context(tx, SYSTEM, campaign_id, require_member=False)
        if not ctx.is_on:
            return pushed, True
        now = d.clock.now()
        if shared:
            until, accept_by = push_deadlines(ctx, now)
            try:
                pushed = tx.claims.claim_batch(
                    ctx,
                    agent_ids,
                    zones=ctx.open_zones(now),
                    now=now,
                    until=until,
                    accept_by=accept_by,
                )
            except LeaseRace:
                pass  # another process pushed to one of them: one by one below
            else:
                if ctx.checks_dnc:
                    pushed = screened(tx, ctx, pushed, now, until, accept_by)
                # Each agent's socket handler reads their delivery, in parallel: read here,
                # one after the other, they would hold the round (and SQLite's writer lock).
                for agent_id, leased in pushed:
                    d.publish(AgentEvent(agent_id, "delivery", ctx.id, leased), tx)
                return pushed, len(pushed) < len(agent_ids)
        for agent_id in agent_ids:
            try:
                record_id = push_claim(tx, ctx, agent_id, now, isolated=True)
            except LeaseRace:
                # Another process pushed to them since the pusher found them waiting: an
                # agent holds one lease per campaign.
                continue
            if record_id is None:
                if shared:
                    return pushed, True
                continue
            publish_push(d, tx, ctx, agent_id, record_id, now)
            pushed.append((agent_id, record_id))
    return pushed, False


def screened(
    tx: Transaction,
    ctx: CampaignContext,
    pushed: Sequence[tuple[int, int]],
    now: datetime,
    until: datetime,
    accept_by: datetime | None,
) -> list[tuple[int, int]]:
    """The batch's leases with each record whose every number is on a do-not-call list
    closed as ``dnc`` and replaced by the agent's next record (the rule of every claim: such
    a record is never delivered)."""
    kept: list[tuple[int, int]] = []
    for agent_id, record_id in pushed:
        plan = listed_plan_of(tx, ctx, record_id)
        if plan is not None and plan.close_reason is CloseReason.DNC:
            calls.close_undialable(tx, ctx, record_id, agent_id, plan, now)
            replacement = claim(tx, ctx, agent_id, now, until, accept_by, isolated=True)
            if replacement is None:
                continue
            record_id = replacement
        kept.append((agent_id, record_id))
    return kept


def push_claim(
    tx: Transaction, ctx: CampaignContext, agent_id: int, now: datetime, *, isolated: bool = False
) -> int | None:
    """Lease the agent's next record of a pushed campaign (with push preview's accept
    deadline)."""
    until, accept_by = push_deadlines(ctx, now)
    return claim(tx, ctx, agent_id, now, until, accept_by, isolated=isolated)


def push_deadlines(ctx: CampaignContext, now: datetime) -> tuple[datetime, datetime | None]:
    """A push's lease end, and its accept deadline (push preview only)."""
    accept_by = (
        now + timedelta(seconds=ctx.settings.accept_timeout_s)
        if ctx.mode is DialingMode.PUSH_PREVIEW
        else None
    )
    return accept_by or ctx.lease_until(now), accept_by


def push_next(
    d: DispensingBase, tx: Transaction, ctx: CampaignContext, agent_id: int, now: datetime
) -> bool:
    """After a Done in a pushed campaign: the agent's next record at once, in the Done's
    transaction, when they still wait for pushes and nobody has waited longer (then the
    pusher serves the longest wait first). Whether a record was pushed."""
    if not ctx.is_pushed or not ctx.is_on:
        return False
    # Records of one owner are theirs alone: another agent's wait does not compete.
    alone = ctx.agent_owned_column is None
    if not tx.agents.first_in_line(ctx.id, agent_id, alone=alone):
        return False  # not ready, the toggle is off, or someone else waits too
    record_id = push_claim(tx, ctx, agent_id, now)
    if record_id is None:
        return False
    publish_push(d, tx, ctx, agent_id, record_id, now)
    return True


def publish_push(
    d: DispensingBase,
    tx: Transaction,
    ctx: CampaignContext,
    agent_id: int,
    record_id: int,
    now: datetime,
) -> None:
    """Tell the agent's channel about a push, once it commits. The delivery is read here,
    in the pushing transaction, so that this process's socket handler sends it as it is
    without a second transaction (other processes read it back)."""
    if d.bus is None:
        return  # nobody to tell: the delivery need not be read
    snapshot = delivery(tx, ctx, record_id, agent_id, now)
    d.publish(AgentEvent(agent_id, "delivery", ctx.id, record_id, snapshot=snapshot), tx)


def accept(d: DispensingBase, agent: Actor, campaign_id: int, record_id: int) -> DialResult | None:
    """Accept a pushed record. In direct push preview accepting dials it."""
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        lease = tx.claims.lease(campaign_id, record_id, agent_id, lock=True)
        now = d.clock.now()
        if lease.accept_by is not None:
            # The preview (and its timeout) starts now.
            tx.claims.accept(campaign_id, record_id, agent_id, now, ctx.lease_until(now))
    if ctx.mode is DialingMode.DIRECT_PUSH_PREVIEW:
        return calls.call(d, agent, campaign_id, record_id)
    return None


def reject(
    d: DispensingBase, agent: Actor, campaign_id: int, record_id: int, *, reason: str = "rejected"
) -> None:
    """Reject a pushed record: it goes back to the top of the list; in push preview the
    agent is set not ready on outbound_preview."""
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        now = d.clock.now()
        give_back_on_top(d, tx, ctx, record_id, agent_id, now, reason)
    d.work(campaign_id)


def give_back_on_top(
    d: DispensingBase,
    tx: Transaction,
    ctx: CampaignContext,
    record_id: int,
    agent_id: int,
    now: datetime,
    reason: str,
) -> None:
    """A push not taken goes back before every record of the campaign; its callback, if
    it brought one, is scheduled again."""
    change = LeaseChange(status=RecordStatus.READY, rank=Rank.TOP, accept_by=None)
    tx.claims.release(ctx.id, record_id, agent_id, change)
    tx.claims.close_assignment(ctx.id, record_id, now=now, outcome=reason)
    tx.callbacks.unmark_delivered(ctx.id, record_id, now)
    if ctx.enforce_lead_ownership:
        tx.claims.return_to_hopper(ctx.id, record_id, agent_id, now, first=True)
    d.publish(AgentEvent(agent_id, "delivery_ended", ctx.id, record_id, reason), tx)
    if ctx.mode is DialingMode.PUSH_PREVIEW:
        tx.agents.set_ready(agent_id, Channel.OUTBOUND_PREVIEW, False, now)
        d.publish(AgentEvent(agent_id, "state", reason=reason), tx)
    elif ctx.mode is DialingMode.DIRECT_PUSH_PREVIEW:
        # The toggle goes off, or the record on top would come straight back to them.
        tx.agents.enter(ctx.id, agent_id, now, receiving=False)
        d.publish(AgentEvent(agent_id, "state", ctx.id, reason=reason), tx)


def expire_unaccepted(d: DispensingBase) -> int:
    """Pushed records not accepted in time go back on top; their agents, not ready."""
    with d.uow.read() as tx:
        late = tx.claims.unaccepted(d.clock.now())
    done = 0
    for campaign_id, record_id, agent_id in late:
        with d.uow.write() as tx:
            # As the system: a push to an agent deactivated since comes back all the same.
            ctx = d.context(tx, SYSTEM, campaign_id, require_member=False)
            if not tx.claims.still_unaccepted(campaign_id, record_id, agent_id):
                continue  # accepted, rejected or taken meanwhile
            now = d.clock.now()  # each give-back at its own time, in its transaction
            give_back_on_top(d, tx, ctx, record_id, agent_id, now, "accept_timeout")
            done += 1
        d.work(campaign_id)
    return done


def auto_dial_due(d: DispensingBase) -> int:
    """Preview timeout: records previewed that long are dialled for the agent."""
    now = d.clock.now()
    with d.uow.read() as tx:
        due = [(tx.agents.actor(a), c, r) for c, r, a in tx.claims.due_previews(now)]
    dialled = 0
    for actor, campaign_id, record_id in due:
        try:
            calls.call(d, actor, campaign_id, record_id, auto=True)
        except CallhopperError:
            continue  # taken back, outside the window, or already gone: nothing to dial
        dialled += 1
    return dialled
