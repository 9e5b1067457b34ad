"""Telling agents' clients what changed: a campaign they work on, a delivery taken back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from callhopper.domain.lead_owners import EndedLease


class AgentNotices(Protocol):
    """Sent once the change they describe has committed."""

    def campaign_changed(self, agent_ids: Sequence[int], campaign_id: int, action: str) -> None:
        """The campaign was started, stopped or recycled (``action``)."""
        ...

    def deliveries_ended(self, leases: Sequence[EndedLease], reason: str) -> None:
        """These deliveries were taken back from their agents."""
        ...


class NoNotices:
    """Tells nobody (tools that run without agents, and tests)."""

    def campaign_changed(self, agent_ids: Sequence[int], campaign_id: int, action: str) -> None:
        pass

    def deliveries_ended(self, leases: Sequence[EndedLease], reason: str) -> None:
        pass
