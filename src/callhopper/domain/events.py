"""What an agent's real-time channel is told: deliveries, their end, state changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AgentEvent:
    """Something an agent's client should know about.

    An event names an agent and says what changed; the channel's handler reads what it
    needs and sends it. An event is never the only copy of a delivery: a client that
    reconnects is sent every record still delivered to it.
    """

    agent_id: int
    #: ``delivery``, ``delivery_ended``, ``state`` or ``campaign``.
    kind: str
    campaign_id: int | None = None
    record_id: int | None = None
    #: A short reason (``accept_timeout``, ``auto_dial``, ``started`` …).
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: What the publishing transaction already read (a delivery), for the publishing
    #: process's handlers only: it is no part of what other processes receive.
    snapshot: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class HeldPush:
    """A record of a pushed campaign leased to an agent now, and since when: what the
    agent's channel must have been told about."""

    agent_id: int
    campaign_id: int
    record_id: int
    leased_at: datetime
