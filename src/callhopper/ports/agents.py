"""The agents port: agents' sessions in campaigns and their channels."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from callhopper.domain.actors import Actor
from callhopper.domain.campaigns import Channel
from callhopper.domain.dispensing import AgentCampaign
from callhopper.domain.events import HeldPush


class AgentSessions(Protocol):
    """Which agents are logged into which campaigns, receiving or ready."""

    def enter(self, campaign_id: int, agent_id: int, now: datetime, *, receiving: bool) -> None:
        """Log the agent into the campaign if needed and set Get Record / Stop."""
        ...

    def leave(self, campaign_id: int, agent_id: int) -> None:
        """Log the agent out of the campaign."""
        ...

    def receiving(self, campaign_id: int, agent_id: int) -> bool:
        """Whether the agent's Get Record / Stop toggle is on in the campaign (off when
        they are not logged in)."""
        ...

    def set_ready(self, agent_id: int, channel: Channel, ready: bool, now: datetime) -> None: ...

    def channels(self, agent_id: int) -> dict[Channel, bool]:
        """Every channel's state; a channel never set is not ready."""
        ...

    def waiting(self, campaign_id: int | None = None) -> list[tuple[int, int]]:
        """(campaign, agent) of agents of pushed campaigns who should get a record now,
        of one campaign or of all, the longest wait first."""
        ...

    def first_in_line(self, campaign_id: int, agent_id: int, *, alone: bool) -> bool:
        """Whether the agent waits for a push in the campaign and, when ``alone``, nobody
        else does."""
        ...

    def my_campaigns(self, agent_id: int) -> list[AgentCampaign]:
        """Running campaigns of the agent's queues, by name."""
        ...

    def held_pushes(self, agent_ids: list[int]) -> list[HeldPush]:
        """The records of running pushed campaigns leased to these agents now."""
        ...

    def actor(self, agent_id: int) -> Actor:
        """The agent as an actor; :class:`~callhopper.domain.errors.NotFound` unless they
        are an active user."""
        ...
