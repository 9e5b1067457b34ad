"""Callbacks an agent schedules on the record delivered to them; they apply at Done."""

from __future__ import annotations

from datetime import datetime

from callhopper.core.dispensing.base import DispensingBase, agent_id_of
from callhopper.domain.actors import Actor
from callhopper.domain.callbacks import ScheduledCallback, plan
from callhopper.domain.dispensing import CampaignContext, ContactRecord, Lease
from callhopper.domain.dispositions import check_note
from callhopper.domain.errors import InvalidInput
from callhopper.domain.phones import PhoneError, normalise_phone
from callhopper.domain.records import CallbackStatus


def schedule_callback(
    d: DispensingBase,
    agent: Actor,
    campaign_id: int,
    record_id: int,
    *,
    at: datetime,
    kind: str,
    number: str | None = None,
    note: str = "",
) -> ScheduledCallback:
    """Schedule (or change) the callback of the record with the agent; it applies at Done.
    The time must be in the future and inside the calling window in the contact's zone."""
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        lease = tx.claims.lease(campaign_id, record_id, agent_id, lock=True)
        now = d.clock.now()
        record = tx.records.get(record_id)
        when = plan(
            at=at,
            kind=kind,
            tz=record.tz,
            owner_id=owner_of(ctx, lease, record),
            agent_id=agent_id,
            window=ctx.window,
            now=now,
        )
        text = check_note(note)
        e164 = None
        if number:
            try:
                e164 = normalise_phone(number, ctx.schema.default_region)
            except PhoneError as exc:
                raise InvalidInput(str(exc), field="number") from None
        scheduled = tx.callbacks.schedule(
            campaign_id,
            record_id,
            created_by=agent_id,
            plan=when,
            number=e164,
            note=text,
            now=now,
        )
        tx.claims.renew(campaign_id, record_id, agent_id, ctx.lease_until(now))
        return scheduled


def cancel_callback(d: DispensingBase, agent: Actor, campaign_id: int, record_id: int) -> bool:
    """Cancel the callback scheduled on the record; whether there was one (the one being
    handled now cannot be cancelled)."""
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        d.context(tx, agent, campaign_id, require_member=False)
        tx.claims.lease(campaign_id, record_id, agent_id, lock=True)
        pending = tx.callbacks.pending(campaign_id, record_id)
        if pending is None or pending.status is not CallbackStatus.SCHEDULED:
            return False  # none, or the one being handled now
        return tx.callbacks.cancel(campaign_id, record_id, d.clock.now())


def owner_of(ctx: CampaignContext, lease: Lease, record: ContactRecord) -> int | None:
    """The record's owner, whom a personal callback must reach."""
    if ctx.agent_owned_column is not None:
        return lease.owner_id
    if ctx.enforce_lead_ownership:
        return record.owner_id
    return None
