"""The dialing engine's transactions: claim and check a record before its call, record the
call, hand an answered call's record to an agent, and record what became of a call.

The claim is Get Record's (:func:`callhopper.core.dispensing.getrecord.claim`): made for
an agent (progressive: the record that agent would get) or for the dialer (predictive, in
a campaign without owners: the record is leased to the dialer until an agent takes the
call). Every rule of a preview call holds at dial time: the calling window in the contact's
zone, campaign ownership, the do-not-call lists and the pre-dial validation service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from callhopper.core.dispensing.base import complete_if_stopping
from callhopper.core.dispensing.calls import (
    candidates,
    close_undialable,
    pending_callback_number,
    take_back_from_non_owner,
    take_back_if_not_ours,
    validate_numbers,
)
from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.core.dispensing.getrecord import claim
from callhopper.core.dispensing.views import delivery
from callhopper.domain.actors import SYSTEM
from callhopper.domain.calls import CallId
from callhopper.domain.campaigns import Channel, DialingMode
from callhopper.domain.dialer import FALLBACK_RETRY_MINUTES, LOST_CALL_GRACE_S, CallResult
from callhopper.domain.dispensing import CampaignContext, ContactRecord, LeaseChange, LeaseRace
from callhopper.domain.dispositions import dispose
from callhopper.domain.errors import NotFound
from callhopper.domain.events import AgentEvent
from callhopper.domain.predial import Verdict, combine_verdicts, plan_dial
from callhopper.domain.records import CallbackStatus, InteractionKind, RecordStatus
from callhopper.ports.calls import PlacedCall
from callhopper.ports.transactions import Transaction

#: The worker-lease name under which one process paces a campaign.
LEASE_PREFIX = "dialer:campaign:"


@dataclass(frozen=True, slots=True)
class Campaign:
    """What the engine needs of a running automatic campaign."""

    id: int
    mode: DialingMode
    #: Records belong to agents (progressive, or records with owners): each call is made
    #: for one agent.
    per_agent: bool
    ring_timeout_s: int
    abandon_target: float
    abandon_message: str
    machine_action: str
    machine_message: str
    #: A predictive campaign with personal callbacks waiting for their agents: each round
    #: first dials the due ones of the free agents, for those agents.
    personal_callbacks: bool = False


@dataclass(frozen=True, slots=True)
class NextCall:
    """A call to place: recorded in ``calls`` and in the record's history already."""

    call_id: CallId
    campaign_id: int
    record_id: int
    number: str
    caller_id: str
    #: The agent it was dialled for (progressive), ``None`` for the dialer's.
    agent_id: int | None


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A record claimed for a call: its campaign, the record, the numbers to try."""

    ctx: CampaignContext
    record: ContactRecord
    to_try: list[tuple[int | None, str]]

    @property
    def numbers(self) -> list[str]:
        return [n for _, n in self.to_try]


class Dialing:
    """The engine's transactions, on the dispensing core's ports and hooks."""

    def __init__(self, dispenser: Dispenser, holder: str) -> None:
        self.d = dispenser
        self.uow = dispenser.uow
        self.clock = dispenser.clock
        #: This process's name in worker leases and in ``calls.engine``.
        self.holder = holder

    # --- campaigns and leases ---------------------------------------------------------------

    def running(self) -> list[Campaign]:
        """Progressive and predictive campaigns that are on."""
        result = []
        with self.uow.read() as tx:
            for campaign_id in tx.campaigns.running_automatic():
                ctx = tx.claims.context(campaign_id, None)
                if ctx is None or not ctx.is_on:
                    continue
                s = ctx.settings
                per_agent = (
                    ctx.mode is DialingMode.PROGRESSIVE
                    or ctx.agent_owned_column is not None
                    or ctx.enforce_lead_ownership
                )
                result.append(
                    Campaign(
                        id=ctx.id,
                        mode=ctx.mode,
                        per_agent=per_agent,
                        # (without owners, what is per agent is the personal callbacks)
                        personal_callbacks=not per_agent and tx.claims.per_agent(ctx.id),
                        ring_timeout_s=s.ring_timeout_s,
                        abandon_target=s.abandon_target,
                        abandon_message=s.abandon_message,
                        machine_action=s.machine_action.value,
                        machine_message=s.machine_message,
                    )
                )
        return result

    def pace_lease(self, campaign_id: int, ttl_s: float) -> bool:
        """Take or renew this process's lease on pacing the campaign (a row in the database,
        expiring after ``ttl_s`` unless renewed); False while another process holds it."""
        with self.uow.write() as tx:
            now = self.clock.now()
            name = f"{LEASE_PREFIX}{campaign_id}"
            return tx.workers.take(name, self.holder, now, timedelta(seconds=ttl_s))

    def give_up(self, campaign_id: int) -> None:
        with self.uow.write() as tx:
            tx.workers.give_up(f"{LEASE_PREFIX}{campaign_id}", self.holder)

    def available(self, campaign_id: int) -> list[int]:
        with self.uow.read() as tx:
            return tx.agents.available(campaign_id)

    def personal_due(self, campaign_id: int, agent_ids: list[int]) -> list[int]:
        """The agents among ``agent_ids`` (in their order) with a personal callback of the
        campaign due now, inside the calling window."""
        if not agent_ids:
            return []
        with self.uow.read() as tx:
            ctx = tx.claims.context(campaign_id, None)
            if ctx is None or not ctx.is_on:
                return []
            now = self.clock.now()
            due = tx.claims.personal_due(campaign_id, agent_ids, zones=ctx.open_zones(now), now=now)
        return [agent_id for agent_id in agent_ids if agent_id in due]

    def user_id_of(self, agent_id: int) -> str:
        """The agent's user id (their sign-in name): what their phone registers as."""
        with self.uow.read() as tx:
            return tx.agents.actor(agent_id).user_id

    # --- dialling -----------------------------------------------------------------------------

    def next_call(self, campaign_id: int, agent_id: int | None) -> NextCall | None:
        """Claim the next record for ``agent_id`` (or the dialer) and check it as Call does;
        ``None`` when there is nothing to dial now. A record that may not be dialled is
        given back or closed as Call would, and the next one is tried."""
        for _ in range(20):  # records closed as undialable do not stop the search
            if self.d.validator is None:
                # Nothing to ask outside the database: the claim and the checks at dial time
                # are one transaction (the record stays locked from one to the other).
                with self.uow.write() as tx:
                    claimed = self._claim(tx, campaign_id, agent_id)
                    if claimed is None:
                        return None
                    call = self._checked(tx, claimed, agent_id, None)
            else:
                # The validation service is asked between two transactions, so that no
                # lock waits for it; the second reads the record again.
                with self.uow.write() as tx:
                    claimed = self._claim(tx, campaign_id, agent_id)
                if claimed is None:
                    return None
                external = validate_numbers(self.d, claimed.numbers)
                with self.uow.write() as tx:
                    again = self._again(tx, claimed, agent_id)
                    call = self._checked(tx, again, agent_id, external) if again else None
            if call is not None:
                return call
        return None

    def _claim(self, tx: Transaction, campaign_id: int, agent_id: int | None) -> _Claimed | None:
        ctx = tx.claims.context(campaign_id, agent_id)
        if ctx is None or not ctx.is_on:
            return None
        now = self.clock.now()
        try:
            record_id = claim(
                tx, ctx, agent_id, now, self._until(ctx, agent_id, now), isolated=True
            )
        except LeaseRace:
            return None  # the agent got a record meanwhile (Get Record, another engine)
        if record_id is None:
            return None
        return self._read(tx, ctx, record_id, lock=False)

    @staticmethod
    def _read(tx: Transaction, ctx: CampaignContext, record_id: int, *, lock: bool) -> _Claimed:
        record = tx.records.get(record_id, lock=lock)
        number = pending_callback_number(tx, ctx.id, record_id)
        return _Claimed(ctx, record, candidates(ctx, record, None, None, number))

    def _again(self, tx: Transaction, claimed: _Claimed, agent_id: int | None) -> _Claimed | None:
        """The claimed record read again, locked, in a later transaction."""
        ctx = tx.claims.context(claimed.ctx.id, agent_id)
        if ctx is None:
            return None
        return self._read(tx, ctx, claimed.record.id, lock=True)

    @staticmethod
    def _until(ctx: CampaignContext, agent_id: int | None, now: datetime) -> datetime:
        """How long a claim holds the record: an agent's lease timeout, or for the dialer
        the ring timeout and the grace after which a lost call can no longer be up."""
        if agent_id is not None:
            return ctx.lease_until(now)
        return now + timedelta(seconds=ctx.settings.ring_timeout_s + LOST_CALL_GRACE_S)

    def _checked(
        self,
        tx: Transaction,
        claimed: _Claimed,
        agent_id: int | None,
        external: dict[str, Verdict] | None,
    ) -> NextCall | None:
        """The checks of a call at dial time, on the claimed record (``external``: the
        validation service's verdicts; ``None``: no service is configured)."""
        ctx, record = claimed.ctx, claimed.record
        campaign_id, record_id = ctx.id, record.id
        now = self.clock.now()
        refusal = None
        if agent_id is not None:
            lease = tx.claims.lease(campaign_id, record_id, agent_id, lock=True)
            refusal = take_back_from_non_owner(tx, ctx, lease, record, agent_id, now)
        if refusal is not None:
            return None
        if record.tz is None or not ctx.window.is_open(now, record.tz):
            # The window closed since the claim: not dialled, back in its place.
            tx.claims.release(
                campaign_id, record_id, agent_id, LeaseChange(status=RecordStatus.READY)
            )
            if agent_id is not None:
                tx.claims.close_assignment(
                    campaign_id, record_id, now=now, outcome="outside_calling_window"
                )
            return None
        if take_back_if_not_ours(tx, campaign_id, record_id, agent_id, now) is not None:
            return None
        to_try = claimed.to_try
        numbers = claimed.numbers
        if external is None:
            external = validate_numbers(self.d, numbers)
        # (a campaign that checks no do-not-call list has no number on one)
        internal = tx.outcomes.dnc_numbers(campaign_id, numbers) if ctx.checks_dnc else set()
        plan = plan_dial(to_try, combine_verdicts(numbers, internal, external).__getitem__)
        if plan.number is None:
            close_undialable(tx, ctx, record_id, agent_id, plan, now)
            return None
        shown = ctx.settings.caller_id(None)
        assert shown is not None  # an automatic campaign has a caller ID
        call = NextCall(
            CallId(uuid.uuid4().hex), campaign_id, record_id, plan.number, shown, agent_id
        )
        tx.records.add_call(
            campaign_id=ctx.id,
            campaign_name=ctx.name,
            record_id=record_id,
            agent_id=agent_id,
            number=plan.number,
            caller_id=shown,
            note=f"automatic: {ctx.mode.value}",
            now=now,
        )
        tx.claims.dialled(ctx.id, record_id, agent_id, now, self._until(ctx, agent_id, now))
        tx.calls.add(
            PlacedCall(
                id=call.call_id,
                campaign_id=campaign_id,
                record_id=record_id,
                number=plan.number,
                caller_id=shown,
                engine=self.holder,
                agent_id=agent_id,
                placed_at=now,
                ring_timeout_s=ctx.settings.ring_timeout_s,
            )
        )
        return call

    def not_placed(self, call: NextCall) -> None:
        """The network refused the call before it was placed (no line free): the record
        goes back where it was, and the call is recorded as failed."""
        with self.uow.write() as tx:
            now = self.clock.now()
            tx.calls.finish(call.call_id, CallResult.FAILED, now, code="no_line")
            change = LeaseChange(status=RecordStatus.READY, called_at=None)
            try:
                tx.claims.release(call.campaign_id, call.record_id, call.agent_id, change)
            except NotFound:
                return
            if call.agent_id is not None:
                tx.claims.close_assignment(
                    call.campaign_id, call.record_id, now=now, outcome="not_placed"
                )

    # --- outcomes -----------------------------------------------------------------------------

    def answered(self, call_id: str, by: str) -> None:
        with self.uow.write() as tx:
            tx.calls.answered(call_id, self.clock.now(), by)

    def connect(self, call: NextCall, agent_id: int) -> bool:
        """Give the answered call's record to ``agent_id`` and tell their channel (the
        delivery, with the call connected); False when they took another record meanwhile
        or the record is no longer the dialer's."""
        try:
            with self.uow.write() as tx:
                ctx = tx.claims.context(call.campaign_id, agent_id)
                if ctx is None:
                    return False
                now = self.clock.now()
                if call.agent_id is None:
                    tx.claims.hand_over(ctx, call.record_id, agent_id, now, ctx.lease_until(now))
                else:
                    tx.claims.renew(ctx.id, call.record_id, agent_id, ctx.lease_until(now))
                tx.calls.connected(call.call_id, agent_id, now)
                extra = {"call_id": call.call_id, "number": call.number, "connected": True}
                snapshot = delivery(tx, ctx, call.record_id, agent_id, now) if self.d.bus else None
                event = AgentEvent(
                    agent_id,
                    "delivery",
                    ctx.id,
                    call.record_id,
                    "call_connected",
                    extra,
                    snapshot=snapshot,
                )
                self.d.publish(event, tx)
                return True
        except (LeaseRace, NotFound):
            return False

    def not_bridged(
        self, call: NextCall, agent_id: int, *, message_played: bool, reachable: bool
    ) -> None:
        """The answered call handed to ``agent_id`` never reached them: their line did not
        take it (``reachable`` False: their phone is not registered, refused, or they are
        gone) or the contact hung up first. The call is abandoned, not connected; its record
        is taken back from the agent and wrapped up as abandoned (retried by its rule); the
        agent's channel is told, and an unreachable agent is set not ready on voice, so
        that no more calls are sent to a line that does not answer."""
        reason = "contact_hung_up" if reachable else "agent_unreachable"
        with self.uow.write() as tx:
            now = self.clock.now()
            tx.calls.not_connected(call.call_id, call.agent_id, message_played=message_played)
            ctx = tx.claims.context(call.campaign_id, agent_id)
            if ctx is not None:
                try:
                    close_with_result(tx, ctx, call.record_id, agent_id, CallResult.ABANDONED, now)
                except NotFound:
                    pass  # the agent gave it back meanwhile, or its lease ran out
                else:
                    event = AgentEvent(
                        agent_id, "delivery_ended", call.campaign_id, call.record_id, reason
                    )
                    self.d.publish(event, tx)
            if not reachable:
                tx.agents.set_ready(agent_id, Channel.VOICE, False, now)
                self.d.publish(AgentEvent(agent_id, "state", reason=reason), tx)
        self.d.work(call.campaign_id)

    def ended(self, call_id: str, agent_id: int | None, campaign_id: int, record_id: int) -> None:
        """The line hung up after the call's result."""
        with self.uow.write() as tx:
            tx.calls.ended(call_id, self.clock.now())
            if agent_id is not None:
                event = AgentEvent(agent_id, "call_ended", campaign_id, record_id, "hung_up")
                self.d.publish(event, tx)

    def finish(
        self,
        call: NextCall,
        result: CallResult,
        *,
        code: str | None = None,
        message_played: bool = False,
    ) -> None:
        """A call that ended without an agent (no answer, busy, failed, a machine, an
        abandoned person, a lost call): the call's result, and the record wrapped up by the
        engine with the code of that result, retried by its rule."""
        with self.uow.write() as tx:
            now = self.clock.now()
            tx.calls.finish(call.call_id, result, now, code=code, message_played=message_played)
            ctx = tx.claims.context(call.campaign_id, call.agent_id)
            if ctx is None:
                return
            try:
                close_with_result(tx, ctx, call.record_id, call.agent_id, result, now)
            except NotFound:
                return  # the record was taken back meanwhile (its lease ran out)
        self.d.work(call.campaign_id)

    def recover(self, campaign_id: int) -> int:
        """Calls of the campaign that another process placed and never finished (it died):
        once they can no longer be up (ring timeout and a grace after the dial) they are
        recorded as lost and their records wrapped up as not answered. Calls connected to
        an agent stay with that agent, who wraps them up. Returns how many were recovered."""
        with self.uow.read() as tx:
            stale = [c for c in tx.calls.open_calls(campaign_id) if c.engine != self.holder]
        done = 0
        now = self.clock.now()
        for c in stale:
            if c.placed_at + timedelta(seconds=c.ring_timeout_s + LOST_CALL_GRACE_S) > now:
                continue  # it may still be ringing on the network: never dialled twice
            lost = NextCall(
                CallId(c.id), c.campaign_id, c.record_id, c.number, c.caller_id, c.agent_id
            )
            self.finish(lost, CallResult.LOST)
            done += 1
        return done


