"""The hopper of lead-ownership campaigns: which leads may be staged and claimed, who they
are staged for, the claim, re-inserts and what the hopper holds. Loads are in
:mod:`callhopper.store.hopper_load`; DNC and calling windows are checked before a lead
enters the hopper, and the claim checks them again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from callhopper.domain.campaign_values import Campaign as CampaignValue
from callhopper.domain.campaigns import CampaignSettings
from callhopper.domain.filters import Filter, parse_filter
from callhopper.domain.hopper import (
    agent_filter,
)
from callhopper.domain.hopper_reports import HopperCount, HopperLead
from callhopper.domain.records import RecordStatus
from callhopper.store.models import (
    AgentSession,
    Campaign,
    CampaignDncList,
    CampaignRecord,
    DncNumber,
    HopperEntry,
    QueueMember,
    Record,
    RecordPhone,
    Skill,
    User,
    UserSkill,
)
from callhopper.store.record_filters import record_filter
from callhopper.store.types import BigId

cr = CampaignRecord
h = HopperEntry
_Ts = TypeVarTuple("_Ts")


def deliverable(campaign_id: int, now: datetime, zones: Sequence[str]) -> ColumnElement[bool]:
    """The campaign's view of a record allows delivering it now (joined ``cr`` and ``Record``)."""
    return and_(
        cr.campaign_id == campaign_id,
        or_(
            cr.status == RecordStatus.READY,
            and_(cr.status == RecordStatus.WAITING, cr.retry_at <= now),
            and_(cr.status == RecordStatus.LEASED, cr.lease_expires_at <= now),
            and_(cr.status == RecordStatus.BLOCKED, cr.blocked_until <= now),
        ),
        cr.tz.in_(list(zones)) if zones else literal(False),
        # Not owned by another campaign, not out with another campaign's agent.
        or_(
            Record.owner_campaign_id.is_(None),
            Record.owner_campaign_id == campaign_id,
            Record.owner_until <= now,
        ),
        or_(
            Record.out_campaign_id.is_(None),
            Record.out_campaign_id == campaign_id,
            Record.out_until <= now,
        ),
    )


def while_campaign_exists(rows: Select[*_Ts], campaign_id: int) -> Select[*_Ts]:
    """``rows`` to insert into the hopper, kept only while the campaign exists, whose row
    they then hold until commit (``FOR KEY SHARE`` on PostgreSQL; SQLite has one writer).

    The hopper has no foreign key to campaigns (migration 0013): this is the key's check
    once per statement instead of once per entry, so that a campaign deleted meanwhile
    (``delete_campaign`` locks it first, then deletes its entries) keeps none.
    """
    return rows.where(Campaign.id == campaign_id).with_for_update(key_share=True, of=Campaign)


def callable_number(campaign_id: int) -> ColumnElement[bool]:
    """The record has at least one number on none of the campaign's DNC lists."""
    blocked = (
        select(DncNumber.e164)
        .join(CampaignDncList, CampaignDncList.dnc_list_id == DncNumber.list_id)
        .where(CampaignDncList.campaign_id == campaign_id, DncNumber.e164 == RecordPhone.e164)
        .exists()
    )
    return (
        select(RecordPhone.record_id).where(RecordPhone.record_id == Record.id, ~blocked).exists()
    )


# --- who is loaded for -----------------------------------------------------------------------


def logged_in_agents(session: Session, campaign: CampaignValue) -> list[int]:
    """Active agents logged into the campaign who are still in its queue."""
    return list(
        session.scalars(
            select(AgentSession.user_id)
            .join(User, User.id == AgentSession.user_id)
            .join(
                QueueMember,
                and_(
                    QueueMember.user_id == AgentSession.user_id,
                    QueueMember.queue_id == campaign.queue_id,
                ),
            )
            .where(AgentSession.campaign_id == campaign.id, User.active.is_(True))
            .order_by(AgentSession.user_id)
        )
    )


