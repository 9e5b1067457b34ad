"""The SQL implementation of :class:`callhopper.ports.claims.Claims`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callhopper.domain.campaigns import DialingMode
from callhopper.domain.dispensing import (
    Backlog,
    CampaignContext,
    Delivered,
    DialTarget,
    HeldElsewhere,
    Lease,
    LeaseChange,
    LeaseRace,
    LeaseView,
)
from callhopper.domain.eligibility import Presence, RecordConditions
from callhopper.domain.records import InteractionKind
from callhopper.store import deliveries, dialer_leases, dispensing, hopper
from callhopper.store.agent_state import SESSION_UPSERT
from callhopper.store.campaigns import complete_if_drained
from callhopper.store.claims import eligibility, personal, reads
from callhopper.store.claims.batch import claim_batch, deliver_batch
from callhopper.store.claims.statements import ClaimRequest, claim, claim_hopper
from callhopper.store.models import Record

#: The partial unique index that gives an agent one lease per campaign.
ONE_LEASE_PER_AGENT = "uq_campaign_records_one_lease_per_agent"

#: Get Record's first step on PostgreSQL: the session upserted (logged in, receiving) in a
#: CTE of the statement that reads the agent's current lease, locked.
_RECEIVING_AND_HELD_POSTGRESQL = dispensing.CURRENT_LEASE_LOCKED.add_cte(
    SESSION_UPSERT.columns().cte("receiving")
)


class SqlClaims:
    """Leases in one session's transaction (:class:`callhopper.ports.claims.Claims`)."""

    def __init__(self, session: Session, known: reads.ContextCache | None = None) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"
        #: The process's contexts of campaigns, checked against their version on each read
        #: (None: read in full every time).
        self.known = known
        #: The contexts this transaction read, for what else it asks of those campaigns.
        self._contexts: dict[int, CampaignContext] = {}

    def context(self, campaign_id: int, agent_id: int | None) -> CampaignContext | None:
        ctx = reads.context(self.session, campaign_id, agent_id, self.known)
        if ctx is not None:
            self._contexts[ctx.id] = ctx
        return ctx

    def claim(
        self,
        ctx: CampaignContext,
        agent_id: int | None,
        *,
        zones: Sequence[str],
        now: datetime,
        until: datetime,
        accept_by: datetime | None = None,
        isolated: bool = False,
    ) -> int | None:
        request = _request(ctx, agent_id, zones, now, until, accept_by)
        try:
            if not isolated:
                return self._claim(ctx, request)
            with self.session.begin_nested():
                return self._claim(ctx, request)
        except IntegrityError as exc:
            # A second claim for the same agent raced this one and leased first: the
            # one-lease-per-agent index refused ours. (In a savepoint, whatever the
            # constraint: the transaction goes on without this claim.)
            if isolated or ONE_LEASE_PER_AGENT in str(exc.orig):
                raise LeaseRace(
                    f"agent {agent_id} already holds a record of campaign {ctx.id}"
                ) from exc
            raise

    def claim_batch(
        self,
        ctx: CampaignContext,
        agent_ids: Sequence[int],
        *,
        zones: Sequence[str],
        now: datetime,
        until: datetime,
        accept_by: datetime | None = None,
    ) -> list[tuple[int, int]]:
        request = _request(ctx, 0, zones, now, until, accept_by)
        try:
            with self.session.begin_nested():
                pairs = claim_batch(self.session, request, agent_ids)
                deliver_batch(self.session, request, ctx.name, ctx.list_id, pairs)
        except IntegrityError as exc:
            # One of them got a record from another process meanwhile: the
            # one-lease-per-agent index refused the statement, which changed nothing.
            raise LeaseRace(f"an agent already holds a record of campaign {ctx.id}") from exc
        return pairs

    def _claim(self, ctx: CampaignContext, request: ClaimRequest) -> int | None:
        agent = request.agent_id
        if ctx.enforce_lead_ownership and agent is not None:
            lead_filter = hopper.agent_filters(self.session, [agent], ctx.settings)[agent]
            record_id = claim_hopper(self.session, request, lead_filter)
        else:
            record_id = claim(self.session, request)
        if record_id is not None and agent is not None:
            self._deliver(ctx, record_id, agent, request.now)
        return record_id

    def _deliver(self, ctx: CampaignContext, record_id: int, agent_id: int, now: datetime) -> None:
        deliveries.deliver(
            self.session,
            campaign_id=ctx.id,
            campaign_name=ctx.name,
            list_id=ctx.list_id,
            pass_no=ctx.pass_no,
            record_id=record_id,
            agent_id=agent_id,
            now=now,
        )

    def hand_over(
        self, ctx: CampaignContext, record_id: int, agent_id: int, now: datetime, until: datetime
    ) -> None:
        try:
            with self.session.begin_nested():
                dialer_leases.hand_over(self.session, ctx.id, record_id, agent_id, now, until)
        except IntegrityError as exc:
            raise LeaseRace(
                f"agent {agent_id} already holds a record of campaign {ctx.id}"
            ) from exc
        self._deliver(ctx, record_id, agent_id, now)

    def backlog(
        self, campaign_id: int, owner_id: int | None, zones: list[str], now: datetime
    ) -> Backlog:
        return reads.backlog(self.session, campaign_id, owner_id, zones, now)

    def conditions(
        self,
        ctx: CampaignContext,
        record_id: int,
        *,
        agent_id: int | None,
        zones: Sequence[str],
        now: datetime,
    ) -> RecordConditions | None:
        return eligibility.conditions(
            self.session, ctx, record_id, agent_id=agent_id, zones=zones, now=now
        )

    def held_elsewhere(
        self, ctx: CampaignContext, agent_id: int, now: datetime
    ) -> HeldElsewhere | None:
        return eligibility.held_elsewhere(self.session, ctx, agent_id, now)

    def presence(self, campaign_id: int, agent_id: int | None) -> Presence:
        return eligibility.presence(self.session, campaign_id, agent_id)

    def receive_and_held(self, campaign_id: int, agent_id: int, now: datetime) -> int | None:
        params: dict[str, Any] = {
            "campaign": campaign_id,
            "agent": agent_id,
            "now": now,
            "receiving": True,
        }
        if self.postgres:
            found = self.session.scalar(_RECEIVING_AND_HELD_POSTGRESQL, params)
            return int(found) if found is not None else None
        self.session.execute(SESSION_UPSERT, params)
        return dispensing.current_lease(self.session, campaign_id, agent_id, lock=True)

    def current_lease(self, campaign_id: int, agent_id: int, *, lock: bool = False) -> int | None:
        return dispensing.current_lease(self.session, campaign_id, agent_id, lock=lock)

    def leases_of(self, agent_id: int) -> list[tuple[int, int]]:
        return reads.leases_of(self.session, agent_id)

    def lease(self, campaign_id: int, record_id: int, agent_id: int, *, lock: bool) -> Lease:
        return dispensing.lease(self.session, campaign_id, record_id, agent_id, lock=lock)

    def dial_target(self, campaign_id: int, record_id: int, agent_id: int) -> DialTarget:
        return dispensing.dial_target(self.session, campaign_id, record_id, agent_id)

    def lease_with_record(self, campaign_id: int, record_id: int, agent_id: int) -> LeaseView:
        return dispensing.leased_locked(self.session, campaign_id, record_id, agent_id)

    def delivered(self, campaign_id: int, record_id: int) -> Delivered | None:
        return reads.delivered(self.session, campaign_id, record_id)

    def renew(self, campaign_id: int, record_id: int, agent_id: int, until: datetime) -> None:
        dispensing.renew(self.session, campaign_id, record_id, agent_id, until)

    def accept(
        self, campaign_id: int, record_id: int, agent_id: int, now: datetime, until: datetime
    ) -> None:
        dispensing.accept(self.session, campaign_id, record_id, agent_id, now, until)

    def set_pending(
        self,
        campaign_id: int,
        record_id: int,
        agent_id: int,
        pending: dict[str, Any],
        until: datetime,
    ) -> None:
        dispensing.set_pending(self.session, campaign_id, record_id, agent_id, pending, until)

    def dialled(
        self, campaign_id: int, record_id: int, agent_id: int | None, now: datetime, until: datetime
    ) -> None:
        dispensing.dialled(self.session, campaign_id, record_id, agent_id, now, until)

    def release(
        self,
        campaign_id: int,
        record_id: int,
        agent_id: int | None,
        change: LeaseChange,
        *,
        attempts_added: int = 0,
        lead_status: str | None = None,
    ) -> None:
        values: dict[str, Any] = dict(change)
        rank = values.pop("rank", None)
        dispensing.release(
            self.session,
            campaign_id,
            record_id,
            agent_id,
            attempts_added=attempts_added,
            lead_status=lead_status,
            rank=rank,
            **values,
        )

    def end_delivery(
        self,
        ctx: CampaignContext,
        record_id: int,
        agent_id: int | None,
        *,
        kind: str,
        code: str | None,
        note: str,
        now: datetime,
        outcome: str,
        history_code: str | None = None,
        edits: dict[str, Any] | None = None,
    ) -> None:
        deliveries.end_delivery(
            self.session,
            campaign_id=ctx.id,
            campaign_name=ctx.name,
            record_id=record_id,
            agent_id=agent_id,
            kind=kind,
            code=code,
            note=note,
            now=now,
            outcome=outcome,
            history_code=history_code,
            edits=edits,
        )

    def finish(
        self,
        ctx: CampaignContext,
        record_id: int,
        agent_id: int,
        change: LeaseChange,
        *,
        attempts_added: int,
        lead_status: str,
        code: str,
        note: str,
        now: datetime,
        edits: dict[str, Any] | None,
    ) -> None:
        values: dict[str, Any] = dict(change)
        rank = values.pop("rank", None)
        ending = deliveries.end_params(
            campaign_id=ctx.id,
            campaign_name=ctx.name,
            record_id=record_id,
            agent_id=agent_id,
            kind=InteractionKind.WRAPUP.value,
            code=code,
            note=note,
            now=now,
            outcome="done",
            history_code=code,
            edits=edits,
        )
        ended = dispensing.release(
            self.session,
            ctx.id,
            record_id,
            agent_id,
            attempts_added=attempts_added,
            lead_status=lead_status,
            rank=rank,
            ending=ending,
            **values,
        )
        if not ended:
            deliveries.send_end(self.session, ending)

    def close_assignment(
        self, campaign_id: int, record_id: int, *, now: datetime, outcome: str
    ) -> None:
        deliveries.close_assignment(self.session, campaign_id, record_id, now=now, outcome=outcome)

    def return_to_hopper(
        self, campaign_id: int, record_id: int, agent_id: int, now: datetime, *, first: bool
    ) -> None:
        owner = self.session.scalar(select(Record.owner_id).where(Record.id == record_id))
        owned = agent_id if owner == agent_id else None
        hopper.reinsert(self.session, campaign_id, record_id, owned, now, first=first)

    def out_elsewhere(self, campaign_id: int, record_id: int, now: datetime) -> bool:
        return dispensing.out_elsewhere(self.session, campaign_id, record_id, now)

    def unaccepted(self, now: datetime) -> list[tuple[int, int, int]]:
        return reads.unaccepted(self.session, now)

    def still_unaccepted(self, campaign_id: int, record_id: int, agent_id: int) -> bool:
        return reads.still_unaccepted(self.session, campaign_id, record_id, agent_id)

    def due_previews(self, now: datetime) -> list[tuple[int, int, int]]:
        return reads.due_previews(self.session, now)

    def pusher_has_work(self) -> bool:
        return reads.pusher_has_work(self.session)

    def mode(self, campaign_id: int) -> DialingMode | None:
        return reads.mode(self.session, campaign_id)

    def per_agent(self, campaign_id: int) -> bool:
        ctx = self._contexts.get(campaign_id)
        if ctx is None:
            return reads.per_agent(self.session, campaign_id)
        return reads.per_agent(
            self.session, campaign_id, (ctx.agent_owned_column, ctx.enforce_lead_ownership)
        )

    def personal_due(
        self, campaign_id: int, agent_ids: Sequence[int], *, zones: Sequence[str], now: datetime
    ) -> set[int]:
        return personal.personal_due(self.session, campaign_id, agent_ids, zones, now)

    def complete_if_drained(self, campaign_id: int, now: datetime) -> bool:
        return complete_if_drained(self.session, campaign_id, now=now)


def _request(
    ctx: CampaignContext,
    agent_id: int | None,
    zones: Sequence[str],
    now: datetime,
    until: datetime,
    accept_by: datetime | None,
) -> ClaimRequest:
    return ClaimRequest(
        campaign_id=ctx.id,
        agent_id=agent_id,
        owned=ctx.agent_owned_column is not None,
        now=now,
        lease_until=until,
        zones=zones,
        pass_no=ctx.pass_no,
        accept_by=accept_by,
    )
