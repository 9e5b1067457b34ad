"""Call: pre-dial validation, then the dial of one of the record's numbers.

Every number is validated first: against the campaign's do-not-call lists and the
external validation service. A number on a list, or one that could not be validated, is
never dialled: the next number is, and when none is left the record is closed as ``dnc``
or ``not_validated``. A service is asked before the transaction, so that a slow service
never holds the database; without one, Call is one transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime

from callhopper.core.dispensing.base import DispensingBase, agent_id_of, complete_if_stopping
from callhopper.core.dispensing.views import DialResult
from callhopper.domain.actors import Actor
from callhopper.domain.dispensing import (
    CampaignContext,
    ContactRecord,
    DialTarget,
    Lease,
    LeaseChange,
    RecordOwner,
)
from callhopper.domain.errors import Conflict, InvalidInput
from callhopper.domain.events import AgentEvent
from callhopper.domain.phones import PhoneError, normalise_phone, phone_extension
from callhopper.domain.predial import (
    DialPlan,
    Verdict,
    combine_verdicts,
    dialling_order,
    plan_dial,
)
from callhopper.domain.records import CallbackStatus, InteractionKind, RecordStatus
from callhopper.ports.transactions import Transaction

logger = logging.getLogger(__name__)


def call(
    d: DispensingBase,
    agent: Actor,
    campaign_id: int,
    record_id: int,
    *,
    phone_index: int | None = None,
    number: str | None = None,
    caller_id: str | None = None,
    auto: bool = False,
) -> DialResult:
    """Call: dial one of the record's numbers (or a typed one where allowed); ``auto``
    when the preview timeout dials for the agent. ``caller_id``: one of the campaign's
    caller IDs, else its default."""
    agent_id = agent_id_of(agent)
    external: dict[str, Verdict] | None = None
    if d.validator is not None and not d.validator.local:
        # A service to ask: the numbers are read first, and asked outside the transaction.
        with d.uow.read() as tx:
            ctx = d.context(tx, agent, campaign_id, require_member=False)
            tx.claims.lease(campaign_id, record_id, agent_id, lock=False)
            ctx.settings.caller_id(caller_id)  # a caller ID not offered: refused before all
            callback_number = pending_callback_number(tx, campaign_id, record_id)
            wanted = candidates(
                ctx, tx.records.get(record_id), phone_index, number, callback_number
            )
        external = validate_numbers(d, [n for _, n in wanted])
    closed_event = None
    with d.uow.write() as tx:
        ctx = d.context(tx, agent, campaign_id, require_member=False)
        ctx.settings.caller_id(caller_id)  # a caller ID not offered: refused before all
        # Dialling and claiming ownership of one record take turns (see Done): the lease
        # and the contact record are read locked, with all Call needs to know of them.
        target = tx.claims.dial_target(campaign_id, record_id, agent_id)
        lease, record = target.lease, target.record
        now = d.clock.now()
        refusal = take_back_from_non_owner(tx, ctx, lease, record, agent_id, now)
        if refusal is None:
            window = ctx.window
            if record.tz is None or not window.is_open(now, record.tz):
                raise Conflict(
                    f"the contact is outside the calling window ({window.describe()}) in "
                    f"{record.tz or 'an unknown time zone'}; the call was not placed",
                    code="outside_calling_window",
                )
            refusal = take_back_if_elsewhere(tx, target, campaign_id, agent_id, now)
        if refusal is None:
            numbers_to_try = candidates(ctx, record, phone_index, number, target.callback_number)
            shown = ctx.settings.caller_id(caller_id)
            numbers = [n for _, n in numbers_to_try]
            # Without a list attached to the campaign no number can be on one.
            internal = tx.outcomes.dnc_numbers(campaign_id, numbers) if ctx.checks_dnc else set()
            if external is None:  # answered here, without waiting on anything
                external = validate_numbers(d, numbers)
            verdicts = combine_verdicts(numbers, internal, external)
            plan = plan_dial(numbers_to_try, verdicts.__getitem__)
            result = DialResult(
                record_id=record_id,
                number=plan.number,
                phone_index=plan.phone_index,
                case=plan.case.value,
                message=plan.message or "",
                skipped=[
                    {
                        "number": k.number,
                        "phone_index": k.phone_index,
                        "verdict": k.verdict.value,
                        "message": k.message,
                    }
                    for k in plan.skipped
                ],
                closed=plan.close_reason.value if plan.close_reason else None,
                caller_id=shown if plan.number is not None else None,
                extension=_extension(ctx, record, plan.phone_index, number),
            )
            if plan.number is not None:
                _dialled(d, tx, ctx, record_id, agent_id, plan.number, shown, now, auto)
            elif number is not None:
                # A typed number that may not be dialled: the record's own may be fine.
                refusal = Conflict(plan.message or "", code=f"number_{plan.case.value}")
            else:
                close_undialable(tx, ctx, record_id, agent_id, plan, now)
                closed_event = AgentEvent(
                    agent_id, "delivery_ended", campaign_id, record_id, result.closed
                )
    if refusal is not None:
        raise refusal  # after the commit: the record has been taken back
    if closed_event is not None:
        d.publish(closed_event)
        d.work(campaign_id)
    return result


def validate_numbers(d: DispensingBase, numbers: list[str]) -> dict[str, Verdict]:
    """The external service's verdicts (every number allowed when none is configured)."""
    if d.validator is None:
        return dict.fromkeys(numbers, Verdict.ALLOWED)
    try:
        return d.validator.check(numbers)
    except Exception:  # the port must not raise; if it does, nothing was validated
        logger.exception("pre-dial validation failed")
        return {}