def agent_filters(
    session: Session, agents: Sequence[int], settings: CampaignSettings
) -> dict[int, Filter | None]:
    """Each agent's lead filter: their skills, else the campaign's default filter."""
    skills: dict[int, list[Filter]] = {a: [] for a in agents}
    for user_id, expression in session.execute(
        select(UserSkill.user_id, Skill.expression)
        .join(Skill, Skill.id == UserSkill.skill_id)
        .where(UserSkill.user_id.in_(list(agents)))
        .order_by(UserSkill.user_id, Skill.id)
    ):
        skills[user_id].append(parse_filter(expression))
    default = parse_filter(settings.default_lead_filter) if settings.default_lead_filter else None
    return {a: agent_filter(skills[a], default) for a in agents}


def _matches(lead_filter: Filter | None) -> ColumnElement[bool]:
    return record_filter(lead_filter) if lead_filter is not None else true()


def next_position(session: Session, campaign_id: int) -> int:
    """The campaign's last hopper position (``ix_hopper_position`` finds it at once), or 0:
    loads and skips append at positive positions, after any direct insert with a priority
    (negative positions, see ``store.hopper_store.PRIORITY_STEP``)."""
    found = session.scalar(select(func.max(h.position)).where(h.campaign_id == campaign_id))
    return max(int(found or 0), 0)


# --- the claim --------------------------------------------------------------------------------


def claim_statement(
    dialect: str,
    campaign_id: int,
    agent_id: int,
    lead_filter: Filter | None,
    *,
    now: datetime,
    until: datetime,
    zones: Sequence[str],
    pass_no: int,
) -> Any:
    """Lease the agent's next hopper lead: their owned leads first, then general leads
    their skills match (SPEC §7.2). One statement on each database."""
    # A due callback first (SPEC §4.2), then hopper order.
    due_first = case((and_(cr.status == "waiting", cr.retry_at <= now), 0), else_=1)
    position = h.position.asc()

    def branch(owned: bool) -> Any:
        mine = (
            and_(h.owner_id == agent_id, Record.owner_id == agent_id)
            if owned
            else and_(h.owner_id.is_(None), Record.owner_id.is_(None), _matches(lead_filter))
        )
        query = (
            select(cr.record_id)
            .select_from(h)
            .join(cr, and_(cr.campaign_id == h.campaign_id, cr.record_id == h.record_id))
            .join(Record, Record.id == h.record_id)
            .where(
                h.campaign_id == campaign_id,
                mine,
                deliverable(campaign_id, now, zones),
                or_(cr.reserved_for.is_(None), cr.reserved_for == agent_id),
            )
            .order_by(due_first, position)
            .limit(1)
        )
        if dialect == "postgresql":
            # The record first (see dispensing._LOCK).
            query = query.with_for_update(of=[Record, cr], skip_locked=True)
        return query

    lease = {
        "status": "leased",
        "lease_agent_id": agent_id,
        "lease_expires_at": until,
        "leased_at": now,
        "delivered_pass": pass_no,
        "blocked_until": None,
    }
    if dialect != "postgresql":
        first = func.coalesce(branch(True).scalar_subquery(), branch(False).scalar_subquery())
        return (
            update(cr)
            .where(cr.campaign_id == campaign_id, cr.record_id == first)
            .values(**lease)
            .returning(cr.record_id)
            .execution_options(synchronize_session=False)
        )
    owned, general = branch(True).cte("owned"), branch(False).cte("general")
    pick = union_all(select(owned.c.record_id), select(general.c.record_id)).limit(1).cte("pick")
    out = (
        update(Record)
        .where(Record.id == pick.c.record_id)
        .values(out_campaign_id=campaign_id, out_until=until)
        .cte("out")
    )
    gone = (
        delete(h).where(h.campaign_id == campaign_id, h.record_id == pick.c.record_id).cte("gone")
    )
    return (
        update(cr)
        .where(cr.campaign_id == campaign_id, cr.record_id == pick.c.record_id)
        .values(**lease)
        .returning(cr.record_id)
        .add_cte(out, gone)
        .execution_options(synchronize_session=False)
    )


