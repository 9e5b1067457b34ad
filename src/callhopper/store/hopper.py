"""The hopper of lead-ownership campaigns (SPEC §7.2): loads, the claim, reports.

A load is a handful of set-based statements in one transaction: drop the owned
leads of agents who left, flush general leads no logged-in agent's skills match,
add owned leads for every agent at once (one ``INSERT … SELECT`` ranked per owner),
then general leads per group of agents with the same skills. DNC and calling
windows are checked before a lead enters the hopper; the claim checks them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    case,
    column,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from callhopper.domain.campaigns import CampaignSettings
from callhopper.domain.filters import Filter, parse_filter
from callhopper.domain.hopper import (
    GroupPlan,
    SecondaryOrder,
    agent_filter,
    general_quota,
    owned_quota,
    plan_groups,
)
from callhopper.store.campaigns import settings_of, sort_terms, window_of
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

cr = CampaignRecord
h = HopperEntry


def deliverable(campaign_id: int, now: datetime, zones: Sequence[str]) -> ColumnElement[bool]:
    """The campaign's view of a record allows delivering it now (joined ``cr`` and ``Record``)."""
    return and_(
        cr.campaign_id == campaign_id,
        or_(
            cr.status == "ready",
            and_(cr.status == "waiting", cr.retry_at <= now),
            and_(cr.status == "leased", cr.lease_expires_at <= now),
            and_(cr.status == "blocked", cr.blocked_until <= now),
        ),
        cr.tz.in_(list(zones)) if zones else literal(False),
        # SPEC §6 and §10.1: not another campaign's, not out with another campaign's agent.
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


def logged_in_agents(session: Session, campaign: Campaign) -> list[int]:
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


# --- the load ---------------------------------------------------------------------------------


@dataclass
class LoadReport:
    agents: int = 0
    removed_owned: int = 0
    flushed_general: int = 0
    added_owned: dict[int, int] = field(default_factory=dict)
    added_general: dict[str, int] = field(default_factory=dict)

    @property
    def added(self) -> int:
        return sum(self.added_owned.values()) + sum(self.added_general.values())


def load(session: Session, campaign: Campaign, now: datetime) -> LoadReport:
    """One hopper load for one campaign (in the caller's transaction)."""
    settings = settings_of(campaign)
    report = LoadReport()
    agents = logged_in_agents(session, campaign)
    report.agents = len(agents)
    # Owned leads of agents who left (or whose lead changed hands) leave the hopper.
    stale_owned = session.execute(
        delete(h)
        .where(
            h.campaign_id == campaign.id,
            h.owner_id.is_not(None),
            or_(
                h.owner_id.not_in(agents) if agents else true(),
                ~select(Record.id)
                .where(Record.id == h.record_id, Record.owner_id == h.owner_id)
                .exists(),
            ),
        )
        .execution_options(synchronize_session=False)
    )
    report.removed_owned = int(stale_owned.rowcount or 0)  # type: ignore[attr-defined]
    filters = agent_filters(session, agents, settings)
    groups = plan_groups(filters)
    # General leads nobody logged in may take (or that have an owner now) are flushed;
    # they go back through normal routing at this or a later load.
    anyone = or_(*(_matches(g.lead_filter) for g in groups)) if groups else literal(False)
    flushed = session.execute(
        delete(h)
        .where(
            h.campaign_id == campaign.id,
            h.owner_id.is_(None),
            ~select(Record.id)
            .where(Record.id == h.record_id, Record.owner_id.is_(None), anyone)
            .exists(),
        )
        .execution_options(synchronize_session=False)
    )
    report.flushed_general = int(flushed.rowcount or 0)  # type: ignore[attr-defined]
    if not agents:
        return report
    zones = sorted(window_of(campaign).open_zones(now).intersection(campaign.zones))
    owned_now = dict(
        session.execute(
            select(h.owner_id, func.count())
            .where(h.campaign_id == campaign.id, h.owner_id.in_(agents))
            .group_by(h.owner_id)
        ).all()
    )
    quotas = {a: owned_quota(settings.hopper_level, owned_now.get(a, 0)) for a in agents}
    report.added_owned = _load_owned(session, campaign, settings, quotas, zones, now)
    owned_after = {a: owned_now.get(a, 0) + report.added_owned.get(a, 0) for a in agents}
    for group in groups:
        added = _load_general(session, campaign, settings, group, owned_after, zones, now)
        if added:
            report.added_general[group.key] = added
    return report


def _order(session: Session, campaign: Campaign, settings: CampaignSettings) -> list[Any]:
    """The campaign's sorting, then oldest (FIFO) or newest (LIFO) lead first."""
    tie = Record.id.asc() if settings.secondary_order is SecondaryOrder.FIFO else Record.id.desc()
    return [*sort_terms(session, campaign), tie]


def _next_position(session: Session, campaign_id: int) -> int:
    found = session.scalar(select(func.max(h.position)).where(h.campaign_id == campaign_id))
    return int(found or 0)


def _not_in_hopper(campaign_id: int) -> ColumnElement[bool]:
    return (
        ~select(h.record_id).where(h.campaign_id == campaign_id, h.record_id == Record.id).exists()
    )


def _load_owned(
    session: Session,
    campaign: Campaign,
    settings: CampaignSettings,
    quotas: dict[int, int],
    zones: Sequence[str],
    now: datetime,
) -> dict[int, int]:
    wanted = {a: q for a, q in quotas.items() if q > 0}
    if not wanted:
        return {}
    quota = _quota_table(session, wanted)
    base = _next_position(session, campaign.id)
    ranked = (
        select(
            Record.id.label("record_id"),
            Record.owner_id.label("owner_id"),
            quota.c.quota,
            func.row_number()
            .over(partition_by=Record.owner_id, order_by=_order(session, campaign, settings))
            .label("n"),
        )
        .select_from(cr)
        .join(Record, Record.id == cr.record_id)
        .join(quota, quota.c.agent_id == Record.owner_id)
        .where(
            deliverable(campaign.id, now, zones),
            callable_number(campaign.id),
            _not_in_hopper(campaign.id),
        )
        .subquery("ranked")
    )
    chosen = select(
        literal(campaign.id),
        ranked.c.record_id,
        ranked.c.owner_id,
        literal(base) + ranked.c.n,
        literal(False),
        literal(now, type_=HopperEntry.loaded_at.type),
    ).where(ranked.c.n <= ranked.c.quota)
    session.execute(
        insert(h).from_select(
            ["campaign_id", "record_id", "owner_id", "position", "direct", "loaded_at"], chosen
        )
    )
    return {
        owner: int(added)
        for owner, added in session.execute(
            select(h.owner_id, func.count())
            .where(h.campaign_id == campaign.id, h.position > base, h.owner_id.is_not(None))
            .group_by(h.owner_id)
        )
        if owner is not None
    }


def _quota_table(session: Session, quotas: dict[int, int]) -> Any:
    """``quota(agent_id, quota)``, to join leads with by owner.

    PostgreSQL reads it from two arrays (``unnest``, whose row count the planner knows, so
    it hash-joins a million leads instead of nesting loops). SQLite gets a temporary table
    keyed by agent, so that each lead probes it by key instead of scanning it.
    """
    agents = [a for a, _ in sorted(quotas.items())]
    counts = [q for _, q in sorted(quotas.items())]
    columns = (column("agent_id", Integer()), column("quota", Integer()))
    if session.get_bind().dialect.name == "postgresql":
        return (
            func.unnest(
                bindparam("quota_agents", agents, type_=ARRAY(Integer())),
                bindparam("quota_counts", counts, type_=ARRAY(Integer())),
            )
            .table_valued(*columns)
            .render_derived(name="quota")
        )
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS hopper_quota "
            "(agent_id INTEGER PRIMARY KEY, quota INTEGER NOT NULL)"
        )
    )
    session.execute(text("DELETE FROM temp.hopper_quota"))
    if quotas:
        session.execute(
            text("INSERT INTO temp.hopper_quota (agent_id, quota) VALUES (:agent_id, :quota)"),
            [{"agent_id": a, "quota": q} for a, q in zip(agents, counts, strict=True)],
        )
    return table("hopper_quota", *columns, schema="temp").alias("quota")


