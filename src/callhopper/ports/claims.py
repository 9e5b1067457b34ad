"""The claims port: a campaign's records as its agents get them, hold them and give them
back (the leases of the dispensing core)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from callhopper.domain.campaigns import DialingMode
from callhopper.domain.dispensing import (
    Backlog,
    CampaignContext,
    Delivered,
    DialTarget,
    HeldElsewhere,
    Lease,
    LeaseChange,
    LeaseView,
)
from callhopper.domain.eligibility import Presence, RecordConditions


class Claims(Protocol):
    """Leases of one transaction. Every transition names the lease it expects (campaign,
    record, agent) and raises :class:`~callhopper.domain.errors.NotFound` when the record
    is no longer delivered to that agent."""

    def context(self, campaign_id: int, agent_id: int | None) -> CampaignContext | None:
        """The campaign as the dispensing core works it (``member``: whether ``agent_id``
        is in its queue), or ``None`` when there is no such campaign. One statement."""
        ...

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
        """Lease the agent's next record of the campaign whose contact is in one of
        ``zones`` until ``until`` (``accept_by``: a push to accept before then), and
        append the delivery to the history; ``None`` when none is deliverable now.

        Records of an agent-owned campaign go to their owner only; a lead-ownership
        campaign's come from its hopper (the agent's leads, then general leads their
        skills match). ``agent_id`` ``None`` is the dialer's claim (a predictive call, in
        a campaign without owners): the record is leased to the dialer, with no agent and
        no line in the history yet, until :meth:`hand_over` or :meth:`release`. Raises
        :class:`~callhopper.domain.dispensing.LeaseRace` when the
        agent already holds a record of the campaign (a concurrent claim leased first);
        with ``isolated`` the transaction stays usable after that."""
        ...

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
        """:meth:`claim` for each of ``agent_ids`` (in order, longest wait first), in one
        statement, in a campaign whose records have no owner (neither agent-owned nor
        lead-ownership): the (agent, record) pairs leased, fewer than the agents when
        records ran out. A personal callback due for one of them goes to them first.
        Raises :class:`~callhopper.domain.dispensing.LeaseRace`, having changed nothing,
        when one of them got a record meanwhile; the transaction stays usable."""
        ...

    def backlog(
        self, campaign_id: int, owner_id: int | None, zones: list[str], now: datetime
    ) -> Backlog:
        """Why a claim found nothing for an agent: the records that wait only for the
        calling window (open now in ``zones``), else the next retry due later. ``owner_id``:
        the agent of an agent-owned campaign, ``None`` for records without an owner."""
        ...

    def conditions(
        self,
        ctx: CampaignContext,
        record_id: int,
        *,
        agent_id: int | None,
        zones: Sequence[str],
        now: datetime,
    ) -> RecordConditions | None:
        """The campaign's record as its claims see it, with each named condition of the
        claim statements evaluated for it as a claim by ``agent_id`` (``None``: an agent
        without records of their own) would now; ``None`` when the record is not the
        campaign's."""
        ...

    def held_elsewhere(
        self, ctx: CampaignContext, agent_id: int, now: datetime
    ) -> HeldElsewhere | None:
        """The agent's records a claim would take now but that another campaign sharing
        the list holds (owns, has set aside, or has out with an agent), if any."""
        ...

    def presence(self, campaign_id: int, agent_id: int | None) -> Presence:
        """The agent a record waits for (``None``: any agent of the queue): active, in the
        campaign's queue, logged into it; and how many agents of the queue are."""
        ...

    def receive_and_held(self, campaign_id: int, agent_id: int, now: datetime) -> int | None:
        """Get Record's first step: the agent logged into the campaign if needed and
        receiving, and the record they already hold there (even if its time ran out),
        locked. One statement on PostgreSQL."""
        ...

    def current_lease(self, campaign_id: int, agent_id: int, *, lock: bool = False) -> int | None:
        """The record the agent holds in the campaign (even if its time ran out), if any
        (``lock``: its row held until the transaction ends)."""
        ...

    def leases_of(self, agent_id: int) -> list[tuple[int, int]]:
        """(campaign, record) of every record delivered to the agent now, by campaign."""
        ...

    def lease(self, campaign_id: int, record_id: int, agent_id: int, *, lock: bool) -> Lease:
        """The lease of a record delivered to the agent (``lock``: its row held until the
        transaction ends)."""
        ...

    def lease_with_record(self, campaign_id: int, record_id: int, agent_id: int) -> LeaseView:
        """The lease, the contact record and its pending callback, both rows locked; one
        statement (Done)."""
        ...

    def dial_target(self, campaign_id: int, record_id: int, agent_id: int) -> DialTarget:
        """The lease, the contact record, who else has it out or owns it, and the number of
        the callback being delivered; both rows locked, one statement (Call). 404 unless
        the record is delivered to the agent."""
        ...

    def delivered(self, campaign_id: int, record_id: int) -> Delivered | None:
        """The campaign's record with its contact record, its pending callback and the
        newest lines of its history, whoever holds it; one statement."""
        ...

    def renew(self, campaign_id: int, record_id: int, agent_id: int, until: datetime) -> None:
        """The lease runs until ``until``."""
        ...

    def accept(
        self, campaign_id: int, record_id: int, agent_id: int, now: datetime, until: datetime
    ) -> None:
        """A pushed record accepted: no accept deadline any more, the preview starts now,
        and the lease runs until ``until``."""
        ...

    def set_pending(
        self,
        campaign_id: int,
        record_id: int,
        agent_id: int,
        pending: dict[str, Any],
        until: datetime,
    ) -> None:
        """The wrap-up chosen for Done (``code``, ``note``, ``fields``); the lease runs
        until ``until``."""
        ...

    def dialled(
        self,
        campaign_id: int,
        record_id: int,
        agent_id: int | None,
        now: datetime,
        until: datetime,
    ) -> None:
        """A call placed now: the first call of this lease, the contact's last call, and
        the lease renewed until ``until`` (``agent_id`` ``None``: the dialer's lease)."""
        ...

    def hand_over(
        self, ctx: CampaignContext, record_id: int, agent_id: int, now: datetime, until: datetime
    ) -> None:
        """The dialer's lease of a record becomes the agent's until ``until`` (a call
        connected to them), and the delivery is appended to the history. Raises
        :class:`~callhopper.domain.dispensing.LeaseRace` when the agent already holds a
        record of the campaign (the transaction stays usable), and
        :class:`~callhopper.domain.errors.NotFound` when the dialer no longer holds it."""
        ...

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
        """End the lease (``agent_id`` ``None``: the dialer's), setting ``change`` and
        adding ``attempts_added`` attempts; the contact is free for other campaigns again
        (``lead_status``: the lead's status across campaigns becomes this wrap-up code)."""
        ...

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
        """The end of a delivery: its interaction written, and its row of the history
        closed with ``outcome`` (and ``history_code``)."""
        ...

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
        """Done's writes: :meth:`release` with ``change`` (the lead's status becomes
        ``lead_status``), then :meth:`end_delivery` of a wrap-up with ``code``, ``note`` and
        ``edits`` (outcome ``done``); one statement on PostgreSQL."""
        ...

    def close_assignment(
        self, campaign_id: int, record_id: int, *, now: datetime, outcome: str
    ) -> None:
        """The delivery's row of the history closed with ``outcome``."""
        ...

    def return_to_hopper(
        self, campaign_id: int, record_id: int, agent_id: int, now: datetime, *, first: bool
    ) -> None:
        """A lead given back goes into the campaign's hopper again, as the agent's lead if
        they own it, else as a general one: ``first`` (a push not taken) or last (a skip)."""
        ...

    def out_elsewhere(self, campaign_id: int, record_id: int, now: datetime) -> bool:
        """Whether an agent of another campaign holds the contact now (a live lease)."""
        ...

    def unaccepted(self, now: datetime) -> list[tuple[int, int, int]]:
        """(campaign, record, agent) of pushes not accepted in time."""
        ...

    def still_unaccepted(self, campaign_id: int, record_id: int, agent_id: int) -> bool:
        """Whether the push is still the agent's and still not accepted."""
        ...

    def due_previews(self, now: datetime) -> list[tuple[int, int, int]]:
        """(campaign, record, agent) of records previewed longer than their campaign's
        preview timeout and not dialled yet, for agents still active."""
        ...

    def pusher_has_work(self) -> bool:
        """Whether the pusher has anything to watch: a pushed campaign that is on, a
        campaign with a preview timeout, or a pushed record waiting to be accepted."""
        ...

    def mode(self, campaign_id: int) -> DialingMode | None:
        """The campaign's dialing mode (fixed at creation), or ``None`` if it is gone."""
        ...

    def per_agent(self, campaign_id: int) -> bool:
        """Whether what one agent can get says nothing about another (owned records,
        lead ownership, personal callbacks waiting)."""
        ...

    def personal_due(
        self, campaign_id: int, agent_ids: Sequence[int], *, zones: Sequence[str], now: datetime
    ) -> set[int]:
        """The agents among ``agent_ids`` who have a personal callback of the campaign (one
        without owners) that a claim by them would take now as a due retry (the contact's
        zone among ``zones``). One statement."""
        ...

    def complete_if_drained(self, campaign_id: int, now: datetime) -> bool:
        """A stopping campaign completes once no record is leased."""
        ...
