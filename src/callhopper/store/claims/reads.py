"""What the dispensing core reads around its claims: the campaign as its agents work it,
a delivered record with its history, and the records its timers look for."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

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

#: A process's contexts of campaigns, by campaign id: the version each was read at, and the
#: context without its per-request flags (:attr:`Database.contexts
#: <callhopper.store.db.Database.contexts>`).
ContextCache = dict[int, tuple[int, CampaignContext]]
#: Lines of a contact's history shown with a delivery.
HISTORY_LIMIT = 50
_LEASED = RecordStatus.LEASED.value

# Tables, not mapped classes, in the statements every request runs: a statement that names
# a mapped class goes through the ORM's execution layer (about 40 µs a statement), which
# these rows of plain values do not need.
_CAMPAIGNS = table_of(Campaign)
_QM = table_of(QueueMember)
_RULES = table_of(WorkflowRule)
_CDL = table_of(CampaignDncList)
_MEMBER = (
    select(_QM.c.user_id)
    .where(_QM.c.queue_id == _CAMPAIGNS.c.queue_id, _QM.c.user_id == bindparam("agent"))
    .exists()
)
_HAS_RULES = select(_RULES.c.id).where(_RULES.c.enabled).exists()
_CHECKS_DNC = select(_CDL.c.dnc_list_id).where(_CDL.c.campaign_id == _CAMPAIGNS.c.id).exists()
#: What a request reads of its campaign when the process knows the campaign's context: the
#: version to check it against, and what is not part of it (whether the agent is in the
#: queue, whether any workflow rule is on, whether a do-not-call list is attached). Index
#: lookups only.
_CHECK = select(_CAMPAIGNS.c.version, _MEMBER, _HAS_RULES, _CHECKS_DNC).where(
    _CAMPAIGNS.c.id == bindparam("campaign")
)
# The JSON documents come as text: parsed once per distinct text (_parse), not per call.
_CONTEXT = (
    select(
        _CAMPAIGNS.c.version,
        _MEMBER,
        _HAS_RULES,
        _CHECKS_DNC,
        _CAMPAIGNS.c.id,
        _CAMPAIGNS.c.name,
        _CAMPAIGNS.c.state,
        _CAMPAIGNS.c.mode,
        _CAMPAIGNS.c.list_id,
        _CAMPAIGNS.c.pass_no,
        _CAMPAIGNS.c.zones,
        _CAMPAIGNS.c.agent_owned_column,
        _CAMPAIGNS.c.enforce_lead_ownership,
        cast(ContactList.schema, Text).label("schema_json"),
        cast(ContactList.ownership, Text).label("ownership_json"),
        cast(_CAMPAIGNS.c.settings, Text).label("settings_json"),
        cast(_CAMPAIGNS.c.calling_window, Text).label("window_json"),
        codes_json(_CAMPAIGNS.c.wrapup_set_id),
    )
    .join(ContactList, ContactList.id == _CAMPAIGNS.c.list_id)
    .where(_CAMPAIGNS.c.id == bindparam("campaign"))
)
#: Campaigns a process keeps contexts of: past it, the cache starts again (campaigns are
#: few; this only bounds a process that is asked about ids that come and go).
CONTEXTS_KEPT = 4096


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
    session: Session,
    campaign_id: int,
    agent_id: int | None,
    known: ContextCache | None = None,
) -> CampaignContext | None:
    """The campaign as the dispensing core works it; one statement.

    With ``known`` (the process's cache of contexts, by campaign), a campaign whose
    context the process holds is read as its version and the per-request flags only, and
    read in full (and kept) when its version moved on: a second statement, once per
    change of the campaign, its list or its wrap-up codes (triggers bump the version in
    the transaction that makes the change, so no process acts on an older one).
    """
    params = {"campaign": campaign_id, "agent": agent_id}
    held = known.get(campaign_id) if known is not None else None
    if held is not None:
        row = session.execute(_CHECK, params).first()
        if row is None:
            return None
        version, member, has_rules, checks_dnc = row
        if version == held[0]:
            return replace(
                held[1], member=bool(member), has_rules=bool(has_rules), checks_dnc=bool(checks_dnc)
            )
    row = session.execute(_CONTEXT, params).first()
    if row is None:
        return None
    version, member, has_rules, checks_dnc, *fields = row
    ctx = _context(
        fields, member=bool(member), has_rules=bool(has_rules), checks_dnc=bool(checks_dnc)
    )
    if known is not None:
        if len(known) >= CONTEXTS_KEPT:
            known.clear()
        known[campaign_id] = (version, ctx)
    return ctx


def _context(
    fields: list[Any], *, member: bool, has_rules: bool, checks_dnc: bool
) -> CampaignContext:
    """A row of :data:`_CONTEXT` after its first four columns."""
    (
        campaign_id,
        name,
        state,
        mode,
        list_id,
        pass_no,
        zones,
        agent_owned_column,
        enforce_lead_ownership,
        schema,
        ownership,
        settings,
        window,
        codes,
    ) = fields
    parsed_schema, parsed_settings, parsed_window, parsed_ownership = _parse(
        schema, settings, window, ownership
    )
    return CampaignContext(
        id=campaign_id,
        name=name,
        state=CampaignState(state),
        mode=DialingMode(mode),
        list_id=list_id,
        pass_no=pass_no,
        zones=tuple(zones),
        agent_owned_column=agent_owned_column,
        enforce_lead_ownership=bool(enforce_lead_ownership),
        schema=parsed_schema,
        settings=parsed_settings,
        window=parsed_window,
        ownership=parsed_ownership,
        codes=specs_from_json(codes),
        has_rules=has_rules,
        member=member,
        checks_dnc=checks_dnc,
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
        _INTERACTIONS.c.caller_id,
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
            caller_id=caller_id,
        )
        for at, _, kind, campaign_name, user_id, number, code, note, caller_id in rows
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
    # A retry due later, or a skipped record away until then (reinsert_skipped).
    next_retry = session.scalar(
        select(func.min(cr.retry_at)).where(
            mine,
            cr.status.in_((RecordStatus.WAITING.value, RecordStatus.READY.value)),
            cr.retry_at > now,
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


def pusher_has_work(session: Session) -> bool:
    """Whether the pusher has anything to watch: a pushed campaign that is on, a campaign
    with a preview timeout (in any state, as :func:`due_previews`), or a pushed record
    waiting to be accepted (:func:`unaccepted`)."""
    for mode, state, raw in session.execute(
        select(Campaign.mode, Campaign.state, Campaign.settings)
    ):
        if DialingMode(mode).is_pushed and state == CampaignState.ON.value:
            return True
        if CampaignSettings.model_validate(raw).preview_timeout_s is not None:
            return True
    awaiting = select(_CR.c.record_id).where(_CR.c.status == _LEASED, _CR.c.accept_by.is_not(None))
    return bool(session.scalar(select(awaiting.exists())))


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


def per_agent(
    session: Session, campaign_id: int, flags: tuple[str | None, bool] | None = None
) -> bool:
    """Whether what one agent can get says nothing about another (owned records, skills,
    personal callbacks). ``flags``: the campaign's agent-owned column and lead ownership,
    when the transaction has read its context already."""
    if flags is None:
        found = session.execute(
            select(Campaign.agent_owned_column, Campaign.enforce_lead_ownership).where(
                Campaign.id == campaign_id
            )
        ).first()
        if found is None:
            return False
        flags = (found[0], bool(found[1]))
    if flags[0] is not None or flags[1]:
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
