"""Campaigns, their progress, error monitor and delivery history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from callhopper.api.ids import IntId
from callhopper.api.schemas.base import Body, Changes, Description, Identifier, Name
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_values import CampaignSpec
from callhopper.domain.campaigns import CampaignSettings, CampaignState, DialingMode, SortKey
from callhopper.domain.ownership import OwnerOrder


class CampaignCreate(Body):
    name: Name
    description: Description = ""
    list_id: IntId
    queue_id: IntId
    wrapup_set_id: IntId = Field(1, description="Default: the built-in Default set.")
    mode: DialingMode = DialingMode.PREVIEW
    agent_owned_column: Identifier | None = Field(
        None, description="Deliver each record only to the agent its column names."
    )
    owner_order: OwnerOrder = OwnerOrder.EMAIL_FIRST
    enforce_lead_ownership: bool = Field(
        False, description="Lead owners with a per-agent hopper; preview modes only."
    )
    sort: list[SortKey] = Field(default_factory=list)
    calling_window: CallingWindow = Field(default_factory=CallingWindow)
    settings: CampaignSettings = Field(default_factory=CampaignSettings)

    def spec(self) -> CampaignSpec:
        """The campaign to create, as the campaign service takes it."""
        return CampaignSpec(
            name=self.name,
            description=self.description,
            list_id=self.list_id,
            queue_id=self.queue_id,
            wrapup_set_id=self.wrapup_set_id,
            mode=self.mode,
            agent_owned_column=self.agent_owned_column,
            owner_order=self.owner_order,
            sort=tuple(self.sort),
            calling_window=self.calling_window,
            settings=self.settings,
            enforce_lead_ownership=self.enforce_lead_ownership,
        )


class CampaignUpdate(Changes):
    """Only the fields sent change. Mode, queue, list and agent-owned column are fixed."""

    nullable = frozenset({"agent_owned_column"})

    name: Name | None = None
    description: Description | None = None
    wrapup_set_id: IntId | None = None
    mode: DialingMode | None = None
    queue_id: IntId | None = None
    list_id: IntId | None = None
    agent_owned_column: Identifier | None = None
    enforce_lead_ownership: bool | None = None
    owner_order: OwnerOrder | None = None
    sort: list[SortKey] | None = None
    calling_window: dict[str, Any] | None = Field(
        None,
        description="Fields of the calling window (as in POST /campaigns); only those sent "
        "change, and the result is validated as a whole.",
    )
    settings: dict[str, Any] | None = Field(
        None,
        description="Fields of the campaign's settings (as in POST /campaigns); only those "
        "sent change, and the result is validated as a whole.",
    )


class CampaignPublic(BaseModel):
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
    sort: list[SortKey]
    calling_window: CallingWindow
    settings: CampaignSettings
    pass_no: int
    started_at: datetime | None
    stopped_at: datetime | None
    completed_at: datetime | None
    recycled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    notices: list[str] = Field(
        default_factory=list, description="Settings adjusted on the way in, and why."
    )


class ProgressPublic(BaseModel):
    total: int
    delivered: int = Field(description="Delivered at least once in this pass.")
    handled: int = Field(description="Done, skipped or declined in this pass.")
    remaining: int = Field(description="Not yet handled in this pass (includes the ones out now).")
    errors: int = Field(description="Undeliverable: see the error monitor.")
    final: int = Field(description="Closed for this campaign.")


class AgentProgressPublic(ProgressPublic):
    user_id: str
    display_name: str


class CampaignProgressPublic(BaseModel):
    campaign_id: int
    state: CampaignState
    pass_no: int
    campaign: ProgressPublic
    agents: list[AgentProgressPublic]


class AbandonDayPublic(BaseModel):
    day: date = Field(description="The day, in the report's time zone.")
    answered_by_person: int
    abandoned: int
    rate: float = Field(description="abandoned ÷ answered_by_person (0 without answers).")
    over_target: bool


class AbandonRatePublic(BaseModel):
    campaign_id: int
    target: float = Field(description="The campaign's abandon_target.")
    tz: str
    first_day: date
    last_day: date
    answered_by_person: int = Field(description="Over the whole period (the rolling window).")
    abandoned: int
    rate: float
    days_over_target: int
    days: list[AbandonDayPublic] = Field(
        description="Each day with calls answered by a person, oldest first."
    )


class ErrorMonitorPublic(BaseModel):
    campaign_id: int
    total: int
    counts: dict[str, int] = Field(description="Undeliverable records by reason.")


class ErrorRecordPublic(BaseModel):
    record_id: int
    reason: str
    owner_value: str | None
    owner_user_id: str | None
    data: dict[str, str]


class AssignmentPublic(BaseModel):
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