def _load_general(
    session: Session,
    campaign: Campaign,
    settings: CampaignSettings,
    group: GroupPlan,
    owned_after: dict[int, int],
    zones: Sequence[str],
    now: datetime,
) -> int:
    in_hopper = (
        session.scalar(
            select(func.count()).where(
                h.campaign_id == campaign.id, h.owner_id.is_(None), h.group_key == group.key
            )
        )
        or 0
    )
    quota = general_quota(
        settings.hopper_level,
        len(group.agents),
        in_hopper,
        [owned_after.get(a, 0) for a in group.agents],
    )
    if quota <= 0:
        return 0
    base = _next_position(session, campaign.id)
    ranked = (
        select(
            Record.id.label("record_id"),
            func.row_number().over(order_by=_order(session, campaign, settings)).label("n"),
        )
        .select_from(cr)
        .join(Record, Record.id == cr.record_id)
        .where(
            deliverable(campaign.id, now, zones),
            Record.owner_id.is_(None),
            _matches(group.lead_filter),
            callable_number(campaign.id),
            _not_in_hopper(campaign.id),
        )
        .subquery("ranked")
    )
    chosen = select(
        literal(campaign.id),
        ranked.c.record_id,
        literal(group.key),
        literal(base) + ranked.c.n,
        literal(False),
        literal(now, type_=HopperEntry.loaded_at.type),
    ).where(ranked.c.n <= quota)
    session.execute(
        insert(h).from_select(
            ["campaign_id", "record_id", "group_key", "position", "direct", "loaded_at"], chosen
        )
    )
    added = session.scalar(
        select(func.count()).where(
            h.campaign_id == campaign.id, h.group_key == group.key, h.position > base
        )
    )
    return int(added or 0)


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
            query = query.with_for_update(of=[cr, Record], skip_locked=True)
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
        position = _next_position(session, campaign_id) + 1
    session.execute(
        insert(h).values(
            campaign_id=campaign_id,
            record_id=record_id,
            owner_id=owner_id,
            group_key=None,
            position=position,
            direct=False,
            loaded_at=now,
        )
    )