def close_with_result(
    tx: Transaction,
    ctx: CampaignContext,
    record_id: int,
    holder: int | None,
    result: CallResult,
    now: datetime,
) -> None:
    """The engine's wrap-up of a record whose call reached no agent: the wrap-up code of the
    result (``no_answer``, ``busy``, ``answering_machine``) decides the retry as it does
    for an agent's Done; a campaign whose codes lack it retries after an hour."""
    code = result.wrapup_code or result.value
    spec = ctx.codes.get(code)
    if spec is not None:
        outcome = dispose(spec, now)
        status, retry_at, attempt = outcome.status, outcome.retry_at, outcome.counts_as_attempt
    else:
        status = RecordStatus.WAITING
        retry_at, attempt = now + timedelta(minutes=FALLBACK_RETRY_MINUTES), False
    callback = tx.callbacks.pending(ctx.id, record_id)
    if callback is not None and callback.status is CallbackStatus.DELIVERED:
        tx.callbacks.mark(ctx.id, record_id, CallbackStatus.DONE, now)
    change = LeaseChange(
        status=RecordStatus(status),
        retry_at=retry_at,
        reserved_for=None,
        accept_by=None,
        called_at=None,
        last_code=code,
        last_agent_id=holder,
        last_at=now,
        handled_pass=ctx.pass_no,
    )
    tx.claims.release(
        ctx.id, record_id, holder, change, attempts_added=int(attempt), lead_status=code
    )
    tx.claims.end_delivery(
        ctx,
        record_id,
        holder,
        kind=InteractionKind.WRAPUP.value,
        code=code,
        note=f"automatic: {result.value}",
        now=now,
        outcome=result.value,
        history_code=code,
    )
    if ctx.ownership.enabled:
        tx.outcomes.after_attempt(SYSTEM, ctx, record_id, valid=attempt, code=code, now=now)
    complete_if_stopping(tx, ctx, now)
