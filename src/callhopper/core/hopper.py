"""The hopper of lead-ownership campaigns: the loader that keeps every hopper topped up, and
what the hopper view shows (who has how many leads staged, dialable leads per agent).

The loader runs inside ``callhopper serve`` or alone (``callhopper loader``). Any number of
processes may run it: a worker lease per campaign makes exactly one of them load a given
campaign at a time. It wakes on events of its own process (an agent logs in or out, leads
are inserted) and otherwise every ``poll_s`` seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from callhopper.domain.campaign_values import Campaign
from callhopper.domain.errors import Conflict, NotFound
from callhopper.domain.hopper import plan_groups
from callhopper.domain.hopper_reports import LoadReport
from callhopper.ports import Clock, Transaction, UnitOfWork

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(seconds=60)
DEFAULT_POLL_S = 10.0


class HopperLoader:
    """Loads hoppers; ``run_forever`` until ``stop`` is set."""

    def __init__(self, uow: UnitOfWork, clock: Clock, *, poll_s: float = DEFAULT_POLL_S) -> None:
        self.uow = uow
        self.clock = clock
        self.poll_s = poll_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stop = threading.Event()

    def wake(self) -> None:
        """Ask for a load now (an agent logged in or out, leads were inserted)."""
        self._wake.set()

    def run_once(self) -> dict[int, LoadReport]:
        """Load every running lead-ownership campaign this process may load now."""
        with self.uow.read() as tx:
            ids = tx.campaigns.lead_campaigns_running()
        reports = {}
        for campaign_id in ids:
            report = self.load(campaign_id)
            if report is not None:
                reports[campaign_id] = report
        return reports

    def load(self, campaign_id: int) -> LoadReport | None:
        """One load of one campaign, if this process holds (or takes) its lease."""
        now = self.clock.now()
        with self.uow.write() as tx:
            if not tx.workers.take(f"hopper:{campaign_id}", self.holder, now, LEASE_TTL):
                return None
            try:
                campaign = tx.campaigns.get(campaign_id)
            except NotFound:
                return None
            return tx.hopper.load(campaign, now)

    def run_forever(self) -> None:
        """Load, then sleep until woken, the poll interval passes, or :meth:`stop`."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bad load must not kill the loader; it retries next round
                log.exception("hopper load failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


# --- what the hopper holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerBucket:
    owner_user_id: str
    leads: int


@dataclass(frozen=True)
class GeneralBucket:
    """General leads loaded for a skills group (``direct``: inserted by the lead API), with
    the group's logged-in agents and their skills."""

    group: str
    agents: list[str]
    skills: list[str]
    leads: int


@dataclass(frozen=True)
class HopperView:
    campaign_id: int
    total: int
    owned: list[OwnerBucket]
    general: list[GeneralBucket]


@dataclass(frozen=True)
class HopperLeadView:
    record_id: int
    owner_user_id: str | None
    group: str | None
    position: int
    direct: bool
    data: dict[str, str]


@dataclass(frozen=True)
class LoadView:
    """A load's report, agents by user id."""

    agents: int
    removed_owned: int
    flushed_general: int
    added_owned: dict[str, int]
    added_general: dict[str, int]


@dataclass(frozen=True)
class AgentDialable:
    user_id: str
    owned: int
    general: int


@dataclass(frozen=True)
class DialableView:
    campaign_id: int
    agents: list[AgentDialable] = field(default_factory=list)
    #: Campaign-wide dialable leads mean nothing when each agent has leads of their own.
    campaign: str = "not applicable"


def _lead_campaign(tx: Transaction, campaign_id: int) -> Campaign:
    campaign = tx.campaigns.get(campaign_id)
    if not campaign.enforce_lead_ownership:
        raise Conflict("this campaign does not use lead ownership: it has no hopper")
    return campaign


class HopperService:
    """The hopper view of a lead-ownership campaign, and loads on demand."""

    def __init__(self, uow: UnitOfWork, clock: Clock, loader: HopperLoader) -> None:
        self.uow = uow
        self.clock = clock
        self.loader = loader

    def view(self, campaign_id: int) -> HopperView:
        """Which leads are in the hopper: per owner, and general leads per skills group."""
        with self.uow.read() as tx:
            campaign = _lead_campaign(tx, campaign_id)
            counts = tx.hopper.counts(campaign_id)
            agents = tx.hopper.logged_in_agents(campaign)
            groups = {g.key: g for g in plan_groups(tx.hopper.agent_filters(campaign, agents))}
            users = tx.hopper.user_ids()
            skills = tx.hopper.skills()
        owned = [
            OwnerBucket(owner_user_id=users[c.owner_id], leads=c.leads)
            for c in counts
            if c.owner_id is not None
        ]
        general = []
        for c in counts:
            if c.owner_id is not None:
                continue
            group = groups.get(c.group_key or "")
            members = group.agents if group is not None else ()
            general.append(
                GeneralBucket(
                    group=c.group_key or "direct",
                    agents=[users[a] for a in members],
                    skills=sorted({s for a in members for s in skills.get(a, [])}),
                    leads=c.leads,
                )
            )
        total = sum(c.leads for c in counts)
        return HopperView(campaign_id=campaign_id, total=total, owned=owned, general=general)

    def leads(
        self,
        campaign_id: int,
        *,
        owner: str | None,
        general: bool,
        after: int | None,
        limit: int,
    ) -> list[HopperLeadView]:
        """The hopper's leads in position order (``owner``: only this user id's)."""
        with self.uow.read() as tx:
            _lead_campaign(tx, campaign_id)
            owner_id = None
            if owner is not None:
                owner_id = tx.owners.user_key(owner)
                if owner_id is None:
                    raise NotFound(f"no user with user_id {owner!r}", field="user_id")
            users = tx.hopper.user_ids()
            entries = tx.hopper.entries(
                campaign_id, owner_id=owner_id, general=general, limit=limit, after=after
            )
        return [
            HopperLeadView(
                record_id=e.record_id,
                owner_user_id=users.get(e.owner_id) if e.owner_id is not None else None,
                group=e.group_key,
                position=e.position,
                direct=e.direct,
                data=e.data,
            )
            for e in entries
        ]

    def load_now(self, campaign_id: int) -> LoadView:
        """Run a hopper load now (the loader also runs on its own)."""
        with self.uow.read() as tx:
            _lead_campaign(tx, campaign_id)
            users = tx.hopper.user_ids()
        report = self.loader.load(campaign_id)
        if report is None:
            raise Conflict("another process is loading this campaign's hopper right now")
        return LoadView(
            agents=report.agents,
            removed_owned=report.removed_owned,
            flushed_general=report.flushed_general,
            added_owned={users[a]: n for a, n in report.added_owned.items()},
            added_general=report.added_general,
        )

    def dialable(self, campaign_id: int) -> DialableView:
        """Dialable leads per logged-in agent: their own, and the general ones their skills
        match."""
        now = self.clock.now()
        with self.uow.read() as tx:
            campaign = _lead_campaign(tx, campaign_id)
            agents = tx.hopper.logged_in_agents(campaign)
            filters = tx.hopper.agent_filters(campaign, agents)
            users = tx.hopper.user_ids()
            rows = []
            for agent in agents:
                owned, general = tx.hopper.dialable(campaign, agent, filters[agent], now)
                rows.append(AgentDialable(user_id=users[agent], owned=owned, general=general))
        return DialableView(campaign_id=campaign_id, agents=rows)