# --- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HopperCount:
    owner_id: int | None
    group_key: str | None
    leads: int


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
    after: int,
) -> Sequence[tuple[HopperEntry, Record]]:
    query = (
        select(h, Record)
        .join(Record, Record.id == h.record_id)
        .where(h.campaign_id == campaign_id, h.position > after)
        .order_by(h.position)
        .limit(limit)
    )
    if owner_id is not None:
        query = query.where(h.owner_id == owner_id)
    if general:
        query = query.where(h.owner_id.is_(None))
    return [(entry, record) for entry, record in session.execute(query)]


def dialable(
    session: Session, campaign: Campaign, agent_id: int, lead_filter: Filter | None, now: datetime
) -> tuple[int, int]:
    """Leads this agent could be given now: (owned, general matching their skills)."""
    zones = sorted(window_of(campaign).open_zones(now).intersection(campaign.zones))
    base = (
        select(func.count())
        .select_from(cr)
        .join(Record, Record.id == cr.record_id)
        .where(deliverable(campaign.id, now, zones), callable_number(campaign.id))
    )
    owned = session.scalar(base.where(Record.owner_id == agent_id)) or 0
    general = session.scalar(base.where(Record.owner_id.is_(None), _matches(lead_filter))) or 0
    return int(owned), int(general)
