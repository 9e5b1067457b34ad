"""The hopper of lead-ownership campaigns: view, loads, dialable leads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from callhopper.api.deps import HopperDep, require, require_any
from callhopper.api.ids import BigIntId, IntId
from callhopper.domain.actors import Actor
from callhopper.domain.rights import Right

router = APIRouter(tags=["hopper"])

CampaignManager = Annotated[Actor, Depends(require(Right.CAMPAIGN_MANAGE))]
CampaignReader = Annotated[Actor, Depends(require_any(Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))]


class OwnerBucket(BaseModel):
    owner_user_id: str
    leads: int


class GeneralBucket(BaseModel):
    group: str = Field(description="The skills group the general leads were loaded for.")
    agents: list[str] = Field(description="Logged-in agents of that group now.")
    skills: list[str]
    leads: int


class HopperView(BaseModel):
    campaign_id: int
    total: int
    owned: list[OwnerBucket]
    general: list[GeneralBucket]


class HopperLead(BaseModel):
    record_id: int
    owner_user_id: str | None
    group: str | None
    position: int
    direct: bool
    data: dict[str, str]


class LoadPublic(BaseModel):
    agents: int
    removed_owned: int
    flushed_general: int
    added_owned: dict[str, int]
    added_general: dict[str, int]


class AgentDialable(BaseModel):
    user_id: str
    owned: int
    general: int


class DialablePublic(BaseModel):
    campaign_id: int
    campaign: str = Field(description="'not applicable' for lead-ownership campaigns.")
    agents: list[AgentDialable]


@router.get("/campaigns/{campaign_id}/hopper", response_model=HopperView)
def hopper_view(campaign_id: IntId, _actor: CampaignReader, hopper: HopperDep) -> HopperView:
    """Which leads are in the hopper: per owner, and general leads per skills group."""
    return HopperView.model_validate(hopper.view(campaign_id), from_attributes=True)


@router.get("/campaigns/{campaign_id}/hopper/leads", response_model=list[HopperLead])
def hopper_leads(
    campaign_id: IntId,
    _actor: CampaignReader,
    hopper: HopperDep,
    owner: Annotated[str | None, Query(description="Only this owner's leads (user_id).")] = None,
    general: Annotated[bool, Query(description="Only general leads.")] = False,
    after: Annotated[
        BigIntId | None,
        Query(
            description="Page on: the last position seen (negative for leads inserted "
            "directly with a priority); without it, from the first lead."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[HopperLead]:
    leads = hopper.leads(campaign_id, owner=owner, general=general, after=after, limit=limit)
    return [HopperLead.model_validate(lead, from_attributes=True) for lead in leads]


@router.post("/campaigns/{campaign_id}/hopper/load", response_model=LoadPublic)
def load_now(campaign_id: IntId, _actor: CampaignManager, hopper: HopperDep) -> LoadPublic:
    """Run a hopper load now (the loader also runs on its own)."""
    return LoadPublic.model_validate(hopper.load_now(campaign_id), from_attributes=True)


@router.get("/campaigns/{campaign_id}/dialable", response_model=DialablePublic)
def dialable(campaign_id: IntId, _actor: CampaignReader, hopper: HopperDep) -> DialablePublic:
    """Dialable leads: not applicable campaign-wide for owner campaigns (each agent sees their
    own leads and the general ones their skills match), computed per logged-in agent."""
    return DialablePublic.model_validate(hopper.dialable(campaign_id), from_attributes=True)