def candidates(
    ctx: CampaignContext,
    record: ContactRecord,
    phone_index: int | None,
    number: str | None,
    callback_number: str | None = None,
) -> list[tuple[int | None, str]]:
    """The numbers to try, in order: a typed number alone (where the campaign allows
    it); else the record's numbers, the chosen one first; else, for a callback with
    its own number, that number, then the record's."""
    if number is not None:
        if not ctx.settings.allow_manual_dial:
            raise Conflict(
                "this campaign does not allow dialling a new number",
                code="manual_dial_not_allowed",
            )
        try:
            return [(None, normalise_phone(number, ctx.schema.default_region))]
        except PhoneError as exc:
            raise InvalidInput(str(exc), field="number") from None
    order: list[tuple[int | None, str]] = list(dialling_order(record.phones, phone_index))
    if callback_number is None or phone_index is not None:
        return order
    return [(None, callback_number), *(c for c in order if c[1] != callback_number)]


def _extension(
    ctx: CampaignContext, record: ContactRecord, phone_index: int | None, typed: str | None
) -> str | None:
    """The extension written with the number dialled: the record's phone column's value,
    or the number the agent typed."""
    region = ctx.schema.default_region
    if phone_index is not None:
        return ctx.schema.phone_extensions(record.data)[phone_index]
    return phone_extension(typed, region) if typed is not None else None


def _dialled(
    d: DispensingBase,
    tx: Transaction,
    ctx: CampaignContext,
    record_id: int,
    agent_id: int,
    number: str,
    caller_id: str | None,
    now: datetime,
    auto: bool,
) -> None:
    tx.records.add_call(
        campaign_id=ctx.id,
        campaign_name=ctx.name,
        record_id=record_id,
        agent_id=agent_id,
        number=number,
        caller_id=caller_id,
        note="automatic: preview timeout" if auto else "",
        now=now,
    )
    tx.claims.dialled(ctx.id, record_id, agent_id, now, ctx.lease_until(now))
    if auto:
        d.publish(
            AgentEvent(agent_id, "delivery", ctx.id, record_id, "auto_dial", {"number": number}),
            tx,
        )


def close_undialable(
    tx: Transaction,
    ctx: CampaignContext,
    record_id: int,
    agent_id: int | None,
    plan: DialPlan,
    now: datetime,
) -> None:
    """No number may be dialled: the record is closed for the campaign, saying why (by a
    Call, or by a claim that found every number on a do-not-call list)."""
    assert plan.close_reason is not None
    reason = plan.close_reason.value
    change = LeaseChange(
        status=RecordStatus.FINAL,
        retry_at=None,
        reserved_for=None,
        accept_by=None,
        last_code=reason,
        last_agent_id=agent_id,
        last_at=now,
        handled_pass=ctx.pass_no,
    )
    tx.claims.release(ctx.id, record_id, agent_id, change)
    tx.claims.end_delivery(
        ctx,
        record_id,
        agent_id,
        kind=InteractionKind.WRAPUP.value,
        code=reason,
        note=plan.message or "",
        now=now,
        outcome=reason,
    )
    complete_if_stopping(tx, ctx, now)


