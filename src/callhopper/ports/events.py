"""The agent events port: how the dispensing core tells agents' real-time channels."""

from __future__ import annotations

import asyncio
from typing import Protocol

from callhopper.domain.events import AgentEvent
from callhopper.ports.transactions import Transaction


class AgentEvents(Protocol):
    """Sends events to the agents' channels, in every server process."""

    def publish(self, event: AgentEvent, tx: Transaction | None = None) -> None:
        """Send ``event`` once ``tx`` commits (never if it rolls back), or at once without
        a transaction. Dispatched earlier, a channel could read the database before the
        change is visible."""
        ...


class AgentChannels(Protocol):
    """Where the real-time channel of each connected agent listens (in this process)."""

    def subscribe(
        self, agent_id: int, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Queue[AgentEvent]:
        """A queue that receives the agent's events, on ``loop``."""
        ...

    def unsubscribe(self, agent_id: int, queue: asyncio.Queue[AgentEvent]) -> None: ...

    def sent(self, agent_id: int, campaign_id: int, record_id: int) -> None:
        """The agent's channel sent them this record's delivery (not through an event: the
        records resumed on connect), so that it is not sent again as a lost push."""
        ...