def claim(
    session: Session,
    campaign: Campaign,
    agent_id: int,
    lead_filter: Filter | None,
    *,
    now: datetime,
    until: datetime,
    zones: Sequence[str],
) -> int | None:
    dialect = session.get_bind().dialect.name
    statement = claim_statement(
        dialect,
        campaign.id,
        agent_id,
        lead_filter,
        now=now,
        until=until,
        zones=zones,
        pass_no=campaign.pass_no,
    )
    record_id = session.scalar(statement)
    if record_id is None:
        return None
    if dialect != "postgresql":  # PostgreSQL did both in the claim statement
        session.execute(
            update(Record)
            .where(Record.id == record_id)
            .values(out_campaign_id=campaign.id, out_until=until)
        )
        session.execute(delete(h).where(h.campaign_id == campaign.id, h.record_id == record_id))
    return int(record_id)


def reinsert(
    session: Session,
    campaign_id: int,
    record_id: int,
    owner_id: int | None,
    now: datetime,
    *,
    first: bool = False,
) -> None:
    """Put a lead back in the hopper: at the end (a skip: FIFO, never straight back), or
    ``first`` (a rejected push goes back to the top)."""
    if first:
        lowest = session.scalar(select(func.min(h.position)).where(h.campaign_id == campaign_id))
        position = int(lowest or 0) - 1
    else:
        position = next_position(session, campaign_id) + 1
    session.execute(
        insert(h).from_select(
            [
                "campaign_id",
                "record_id",
                "owner_id",
                "group_key",
                "position",
                "direct",
                "loaded_at",
            ],
            while_campaign_exists(
                select(
                    Campaign.id,
                    literal(record_id, BigId),
                    literal(owner_id, Integer()),
                    null(),
                    literal(position, BigId),
                    false(),
                    literal(now, HopperEntry.loaded_at.type),
                ),
                campaign_id,
            ),
        )
    )


# --- reports ----------------------------------------------------------------------------------


def counts(session: Session, campaign_id: int) -> list[HopperCount]:
    """Leads in the hopper per owner, and general leads per skills group."""
    rows = session.execute(
        select(h.owner_id, h.group_key, func.count())
        .where(h.campaign_id == campaign_id)
        .group_by(h.owner_id, h.group_key)
        .order_by(h.owner_id, h.group_key)
    ).all()
    return [HopperCount(o, g, int(n)) for o, g, n in rows]


def entries(
    session: Session,
    campaign_id: int,
    *,
    owner_id: int | None,
    general: bool,
    limit: int,
    after: int | None,
) -> list[HopperLead]:
    """The hopper's leads in position order, from the first one or ``after`` a position
    (positions are unique in a campaign, and negative for direct inserts with a priority)."""
    query = (
        select(h, Record.data)
        .join(Record, Record.id == h.record_id)
        .where(h.campaign_id == campaign_id)
        .order_by(h.position)
        .limit(limit)
    )
    if after is not None:
        query = query.where(h.position > after)
    if owner_id is not None:
        query = query.where(h.owner_id == owner_id)
    if general:
        query = query.where(h.owner_id.is_(None))
    return [
        HopperLead(e.record_id, e.owner_id, e.group_key, e.position, e.direct, data)
        for e, data in session.execute(query)
    ]


def dialable(
    session: Session,
    campaign: CampaignValue,
    agent_id: int,
    lead_filter: Filter | None,
    now: datetime,
) -> tuple[int, int]:
    """Leads this agent could be given now: (owned, general matching their skills)."""
    zones = sorted(campaign.calling_window.open_zones(now).intersection(campaign.zones))
    base = (
        select(func.count())
        .select_from(cr)
        .join(Record, Record.id == cr.record_id)
        .where(deliverable(campaign.id, now, zones), callable_number(campaign.id))
    )
    owned = session.scalar(base.where(Record.owner_id == agent_id)) or 0
    general = session.scalar(base.where(Record.owner_id.is_(None), _matches(lead_filter))) or 0
    return int(owned), int(general)
