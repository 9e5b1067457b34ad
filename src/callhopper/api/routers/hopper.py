"""The hopper of lead-ownership campaigns: view, loads, dialable leads (SPEC §7.2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callhopper.api.deps import ClockDep, DbDep, require, require_any
from callhopper.api.ids import BigIntId, IntId
from callhopper.core.hopper import HopperLoader
from callhopper.domain.actors import Actor
from callhopper.domain.errors import Conflict
from callhopper.domain.hopper import plan_groups
from callhopper.domain.rights import Right
from callhopper.store import hopper
from callhopper.store.campaigns import get_campaign, settings_of
from callhopper.store.models import Campaign, Skill, User, UserSkill

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


def _lead_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = get_campaign(session, campaign_id)
    if not campaign.enforce_lead_ownership:
        raise Conflict("this campaign does not use lead ownership: it has no hopper")
    return campaign


@router.get("/campaigns/{campaign_id}/hopper", response_model=HopperView)
def hopper_view(campaign_id: IntId, _actor: CampaignReader, db: DbDep) -> HopperView:
    """Which leads are in the hopper: per owner, and general leads per skills group."""
    with db.read() as session:
        campaign = _lead_campaign(session, campaign_id)
        counts = hopper.counts(session, campaign_id)
        settings = settings_of(campaign)
        agents = hopper.logged_in_agents(session, campaign)
        groups = {g.key: g for g in plan_groups(hopper.agent_filters(session, agents, settings))}
        users = dict(session.execute(select(User.id, User.user_id)).all())
        skills: dict[int, list[str]] = {}
        for user_id, name in session.execute(
            select(UserSkill.user_id, Skill.name).join(Skill, Skill.id == UserSkill.skill_id)
        ):
            skills.setdefault(user_id, []).append(name)
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
        return HopperView(
            campaign_id=campaign_id,
            total=sum(c.leads for c in counts),
            owned=owned,
            general=general,
        )


@router.get("/campaigns/{campaign_id}/hopper/leads", response_model=list[HopperLead])
def hopper_leads(
    campaign_id: IntId,
    _actor: CampaignReader,
    db: DbDep,
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
    with db.read() as session:
        _lead_campaign(session, campaign_id)
        owner_id = None
        if owner is not None:
            from callhopper.store.users import get_user

            owner_id = get_user(session, owner).id
        users = dict(session.execute(select(User.id, User.user_id)).all())
        return [
            HopperLead(
                record_id=e.record_id,
                owner_user_id=users.get(e.owner_id) if e.owner_id is not None else None,
                group=e.group_key,
                position=e.position,
                direct=e.direct,
                data=r.data,
            )
            for e, r in hopper.entries(
                session, campaign_id, owner_id=owner_id, general=general, limit=limit, after=after
            )
        ]


@router.post("/campaigns/{campaign_id}/hopper/load", response_model=LoadPublic)
def load_now(
    campaign_id: IntId, _actor: CampaignManager, request: Request, db: DbDep
) -> LoadPublic:
    """Run a hopper load now (the loader also runs on its own)."""
    with db.read() as session:
        _lead_campaign(session, campaign_id)
        users = dict(session.execute(select(User.id, User.user_id)).all())
    loader: HopperLoader = request.app.state.hopper_loader
    report = loader.load(campaign_id)
    if report is None:
        raise Conflict("another process is loading this campaign's hopper right now")
    return LoadPublic(
        agents=report.agents,
        removed_owned=report.removed_owned,
        flushed_general=report.flushed_general,
        added_owned={users[a]: n for a, n in report.added_owned.items()},
        added_general=report.added_general,
    )


@router.get("/campaigns/{campaign_id}/dialable", response_model=DialablePublic)
def dialable(
    campaign_id: IntId, _actor: CampaignReader, db: DbDep, clock: ClockDep
) -> DialablePublic:
    """Dialable leads: not applicable campaign-wide for owner campaigns (each agent sees their
    own leads and the general ones their skills match), computed per logged-in agent."""
    now = clock.now()
    with db.read() as session:
        campaign = _lead_campaign(session, campaign_id)
        settings = settings_of(campaign)
        agents = hopper.logged_in_agents(session, campaign)
        filters = hopper.agent_filters(session, agents, settings)
        users = dict(session.execute(select(User.id, User.user_id)).all())
        rows = []
        for agent in agents:
            owned, general = hopper.dialable(session, campaign, agent, filters[agent], now)
            rows.append(AgentDialable(user_id=users[agent], owned=owned, general=general))
        return DialablePublic(campaign_id=campaign_id, campaign="not applicable", agents=rows)
