"""Campaigns: definition, start / stop / recycle, progress, error monitor, history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from callhopper.api.deps import CampaignsDep, require, require_any
from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import (
    AbandonDayPublic,
    AbandonRatePublic,
    AgentProgressPublic,
    AssignmentPublic,
    CampaignCreate,
    CampaignProgressPublic,
    CampaignPublic,
    CampaignUpdate,
    ErrorMonitorPublic,
    ErrorRecordPublic,
    ProgressPublic,
    WaitingCallbackPublic,
)
from callhopper.domain.actors import Actor
from callhopper.domain.campaign_values import Campaign
from callhopper.domain.campaigns import CampaignAction
from callhopper.domain.dialer import MAX_REPORT_DAYS
from callhopper.domain.rights import Right

router = APIRouter(tags=["campaigns"])

CampaignManager = Annotated[Actor, Depends(require(Right.CAMPAIGN_MANAGE))]
CampaignReader = Annotated[Actor, Depends(require_any(Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))]


def campaign_public(campaign: Campaign, notices: list[str] | None = None) -> CampaignPublic:
    public = CampaignPublic.model_validate(campaign, from_attributes=True)
    return public.model_copy(update={"notices": notices or []})


@router.get("/campaigns", response_model=list[CampaignPublic])
def list_campaigns(_actor: CampaignReader, campaigns: CampaignsDep) -> list[CampaignPublic]:
    return [campaign_public(c) for c in campaigns.all()]


@router.post("/campaigns", response_model=CampaignPublic, status_code=status.HTTP_201_CREATED)
def create_campaign(
    body: CampaignCreate, actor: CampaignManager, campaigns: CampaignsDep
) -> CampaignPublic:
    created = campaigns.create(actor, body.spec())
    return campaign_public(created.campaign, created.notices)


@router.get("/campaigns/{campaign_id}", response_model=CampaignPublic)
def get_campaign(
    campaign_id: IntId, _actor: CampaignReader, campaigns: CampaignsDep
) -> CampaignPublic:
    return campaign_public(campaigns.get(campaign_id))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignPublic)
def update_campaign(
    campaign_id: IntId, body: CampaignUpdate, actor: CampaignManager, campaigns: CampaignsDep
) -> CampaignPublic:
    """Change name, description, wrap-up codes, sorting, owner order, window or settings.

    Mode, queue, contact list and agent-owned column are fixed once the campaign exists;
    sending a different value is refused (409) with the reason. The fields of the window
    and of the settings sent replace those fields only.
    """
    changed = campaigns.update(
        actor, campaign_id, {k: getattr(body, k) for k in body.model_fields_set}
    )
    return campaign_public(changed.campaign, changed.notices)


@router.delete("/campaigns/{campaign_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_campaign(campaign_id: IntId, actor: CampaignManager, campaigns: CampaignsDep) -> None:
    """Delete a campaign that is off or complete; its assignment history stays."""
    campaigns.delete(actor, campaign_id)


def _action(action: CampaignAction, summary: str) -> None:
    def endpoint(
        campaign_id: IntId, actor: CampaignManager, campaigns: CampaignsDep
    ) -> CampaignPublic:
        return campaign_public(campaigns.change_state(actor, campaign_id, action))

    endpoint.__doc__ = summary
    router.add_api_route(
        f"/campaigns/{{campaign_id}}/{action.value}",
        endpoint,
        methods=["POST"],
        response_model=CampaignPublic,
        name=f"{action.value}_campaign",
    )


_action(CampaignAction.START, "off or complete → on. The first start takes the snapshots.")
_action(CampaignAction.STOP, "on → stopping: no new records; complete once none is out.")
_action(
    CampaignAction.RECYCLE,
    "Restart the pass: snapshots re-taken, non-final records dialable again from the start.",
)


@router.get("/campaigns/{campaign_id}/progress", response_model=CampaignProgressPublic)
def campaign_progress(
    campaign_id: IntId, _actor: CampaignReader, campaigns: CampaignsDep
) -> CampaignProgressPublic:
    """Campaign totals, and per agent for agent-owned campaigns."""
    found = campaigns.progress(campaign_id)
    return CampaignProgressPublic(
        campaign_id=found.campaign.id,
        state=found.campaign.state,
        pass_no=found.campaign.pass_no,
        campaign=ProgressPublic.model_validate(found.total, from_attributes=True),
        agents=[
            AgentProgressPublic(user_id=a.user_id, display_name=a.display_name, **vars(a.progress))
            for a in found.agents
        ],
    )


@router.get("/campaigns/{campaign_id}/abandon-rate", response_model=AbandonRatePublic)
def abandon_rate(
    campaign_id: IntId,
    _actor: CampaignReader,
    campaigns: CampaignsDep,
    days: Annotated[int, Query(ge=1, le=MAX_REPORT_DAYS)] = 30,
    tz: Annotated[str, Query(max_length=64)] = "UTC",
) -> AbandonRatePublic:
    """Abandoned calls over calls answered by a person: per day in the time zone ``tz`` over
    the last ``days`` days (today included), and over that whole rolling window."""
    report = campaigns.abandon_rate(campaign_id, days=days, tz=tz)
    assert report.first is not None and report.last is not None
    return AbandonRatePublic(
        campaign_id=report.campaign_id,
        target=report.target,
        tz=tz,
        first_day=report.first,
        last_day=report.last,
        answered_by_person=report.answered_by_person,
        abandoned=report.abandoned,
        rate=report.rate,
        days_over_target=report.days_over_target,
        days=[
            AbandonDayPublic(
                day=d.day,
                answered_by_person=d.answered_by_person,
                abandoned=d.abandoned,
                rate=d.rate,
                over_target=d.rate > report.target,
            )
            for d in report.days
        ],
    )


@router.get("/campaigns/{campaign_id}/errors", response_model=ErrorMonitorPublic)
def error_monitor(
    campaign_id: IntId, _actor: CampaignReader, campaigns: CampaignsDep
) -> ErrorMonitorPublic:
    """Undeliverable records by reason: missing value, invalid email, unknown user id,
    inactive user, agent not in queue."""
    counts = campaigns.error_counts(campaign_id)
    return ErrorMonitorPublic(campaign_id=campaign_id, total=sum(counts.values()), counts=counts)


@router.get("/campaigns/{campaign_id}/errors/records", response_model=list[ErrorRecordPublic])
def error_records(
    campaign_id: IntId,
    _actor: CampaignReader,
    campaigns: CampaignsDep,
    reason: str | None = None,
    after_id: Annotated[BigIntId, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ErrorRecordPublic]:
    rows = campaigns.error_records(campaign_id, reason=reason, after_id=after_id, limit=limit)
    return [ErrorRecordPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/assignment-history", response_model=list[AssignmentPublic], tags=["campaigns"])
def assignment_history(
    _actor: CampaignReader,
    campaigns: CampaignsDep,
    campaign_id: IntId | None = None,
    record_id: BigIntId | None = None,
    agent: Annotated[str | None, Query(description="The agent's user_id.")] = None,
    before_id: BigIntId | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AssignmentPublic]:
    """Every delivery (record, campaign, agent, leased, released, outcome), newest first.
    Kept when the campaign is deleted."""
    rows = campaigns.assignment_history(
        campaign_id=campaign_id,
        record_id=record_id,
        agent=agent,
        before_id=before_id,
        limit=limit,
    )
    return [AssignmentPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/campaigns/{campaign_id}/callbacks", response_model=list[WaitingCallbackPublic])
def callbacks_report(
    campaign_id: IntId,
    _actor: CampaignReader,
    campaigns: CampaignsDep,
    due: Annotated[
        bool, Query(description="Only callbacks whose time has come, still waiting.")
    ] = False,
) -> list[WaitingCallbackPublic]:
    """Scheduled callbacks; with ``due``, those waiting for their agent now (a personal
    callback waits for its agent and is never given to another)."""
    return [
        WaitingCallbackPublic.model_validate(c, from_attributes=True)
        for c in campaigns.callbacks(campaign_id, due=due)
    ]
