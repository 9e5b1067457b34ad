"""The hopper store: the leads staged for lead-ownership campaigns' agents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from callhopper.domain.campaign_values import Campaign
from callhopper.domain.filters import Filter
from callhopper.domain.hopper_reports import HopperCount, HopperLead, LoadReport


class HopperStore(Protocol):
    def load(self, campaign: Campaign, now: datetime) -> LoadReport:
        """One hopper load of the campaign."""
        ...

    def counts(self, campaign_id: int) -> list[HopperCount]:
        """Leads in the hopper per owner, and general leads per skills group."""
        ...

    def entries(
        self,
        campaign_id: int,
        *,
        owner_id: int | None,
        general: bool,
        limit: int,
        after: int | None,
    ) -> list[HopperLead]:
        """The hopper's leads in position order, from the first or ``after`` a position."""
        ...

    def logged_in_agents(self, campaign: Campaign) -> list[int]:
        """Active agents logged into the campaign who are still in its queue."""
        ...

    def agent_filters(self, campaign: Campaign, agents: Sequence[int]) -> dict[int, Filter | None]:
        """Each agent's lead filter: their skills, else the campaign's default filter."""
        ...

    def skills(self) -> dict[int, list[str]]:
        """Every user's skill names, by user key."""
        ...

    def user_ids(self) -> dict[int, str]:
        """Every user's user id, by key."""
        ...

    def dialable(
        self, campaign: Campaign, agent_id: int, lead_filter: Filter | None, now: datetime
    ) -> tuple[int, int]:
        """Leads this agent could be given now: (owned, general matching their skills)."""
        ...

    def insert(
        self, campaign_id: int, record_ids: Sequence[int], priority: int, now: datetime
    ) -> int:
        """Put new leads straight into the campaign's hopper, after the others of their
        priority (higher first); returns how many."""
        ...
