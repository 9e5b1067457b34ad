"""A campaign as the services see it, and the reports about one (progress, errors, history)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaigns import CampaignSettings, CampaignState, DialingMode, SortKey
from callhopper.domain.ownership import OwnerOrder

#: States in which a campaign may deliver records (running, or stopping with records out).
ACTIVE_STATES = (CampaignState.ON.value, CampaignState.STOPPING.value)


@dataclass(frozen=True)
class CampaignSpec:
    """What defines a campaign when it is created."""

    name: str
    description: str
    list_id: int
    queue_id: int
    wrapup_set_id: int
    mode: DialingMode
    agent_owned_column: str | None
    owner_order: OwnerOrder
    sort: tuple[SortKey, ...]
    calling_window: CallingWindow
    settings: CampaignSettings
    enforce_lead_ownership: bool = False


@dataclass(frozen=True)
class Campaign:
    """A stored campaign: its definition, its state and its pass."""

    id: int
    name: str
    description: str
    list_id: int
    queue_id: int
    wrapup_set_id: int
    mode: DialingMode
    state: CampaignState
    agent_owned_column: str | None
    enforce_lead_ownership: bool
    owner_order: OwnerOrder
    sort: tuple[SortKey, ...]
    calling_window: CallingWindow
    settings: CampaignSettings
    #: How many passes over the list were started (0: never started).
    pass_no: int
    #: The time zones the campaign's contacts live in.
    zones: tuple[str, ...]
    started_at: datetime | None
    stopped_at: datetime | None
    completed_at: datetime | None
    recycled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def view(self) -> dict[str, Any]:
        """The campaign as its audit entries show it."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "list_id": self.list_id,
            "queue_id": self.queue_id,
            "wrapup_set_id": self.wrapup_set_id,
            "mode": self.mode.value,
            "state": self.state.value,
            "agent_owned_column": self.agent_owned_column,
            "enforce_lead_ownership": self.enforce_lead_ownership,
            "owner_order": self.owner_order.value,
            "sort": [k.model_dump() for k in self.sort],
            "calling_window": self.calling_window.model_dump(mode="json"),
            "settings": self.settings.model_dump(mode="json"),
            "pass_no": self.pass_no,
        }


@dataclass
class Progress:
    """Records of a campaign (or of one owner agent): all of them, delivered and handled
    in this pass, remaining in this pass, undeliverable, and closed."""

    total: int = 0
    delivered: int = 0
    handled: int = 0
    remaining: int = 0
    errors: int = 0
    final: int = 0

    def add(self, other: Progress) -> None:
        self.total += other.total
        self.delivered += other.delivered
        self.handled += other.handled
        self.remaining += other.remaining
        self.errors += other.errors
        self.final += other.final


@dataclass(frozen=True)
class AgentProgress:
    """One owner agent's part of a campaign's progress."""

    user_id: str
    display_name: str
    progress: Progress


@dataclass(frozen=True)
class CampaignProgress:
    campaign: Campaign
    total: Progress
    #: Per owner agent (agent-owned campaigns), by user id.
    agents: list[AgentProgress] = field(default_factory=list)


@dataclass(frozen=True)
class ErrorRecord:
    """A record the campaign cannot deliver, and why."""

    record_id: int
    reason: str
    owner_value: str | None
    owner_user_id: str | None
    data: dict[str, str]


@dataclass(frozen=True)
class Assignment:
    """One delivery of a record to an agent (kept when the campaign is deleted)."""

    id: int
    campaign_id: int
    campaign_name: str
    list_id: int
    record_id: int
    agent_user_id: str
    pass_no: int
    leased_at: datetime
    released_at: datetime | None
    outcome: str | None
    code: str | None


#: The columns of a campaign's results export, in order.
RESULT_COLUMNS = (
    "record_id",
    "key",
    "status",
    "attempts",
    "last_outcome",
    "last_at",
    "owner",
    "last_agent",
)


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One record of a campaign's results: where it stands, how often it was attempted, its
    last outcome (wrap-up code) and when, its owner (the agent of an agent-owned record, else
    its lead owner) and the last agent who had it."""

    record_id: int
    key: str | None
    status: str
    attempts: int
    last_outcome: str | None
    last_at: datetime | None
    owner: str | None
    last_agent: str | None

    def values(self) -> tuple[object, ...]:
        """The row in :data:`RESULT_COLUMNS` order (times in ISO 8601)."""
        return (
            self.record_id,
            self.key,
            self.status,
            self.attempts,
            self.last_outcome,
            self.last_at.isoformat() if self.last_at else None,
            self.owner,
            self.last_agent,
        )
