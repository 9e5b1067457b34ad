"""Campaigns: definition, start / stop / recycle, progress, error monitor, history (SPEC §4, §5)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from callhopper.api.deps import ClockDep, DbDep, require, require_any
from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import (
    AgentProgressPublic,
    AssignmentPublic,
    CallbackPublic,
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
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaigns import CampaignAction, CampaignSettings
from callhopper.domain.errors import InvalidInput
from callhopper.domain.events import AgentEvent
from callhopper.domain.rights import Right
from callhopper.events import LocalBus
from callhopper.store import callbacks as callback_store
from callhopper.store import campaigns, queues
from callhopper.store.models import Callback, Campaign, User
from callhopper.store.uow import SqlTransaction
from callhopper.store.users import get_user

router = APIRouter(tags=["campaigns"])

_Model = TypeVar("_Model", bound=BaseModel)
CampaignManager = Annotated[Actor, Depends(require(Right.CAMPAIGN_MANAGE))]
CampaignReader = Annotated[Actor, Depends(require_any(Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))]


def campaign_public(campaign: Campaign, notices: list[str] | None = None) -> CampaignPublic:
    public = CampaignPublic.model_validate(campaign, from_attributes=True)
    return public.model_copy(update={"notices": notices or []})


@router.get("/campaigns", response_model=list[CampaignPublic])
def list_campaigns(_actor: CampaignReader, db: DbDep) -> list[CampaignPublic]:
    with db.read() as session:
        return [campaign_public(c) for c in campaigns.list_campaigns(session)]


@router.post("/campaigns", response_model=CampaignPublic, status_code=status.HTTP_201_CREATED)
def create_campaign(
    body: CampaignCreate, actor: CampaignManager, db: DbDep, clock: ClockDep
) -> CampaignPublic:
    settings, notices = body.settings.with_forced_fifo()
    spec = campaigns.CampaignSpec(
        name=body.name,
        description=body.description,
        list_id=body.list_id,
        queue_id=body.queue_id,
        wrapup_set_id=body.wrapup_set_id,
        mode=body.mode,
        agent_owned_column=body.agent_owned_column,
        owner_order=body.owner_order,
        sort=tuple(body.sort),
        calling_window=body.calling_window,
        settings=settings,
        enforce_lead_ownership=body.enforce_lead_ownership,
    )
    with db.write() as session:
        created = campaigns.create_campaign(session, actor, spec, now=clock.now())
        return campaign_public(created, notices)


@router.get("/campaigns/{campaign_id}", response_model=CampaignPublic)
def get_campaign(
    campaign_id: IntId, _actor: CampaignReader, db: DbDep, clock: ClockDep
) -> CampaignPublic:
    with db.write() as session:
        # A stopping campaign whose last lease lapsed completes when next looked at.
        campaigns.complete_if_drained(session, campaign_id, now=clock.now())
        return campaign_public(campaigns.get_campaign(session, campaign_id))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignPublic)
def update_campaign(
    campaign_id: IntId, body: CampaignUpdate, actor: CampaignManager, db: DbDep, clock: ClockDep
) -> CampaignPublic:
    """Change name, description, wrap-up codes, sorting, owner order, window or settings.

    Mode, queue, contact list and agent-owned column are fixed once the campaign exists;
    sending a different value is refused (409) with the reason.
    """
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    notices: list[str] = []
    with db.write() as session:
        stored = campaigns.get_campaign(session, campaign_id, lock=True)
        # Settings and window are patched too: the fields sent replace those fields only.
        if body.calling_window is not None:
            changes["calling_window"] = _patched(
                CallingWindow, stored.calling_window, body.calling_window, "calling_window"
            )
        if body.settings is not None:
            patched = _patched(CampaignSettings, stored.settings, body.settings, "settings")
            changes["settings"], notices = patched.with_forced_fifo()
        campaign = campaigns.update_campaign(session, actor, campaign_id, changes, now=clock.now())
        return campaign_public(campaign, notices)


def _patched(
    model: type[_Model], stored: dict[str, Any], sent: dict[str, Any], field: str
) -> _Model:
    """``stored`` with the fields ``sent`` replaced, validated as a whole."""
    try:
        return model.model_validate({**stored, **sent})
    except ValidationError as exc:
        messages = [
            ".".join([field, *map(str, e["loc"])]) + ": " + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise InvalidInput("; ".join(messages), field=field) from None


@router.delete("/campaigns/{campaign_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_campaign(campaign_id: IntId, actor: CampaignManager, db: DbDep, clock: ClockDep) -> None:
    """Delete a campaign that is off or complete; its assignment history stays."""
    with db.write() as session:
        campaigns.delete_campaign(session, actor, campaign_id, now=clock.now())


def _action(action: CampaignAction, summary: str) -> None:
    def endpoint(
        campaign_id: IntId, request: Request, actor: CampaignManager, db: DbDep, clock: ClockDep
    ) -> CampaignPublic:
        bus: LocalBus = request.app.state.bus
        with db.write() as session:
            campaign = campaigns.change_state(session, actor, campaign_id, action, now=clock.now())
            # The queue's agents hear of it (SPEC §4.1: "Campaign Started" …).
            tx = SqlTransaction(session)
            for member in queues.queue_members(session, campaign.queue_id):
                bus.publish(AgentEvent(member.id, "campaign", campaign.id, reason=action.value), tx)
            public = campaign_public(campaign)
        request.app.state.pusher.wake()
        return public

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
    campaign_id: IntId, _actor: CampaignReader, db: DbDep
) -> CampaignProgressPublic:
    """Campaign totals, and per agent for agent-owned campaigns (SPEC §5)."""
    with db.read() as session:
        campaign = campaigns.get_campaign(session, campaign_id)
        total, per_agent = campaigns.progress(session, campaign)
        users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(list(per_agent))))}
        return CampaignProgressPublic(
            campaign_id=campaign.id,
            state=campaign.state,
            pass_no=campaign.pass_no,
            campaign=ProgressPublic(**vars(total)),
            agents=[
                AgentProgressPublic(
                    user_id=users[a].user_id, display_name=users[a].display_name, **vars(p)
                )
                for a, p in sorted(per_agent.items(), key=lambda item: users[item[0]].user_id)
            ],
        )


@router.get("/campaigns/{campaign_id}/errors", response_model=ErrorMonitorPublic)
def error_monitor(campaign_id: IntId, _actor: CampaignReader, db: DbDep) -> ErrorMonitorPublic:
    """Undeliverable records by reason: missing value, invalid email, unknown user id,
    inactive user, agent not in queue."""
    with db.read() as session:
        campaigns.get_campaign(session, campaign_id)
        counts = campaigns.error_counts(session, campaign_id)
        return ErrorMonitorPublic(
            campaign_id=campaign_id, total=sum(counts.values()), counts=counts
        )


@router.get("/campaigns/{campaign_id}/errors/records", response_model=list[ErrorRecordPublic])
def error_records(
    campaign_id: IntId,
    _actor: CampaignReader,
    db: DbDep,
    reason: str | None = None,
    after_id: Annotated[BigIntId, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ErrorRecordPublic]:
    with db.read() as session:
        campaign = campaigns.get_campaign(session, campaign_id)
        rows = campaigns.error_records(
            session, campaign, reason=reason, after_id=after_id, limit=limit
        )
        owners = _user_ids(session, {cr.agent_id for cr, _ in rows if cr.agent_id})
        column = campaign.agent_owned_column
        return [
            ErrorRecordPublic(
                record_id=record.id,
                reason=str(cr.error),
                owner_value=record.data.get(column) if column else None,
                owner_user_id=owners.get(cr.agent_id) if cr.agent_id else None,
                data=record.data,
            )
            for cr, record in rows
        ]


@router.get("/assignment-history", response_model=list[AssignmentPublic], tags=["campaigns"])
def assignment_history(
    _actor: CampaignReader,
    db: DbDep,
    campaign_id: IntId | None = None,
    record_id: BigIntId | None = None,
    agent: Annotated[str | None, Query(description="The agent's user_id.")] = None,
    before_id: BigIntId | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AssignmentPublic]:
    """Every delivery (record, campaign, agent, leased, released, outcome), newest first.
    Kept when the campaign is deleted."""
    with db.read() as session:
        agent_id = get_user(session, agent).id if agent is not None else None
        rows = campaigns.assignment_history(
            session,
            campaign_id=campaign_id,
            record_id=record_id,
            agent_id=agent_id,
            before_id=before_id,
            limit=limit,
        )
        names = _user_ids(session, {r.agent_id for r in rows})
        return [
            AssignmentPublic(
                id=r.id,
                campaign_id=r.campaign_id,
                campaign_name=r.campaign_name,
                list_id=r.list_id,
                record_id=r.record_id,
                agent_user_id=names[r.agent_id],
                pass_no=r.pass_no,
                leased_at=r.leased_at,
                released_at=r.released_at,
                outcome=r.outcome,
                code=r.code,
            )
            for r in rows
        ]


def _user_ids(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.user_id).where(User.id.in_(ids))).all())


@router.get("/campaigns/{campaign_id}/callbacks", response_model=list[WaitingCallbackPublic])
def callbacks_report(
    campaign_id: IntId,
    _actor: CampaignReader,
    db: DbDep,
    clock: ClockDep,
    due: Annotated[
        bool, Query(description="Only callbacks whose time has come, still waiting.")
    ] = False,
) -> list[WaitingCallbackPublic]:
    """Scheduled callbacks; with ``due``, those waiting for their agent now (a personal
    callback waits for its agent and is never given to another)."""
    with db.read() as session:
        campaigns.get_campaign(session, campaign_id)
        if due:
            rows = [
                (w.callback, w.agent_logged_in)
                for w in callback_store.due(session, campaign_id, clock.now())
            ]
        else:
            rows = [(c, False) for c in callback_store.scheduled(session, campaign_id)]
        return [
            WaitingCallbackPublic(
                **callback_public(session, callback).model_dump(), agent_logged_in=logged_in
            )
            for callback, logged_in in rows
        ]


def callback_public(session: Session, callback: Callback) -> CallbackPublic:
    user = session.get(User, callback.agent_id) if callback.agent_id is not None else None
    return CallbackPublic(
        id=callback.id,
        campaign_id=callback.campaign_id,
        record_id=callback.record_id,
        kind=callback.kind,
        agent_user_id=user.user_id if user is not None else None,
        due_at=callback.due_at,
        number=callback.number,
        note=callback.note,
        status=callback.status,
    )
