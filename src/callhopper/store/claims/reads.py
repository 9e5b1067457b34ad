"""What the dispensing core reads around its claims: the campaign as its agents work it,
a delivered record with its history, and the records its timers look for."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Text, and_, bindparam, cast, func, or_, select
from sqlalchemy.orm import Session

from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.campaigns import CampaignSettings, CampaignState, DialingMode
from callhopper.domain.contacts import ListSchema
from callhopper.domain.dispensing import Backlog, CampaignContext, Delivered, HistoryItem
from callhopper.domain.records import RecordStatus
from callhopper.store.dispensing import WITH_RECORD_AND_CALLBACK, lease_view
from callhopper.store.models import (
    Campaign,
    CampaignDncList,
    CampaignRecord,
    ContactList,
    Interaction,
    QueueMember,
    User,
    WorkflowRule,
    table_of,
)
from callhopper.store.types import json_rows, utc_from_json
from callhopper.store.wrapup import codes_json, specs_from_json

#: Lines of a contact's history shown with a delivery.
HISTORY_LIMIT = 50
_LEASED = RecordStatus.LEASED.value

# The JSON documents come as text: parsed once per distinct text (_parse), not per call.
_CONTEXT = (
    select(
        Campaign,
        cast(ContactList.schema, Text).label("schema_json"),
        cast(ContactList.ownership, Text).label("ownership_json"),
        cast(Campaign.settings, Text).label("settings_json"),
        cast(Campaign.calling_window, Text).label("window_json"),
        select(QueueMember.user_id)
        .where(QueueMember.queue_id == Campaign.queue_id, QueueMember.user_id == bindparam("agent"))
        .exists(),
        codes_json(Campaign.wrapup_set_id),
        select(WorkflowRule.id).where(WorkflowRule.enabled).exists(),
        select(CampaignDncList.dnc_list_id)
        .where(CampaignDncList.campaign_id == Campaign.id)
        .exists()
        .label("checks_dnc"),
    )
    .join(ContactList, ContactList.id == Campaign.list_id)
    .where(Campaign.id == bindparam("campaign"))
)


@lru_cache(maxsize=1024)
def _parse(
    schema: str, settings: str, window: str, ownership: str | None
) -> tuple[ListSchema, CampaignSettings, CallingWindow, OwnershipSettings]:
    """A campaign's JSON documents as models; every model is frozen, so they are shared."""
    return (
        ListSchema.model_validate_json(schema),
        CampaignSettings.model_validate_json(settings),
        CallingWindow.model_validate_json(window),
        OwnershipSettings.model_validate_json(ownership or "{}"),
    )


def context(
    session: Session, campaign_id: int, agent_id: int | None
) -> tuple[CampaignContext, Campaign] | None:
    """The campaign as the dispensing core works it, and its row (which the adapter keeps
    loaded for the rest of the transaction); one statement."""
    row = session.execute(_CONTEXT, {"campaign": campaign_id, "agent": agent_id}).first()
    if row is None:
        return None
    campaign, schema, ownership, settings, window, member, codes, has_rules, checks_dnc = row
    parsed_schema, parsed_settings, parsed_window, parsed_ownership = _parse(
        schema, settings, window, ownership
    )
    return (
        CampaignContext(
            id=campaign.id,
            name=campaign.name,
            state=CampaignState(campaign.state),
            mode=DialingMode(campaign.mode),
            list_id=campaign.list_id,
            pass_no=campaign.pass_no,
            zones=tuple(campaign.zones),
            agent_owned_column=campaign.agent_owned_column,
            enforce_lead_ownership=campaign.enforce_lead_ownership,
            schema=parsed_schema,
            settings=parsed_settings,
            window=parsed_window,
            ownership=parsed_ownership,
            codes=specs_from_json(codes),
            has_rules=bool(has_rules),
            member=bool(member),
            checks_dnc=bool(checks_dnc),
        ),
        campaign,
    )


_INTERACTIONS, _USERS = table_of(Interaction), table_of(User)
_RECENT = (
    select(
        _INTERACTIONS.c.at,
        _INTERACTIONS.c.id,
        _INTERACTIONS.c.kind,
        _INTERACTIONS.c.campaign_name,
        _USERS.c.user_id,
        _INTERACTIONS.c.number,
        _INTERACTIONS.c.code,
        _INTERACTIONS.c.note,
    )
    .select_from(_INTERACTIONS.outerjoin(_USERS, _USERS.c.id == _INTERACTIONS.c.agent_id))
    .where(_INTERACTIONS.c.record_id == bindparam("record"))
    .order_by(_INTERACTIONS.c.at.desc(), _INTERACTIONS.c.id.desc())
    .limit(HISTORY_LIMIT)
    .subquery()
)
_CR = table_of(CampaignRecord)
#: The delivered record, and its history as JSON (:func:`_history` reads it): one statement.
_DELIVERED = WITH_RECORD_AND_CALLBACK.add_columns(
    select(json_rows(*_RECENT.c)).scalar_subquery().label("history")
).where(_CR.c.campaign_id == bindparam("campaign"), _CR.c.record_id == bindparam("record"))


def delivered(session: Session, campaign_id: int, record_id: int) -> Delivered | None:
    """The campaign's record, its contact record, pending callback and history."""
    found = session.execute(_DELIVERED, {"campaign": campaign_id, "record": record_id})
    row = found.one_or_none()
    if row is None:
        return None
    return Delivered(lease_view(row), _history(row.history))


