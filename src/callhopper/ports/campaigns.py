"""The campaign store: campaigns, their life cycle columns, progress and history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from callhopper.domain.campaign_values import (
    Assignment,
    Campaign,
    CampaignSpec,
    ErrorRecord,
    Progress,
    ResultRow,
)


class CampaignStore(Protocol):
    def get(self, campaign_id: int, *, lock: bool = False) -> Campaign:
        """The campaign (``lock``: its row locked until the end of the transaction), or
        :class:`~callhopper.domain.errors.NotFound`."""
        ...

    def all(self) -> list[Campaign]:
        """Every campaign, by id."""
        ...

    def named(self, name: str) -> int | None:
        """The id of the campaign with this name, if any."""
        ...

    def on_list(self, list_id: int) -> list[Campaign]:
        """The campaigns that use the list, by id."""
        ...

    def lead_campaigns_running(self) -> list[int]:
        """The running campaigns that deliver by lead owners (they have a hopper)."""
        ...

    def running_automatic(self) -> list[int]:
        """The running progressive and predictive campaigns, by id."""
        ...

    def check_references(self, queue_id: int, wrapup_set_id: int) -> None:
        """:class:`~callhopper.domain.errors.NotFound` unless both exist."""
        ...

    def add(self, spec: CampaignSpec, *, now: datetime) -> Campaign:
        """Store a new campaign, off and never started."""
        ...

    def save(self, campaign: Campaign) -> None:
        """Write what may change of a campaign: name, description, wrap-up codes, sorting,
        owner order, window, settings, state, pass and life-cycle times."""
        ...

    def delete(self, campaign_id: int) -> None:
        """Delete the campaign and its hopper entries (its assignment history stays)."""
        ...

    def complete_if_drained(self, campaign_id: int, *, now: datetime) -> bool:
        """A stopping campaign completes once no record is leased (lapsed leases do not
        count); True when it did now."""
        ...

    def queue_agents(self, queue_id: int) -> list[int]:
        """The agents of a queue (they hear of their campaigns' starts and stops)."""
        ...

    def progress(self, campaign: Campaign) -> tuple[Progress, dict[int, Progress]]:
        """The campaign's totals, and per owner agent (by key)."""
        ...

    def error_counts(self, campaign_id: int) -> dict[str, int]:
        """Undeliverable records per reason (every reason, zero included)."""
        ...

    def error_records(
        self, campaign: Campaign, *, reason: str | None, after_id: int, limit: int
    ) -> list[ErrorRecord]:
        """Undeliverable records in record order, from ``after_id`` on."""
        ...

    def assignments(
        self,
        *,
        campaign_id: int | None,
        record_id: int | None,
        agent_id: int | None,
        before_id: int | None,
        limit: int,
    ) -> list[Assignment]:
        """Deliveries, newest first."""
        ...

    def results(self, campaign_id: int, *, after_id: int, limit: int) -> list[ResultRow]:
        """The campaign's records with their results, in record order from ``after_id`` on."""
        ...

    def user_names(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Users' ``(user_id, display_name)`` by key."""
        ...