def take_back_from_non_owner(
    tx: Transaction,
    ctx: CampaignContext,
    lease: Lease,
    record: ContactRecord,
    agent_id: int,
    now: datetime,
) -> Conflict | None:
    """Refuse to dial a lead of a lead-ownership campaign that another agent owns now (its
    owner changed while it was delivered). Not dialled yet, it is taken back: the next
    hopper load stages it for its owner. Already dialled during this delivery, the agent
    keeps it to wrap the call up (Done gives it back)."""
    if not ctx.enforce_lead_ownership or record.owner_id is None or record.owner_id == agent_id:
        return None
    if lease.dialled():
        return Conflict(
            "this lead belongs to another agent now: it is not dialled again; choose a "
            "wrap-up code and Done for the call you made",
            code="owned_by_another_agent",
        )
    back = LeaseChange(status=RecordStatus.READY, accept_by=None, reserved_for=None)
    tx.claims.release(ctx.id, record.id, agent_id, back)
    tx.claims.close_assignment(ctx.id, record.id, now=now, outcome="owner_changed")
    return Conflict(
        "this lead belongs to another agent now: it was not dialled and has been taken back; "
        "get the next record",
        code="owned_by_another_agent",
    )


def take_back_if_not_ours(
    tx: Transaction, campaign_id: int, record_id: int, agent_id: int | None, now: datetime
) -> Conflict | None:
    """Refuse to dial a record that is no longer this campaign's to dial, and take it back.

    * The agent's lease lapsed and an agent of another campaign has the record now: one
      contact is never called by two agents at once.
    * Another campaign took ownership of it since it was delivered (campaign ownership):
      it waits, set aside, until that ownership ends.
    """
    if tx.claims.out_elsewhere(campaign_id, record_id, now):
        return _taken_back_out_elsewhere(tx, campaign_id, record_id, agent_id, now)
    owner = tx.outcomes.active_owner(record_id, now)
    if owner is None or owner.campaign_id == campaign_id:
        return None
    return _taken_back_owned_elsewhere(tx, campaign_id, record_id, agent_id, owner, now)


def take_back_if_elsewhere(
    tx: Transaction, target: DialTarget, campaign_id: int, agent_id: int | None, now: datetime
) -> Conflict | None:
    """:func:`take_back_if_not_ours`, from what :meth:`Claims.dial_target
    <callhopper.ports.claims.Claims.dial_target>` read under the record's lock (the record's
    own copies of who has it out and who owns it) instead of two more statements."""
    record_id = target.record.id
    if target.out_elsewhere(campaign_id, now):
        return _taken_back_out_elsewhere(tx, campaign_id, record_id, agent_id, now)
    owner = target.owner(now)
    if owner is None or owner.campaign_id == campaign_id:
        return None
    return _taken_back_owned_elsewhere(tx, campaign_id, record_id, agent_id, owner, now)


def _taken_back_out_elsewhere(
    tx: Transaction, campaign_id: int, record_id: int, agent_id: int | None, now: datetime
) -> Conflict:
    tx.claims.release(campaign_id, record_id, agent_id, LeaseChange(status=RecordStatus.READY))
    tx.claims.close_assignment(campaign_id, record_id, now=now, outcome="expired")
    return Conflict(
        "your time with this record ran out and an agent of another campaign has it "
        "now: it was not dialled; get the next record",
        code="record_out_elsewhere",
    )


def _taken_back_owned_elsewhere(
    tx: Transaction,
    campaign_id: int,
    record_id: int,
    agent_id: int | None,
    owner: RecordOwner,
    now: datetime,
) -> Conflict:
    aside = LeaseChange(status=RecordStatus.BLOCKED, blocked_until=owner.expires_at)
    tx.claims.release(campaign_id, record_id, agent_id, aside)
    tx.claims.close_assignment(campaign_id, record_id, now=now, outcome="owned_elsewhere")
    return Conflict(
        "another campaign on this contact list owns the record now: it is not dialled from "
        "this campaign and has been taken back; get the next record",
        code="owned_by_another_campaign",
    )


def pending_callback_number(tx: Transaction, campaign_id: int, record_id: int) -> str | None:
    """The other number of the callback being delivered now, if it has one."""
    callback = tx.callbacks.pending(campaign_id, record_id)
    if callback is not None and callback.status is CallbackStatus.DELIVERED:
        return callback.number
    return None