def _history(doc: str | None) -> list[HistoryItem]:
    """The rows of the ``history`` column of :data:`_DELIVERED`, newest first."""
    rows = [(utc_from_json(at), *rest) for at, *rest in json.loads(doc or "[]")]
    rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
    return [
        HistoryItem(
            at=at,
            kind=kind,
            campaign_name=campaign_name,
            agent_user_id=user_id,
            number=number,
            code=code,
            note=note,
        )
        for at, _, kind, campaign_name, user_id, number, code, note in rows
    ]


def backlog(
    session: Session, campaign_id: int, owner_id: int | None, zones: list[str], now: datetime
) -> Backlog:
    """Why a claim found nothing: records of the agent (``owner_id``: of an agent-owned
    campaign, else the records without an owner) deliverable but for the calling window,
    and (only when there are none) the next retry due later."""
    cr = CampaignRecord
    owner = cr.agent_id == owner_id if owner_id is not None else cr.agent_id.is_(None)
    mine = and_(cr.campaign_id == campaign_id, owner)
    eligible = session.scalar(
        select(func.count()).where(
            mine,
            or_(cr.tz.is_(None), cr.tz.not_in(zones)),
            or_(
                cr.status == RecordStatus.READY.value,
                and_(cr.status == _LEASED, cr.lease_expires_at <= now),
                and_(cr.status == RecordStatus.WAITING.value, cr.retry_at <= now),
            ),
        )
    )
    if eligible:
        return Backlog(outside_window=int(eligible), next_retry_at=None)
    next_retry = session.scalar(
        select(func.min(cr.retry_at)).where(
            mine, cr.status == RecordStatus.WAITING.value, cr.retry_at > now
        )
    )
    return Backlog(outside_window=0, next_retry_at=next_retry)


_LEASES_OF = (
    select(_CR.c.campaign_id, _CR.c.record_id)
    .where(_CR.c.lease_agent_id == bindparam("agent"), _CR.c.status == _LEASED)
    .order_by(_CR.c.campaign_id)
)


def leases_of(session: Session, agent_id: int) -> list[tuple[int, int]]:
    """(campaign, record) of every record delivered to the agent now, by campaign."""
    return [(int(c), int(r)) for c, r in session.execute(_LEASES_OF, {"agent": agent_id})]


def unaccepted(session: Session, now: datetime) -> list[tuple[int, int, int]]:
    """(campaign, record, agent) of pushes whose accept deadline has passed."""
    rows = session.execute(
        select(_CR.c.campaign_id, _CR.c.record_id, _CR.c.lease_agent_id).where(
            _CR.c.status == _LEASED, _CR.c.accept_by <= now
        )
    ).all()
    return [(int(c), int(r), int(a)) for c, r, a in rows if a is not None]


def still_unaccepted(session: Session, campaign_id: int, record_id: int, agent_id: int) -> bool:
    """Whether the push is still the agent's and still waits to be accepted."""
    found = session.execute(
        select(_CR.c.lease_agent_id, _CR.c.accept_by).where(
            _CR.c.campaign_id == campaign_id, _CR.c.record_id == record_id
        )
    ).one_or_none()
    return found is not None and found.lease_agent_id == agent_id and found.accept_by is not None


def due_previews(session: Session, now: datetime) -> list[tuple[int, int, int]]:
    """(campaign, record, agent) of records previewed longer than their campaign's preview
    timeout, not dialled during the lease, for agents still active."""
    cr = CampaignRecord
    timeouts = {
        campaign_id: timeout
        for campaign_id, raw in session.execute(select(Campaign.id, Campaign.settings))
        if (timeout := CampaignSettings.model_validate(raw).preview_timeout_s) is not None
    }
    due: list[tuple[int, int, int]] = []
    for campaign_id, timeout in timeouts.items():
        # Only the records due now, not every record being previewed.
        rows = session.execute(
            select(cr.record_id, cr.lease_agent_id)
            .join(User, User.id == cr.lease_agent_id)
            .where(
                cr.campaign_id == campaign_id,
                cr.status == _LEASED,
                cr.accept_by.is_(None),
                or_(cr.called_at.is_(None), cr.called_at < cr.leased_at),
                cr.leased_at <= now - timedelta(seconds=timeout),
                User.active.is_(True),  # never dial for an agent who has left
            )
        ).all()
        due += [(campaign_id, int(r), int(a)) for r, a in rows if a is not None]
    return due


def mode(session: Session, campaign_id: int) -> DialingMode | None:
    found = session.scalar(select(Campaign.mode).where(Campaign.id == campaign_id))
    return DialingMode(found) if found is not None else None


def per_agent(session: Session, campaign_id: int) -> bool:
    """Whether what one agent can get says nothing about another (owned records, skills,
    personal callbacks)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return False
    if campaign.agent_owned_column is not None or campaign.enforce_lead_ownership:
        return True
    reserved = session.scalar(
        select(CampaignRecord.record_id)
        .where(
            CampaignRecord.campaign_id == campaign_id,
            CampaignRecord.reserved_for.is_not(None),
            CampaignRecord.status == RecordStatus.WAITING.value,
        )
        .limit(1)
    )
    return reserved is not None
