"""What ends a delivery: Skip, Decline, the wrap-up chosen, and Done."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from callhopper.core.dispensing.base import (
    DispensingBase,
    again_after_contention,
    agent_id_of,
    complete_if_stopping,
)
from callhopper.core.dispensing.push import push_next
from callhopper.domain.actors import Actor
from callhopper.domain.dispensing import Lease, LeaseChange, Rank
from callhopper.domain.dispositions import check_edits, check_note, dispose
from callhopper.domain.errors import Conflict, InvalidInput
from callhopper.domain.events import AgentEvent
from callhopper.domain.records import CallbackStatus, InteractionKind, RecordStatus

#: Decline's two actions.
CALL_LATER, DO_NOT_CALL = "call_later", "do_not_call"


def skip(d: DispensingBase, agent: Actor, campaign_id: int, record_id: int) -> None:
    """Skip: the record waits for the next pass, or goes to the back of the order. Where
    the campaign does not allow skipping, only a record handled in an earlier pass (its
    delivery's ``already_handled``) may be skipped."""
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        lease = tx.claims.lease(campaign_id, record_id, agent_id, lock=True)
        now = d.clock.now()  # once the lease is held: the history's times stay in order
        handled = lease.handled_pass is not None and lease.handled_pass < ctx.pass_no
        # A record handled in an earlier pass may always be skipped.
        if not ctx.settings.allow_skip and not handled:
            raise Conflict("this campaign does not allow skipping", code="skip_not_allowed")
        _refuse_if_dialled(lease)
        if ctx.settings.reinsert_skipped:
            # At the back of the order, and away for the campaign's delay: the last record
            # left does not come straight back.
            away = timedelta(seconds=ctx.settings.skip_reinsert_delay_s)
            change = LeaseChange(status=RecordStatus.READY, rank=Rank.BACK, retry_at=now + away)
            if ctx.enforce_lead_ownership:
                # Back at the end of the hopper, as the owner's lead or a general one.
                tx.claims.return_to_hopper(campaign_id, record_id, agent_id, now, first=False)
        else:
            change = LeaseChange(status=RecordStatus.WAITING, retry_at=None)
        change["handled_pass"] = ctx.pass_no
        tx.claims.release(campaign_id, record_id, agent_id, change)
        tx.claims.close_assignment(campaign_id, record_id, now=now, outcome="skipped")
        complete_if_stopping(tx, ctx, now)


def decline(d: DispensingBase, agent: Actor, campaign_id: int, record_id: int, action: str) -> None:
    """Decline: ``call_later`` puts the record back at the end of the list;
    ``do_not_call`` removes it from the campaign."""
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        if action not in (CALL_LATER, DO_NOT_CALL):
            raise InvalidInput(
                f"decline is 'call_later' or 'do_not_call', not {action!r}", field="action"
            )
        lease = tx.claims.lease(campaign_id, record_id, agent_id, lock=True)  # or 404
        now = d.clock.now()  # once the lease is held
        if action == CALL_LATER:
            _refuse_if_dialled(lease)
            change = LeaseChange(status=RecordStatus.READY, rank=Rank.BACK)
        else:
            change = LeaseChange(
                status=RecordStatus.FINAL,
                retry_at=None,
                last_code=DO_NOT_CALL,
                last_agent_id=agent_id,
                last_at=now,
                handled_pass=ctx.pass_no,
                called_at=None,
            )
            # Also after a call: the contact asked not to be called, and the number
            # dialled goes on the campaign's do-not-call list (a disposition of its own).
            tx.callbacks.cancel(campaign_id, record_id, now)
            numbers = tx.records.numbers_of_lease(campaign_id, record_id)
            tx.outcomes.add_to_dnc(agent, campaign_id, numbers, "decline", now)
        tx.claims.release(campaign_id, record_id, agent_id, change)
        tx.claims.end_delivery(
            ctx,
            record_id,
            agent_id,
            kind=InteractionKind.DECLINE.value,
            code=action,
            note="",
            now=now,
            outcome=action,
        )
        complete_if_stopping(tx, ctx, now)


def wrapup(
    d: DispensingBase,
    agent: Actor,
    campaign_id: int,
    record_id: int,
    *,
    code: str,
    note: str = "",
    fields: Mapping[str, Any] | None = None,
) -> None:
    """Choose the wrap-up (code, note, field edits); Done applies it. It can be changed."""
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        tx.claims.lease(campaign_id, record_id, agent_id, lock=True)
        now = d.clock.now()  # once the lease is held
        record = tx.records.get(record_id)
        ctx.code(code)
        check_edits(ctx.schema, record.data, fields or {})
        pending = {"code": code, "note": check_note(note), "fields": dict(fields or {})}
        tx.claims.set_pending(campaign_id, record_id, agent_id, pending, ctx.lease_until(now))


def done(
    d: DispensingBase,
    agent: Actor,
    campaign_id: int,
    record_id: int,
    *,
    code: str | None = None,
    note: str | None = None,
    fields: Mapping[str, Any] | None = None,
    stop: bool = False,
) -> None:
    """Done (or Done and Stop): apply the wrap-up and close the record for this pass."""
    again_after_contention(
        lambda: _done(d, agent, campaign_id, record_id, code, note, fields, stop)
    )


def _done(
    d: DispensingBase,
    agent: Actor,
    campaign_id: int,
    record_id: int,
    code: str | None,
    note: str | None,
    fields: Mapping[str, Any] | None,
    stop: bool,
) -> None:
    agent_id = agent_id_of(agent)
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        # The record's row lock orders this wrap-up (which may claim ownership for the
        # campaign) against other campaigns' calls of the record, and the time is read
        # once it is held: an ownership and a call can never overlap.
        lease = tx.claims.lease_with_record(campaign_id, record_id, agent_id)
        callback = lease.callback
        now = d.clock.now()
        pending = lease.pending or {}
        code = code or pending.get("code")
        if code is None:
            raise InvalidInput("choose a wrap-up code before Done", field="code")
        spec = ctx.code(code)
        note = check_note(note if note is not None else pending.get("note", ""))
        edits = fields if fields is not None else pending.get("fields", {})
        changes = check_edits(ctx.schema, lease.data, edits)
        if changes:
            tx.records.edit(record_id, {k: v for k, (_, v) in changes.items()}, now)
            tx.audit.add(
                agent,
                "record.edit",
                "record",
                record_id,
                now=now,
                before={k: b for k, (b, _) in changes.items()},
                after={k: a for k, (_, a) in changes.items()},
                reason=f"wrap-up in campaign {ctx.name!r}",
            )
        outcome = dispose(spec, now)
        status, retry_at, reserved_for = RecordStatus(outcome.status), outcome.retry_at, None
        if callback is not None and callback.status is CallbackStatus.DELIVERED:
            tx.callbacks.mark(campaign_id, record_id, CallbackStatus.DONE, now)  # this was it
        elif callback is not None:
            # A callback scheduled now: the record waits for it, reserved for its agent.
            if spec.final:
                raise InvalidInput(
                    f"{spec.code!r} closes the record, but a callback is scheduled: "
                    "cancel the callback or choose another code",
                    field="code",
                )
            if callback.due_at <= now:
                raise InvalidInput(
                    "the callback time has passed: change or cancel the callback first",
                    field="callback",
                )
            status, retry_at, reserved_for = (
                RecordStatus.WAITING,
                callback.due_at,
                callback.agent_id,
            )
        if spec.adds_to_dnc:
            numbers = tx.records.numbers_of_lease(campaign_id, record_id)
            tx.outcomes.add_to_dnc(agent, campaign_id, numbers, "wrapup", now)
        change = LeaseChange(
            status=status,
            retry_at=retry_at,
            reserved_for=reserved_for,
            accept_by=None,
            called_at=None,
            last_code=spec.code,
            last_agent_id=agent_id,
            last_at=now,
            handled_pass=ctx.pass_no,
        )
        tx.claims.finish(
            ctx,
            record_id,
            agent_id,
            change,
            attempts_added=1 if outcome.counts_as_attempt else 0,
            lead_status=spec.code,  # the lead's status, across campaigns
            code=spec.code,
            note=note,
            now=now,
            edits={k: list(v) for k, v in changes.items()} if changes else None,
        )
        if ctx.ownership.enabled:  # disabled: no claims, no renewals
            tx.outcomes.after_attempt(
                agent,
                ctx,
                record_id,
                valid=outcome.counts_as_attempt,
                code=spec.code,
                now=now,
            )
        # Workflow rules, in this transaction: an owner change, a field change and a
        # queued webhook commit or roll back with the wrap-up.
        webhooks = ctx.has_rules and tx.outcomes.fire_rules(
            agent,
            campaign_id=campaign_id,
            campaign_name=ctx.name,
            record_id=record_id,
            code=spec.code,
            agent_id=agent_id,
            owner_action=spec.owner_action.value if spec.owner_action else None,
            now=now,
        )
        if stop:
            tx.agents.enter(campaign_id, agent_id, now, receiving=False)
            d.publish(AgentEvent(agent_id, "state", campaign_id), tx)
        complete_if_stopping(tx, ctx, now)
        pushed = not stop and push_next(d, tx, ctx, agent_id, now)
    if not pushed:  # nobody else waits when the agent got their next record
        d.work(campaign_id)
    if webhooks and d.on_webhooks_queued is not None:
        d.on_webhooks_queued()


def _refuse_if_dialled(lease: Lease) -> None:
    """Skip and Decline *call later* are for a record not dialled yet: after a call, the
    call's outcome is recorded by a wrap-up (attempts, retry, campaign ownership)."""
    if lease.dialled():
        raise Conflict(
            "you already called this record: choose a wrap-up code and Done (or Decline "
            "with do_not_call if the contact asked not to be called)",
            code="wrapup_required",
        )
