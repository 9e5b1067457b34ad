"""Hopper loads of lead-ownership campaigns.

A load is a handful of set-based statements in one transaction: drop the owned leads of
agents who left, flush general leads no logged-in agent's skills match, count what each
agent and skills group has, then add owned leads for every agent and general leads for
every skills group in one ``INSERT … SELECT`` (one pass over the campaign's leads, ranked
per owner and per group: see :class:`_Adder`). A load with every agent at level stops
after the counts. DNC and calling windows are checked before a lead enters the hopper;
the claim checks them again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    any_,
    asc,
    case,
    column,
    delete,
    desc,
    false,
    func,
    insert,
    literal,
    null,
    nulls_first,
    nulls_last,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement, UnaryExpression
from sqlalchemy.sql.expression import Executable

from callhopper.domain.campaign_values import Campaign
from callhopper.domain.campaigns import CampaignSettings
from callhopper.domain.contacts import ListSchema
from callhopper.domain.hopper import (
    GroupPlan,
    SecondaryOrder,
    general_quota,
    general_share,
    owned_quotas,
    plan_groups,
)
from callhopper.domain.hopper_reports import LoadReport
from callhopper.store.filters_sql import compile_filter
from callhopper.store.hopper import (
    _matches,
    agent_filters,
    counts,
    deliverable,
    logged_in_agents,
    next_position,
    while_campaign_exists,
)
from callhopper.store.models import Campaign as CampaignRow
from callhopper.store.models import (
    CampaignDncList,
    CampaignRecord,
    ContactList,
    DncNumber,
    HopperEntry,
    Record,
    RecordPhone,
    User,
)
from callhopper.store.record_filters import record_field
from callhopper.store.record_order import sort_terms

cr = CampaignRecord
h = HopperEntry


def load(session: Session, campaign: Campaign, now: datetime) -> LoadReport:
    """One hopper load for one campaign (in the caller's transaction)."""
    settings = campaign.settings
    report = LoadReport()
    if session.get_bind().dialect.name == "postgresql":
        tune_load_transaction(session)
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
    if groups:  # the group a lead was loaded for first: one filter instead of all of them
        own = case(
            *((h.group_key == g.key, _matches(g.lead_filter)) for g in groups), else_=false()
        )
        anyone = or_(own, anyone)
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
    level = settings.hopper_level
    owned_now: dict[int, int] = {}
    general_now: dict[str, int] = {}
    direct_general = 0  # inserted by the lead API (hopper=1) for no skills group
    for c in counts(session, campaign.id):
        if c.owner_id is not None:
            owned_now[c.owner_id] = owned_now.get(c.owner_id, 0) + c.leads
        elif c.group_key is not None:
            general_now[c.group_key] = c.leads
        else:
            direct_general += c.leads
    # The hard cap counts each agent's owned leads and their share of the general leads
    # together: general leads already in take room that owned leads then lack.
    direct_share = general_share(direct_general, len(agents))
    owned: dict[int, int] = {}
    for g in groups:
        quotas = owned_quotas(
            level, [owned_now.get(a, 0) for a in g.agents], general_now.get(g.key, 0), direct_share
        )
        owned |= {a: q for a, q in zip(g.agents, quotas, strict=True) if q > 0}
    if owned:  # an agent who owns no lead is at level with none
        owns = select(Record.id).where(
            Record.owner_id == User.id, Record.list_id == campaign.list_id
        )
        found = session.scalars(select(User.id).where(User.id.in_(list(owned)), owns.exists()))
        owned = {a: owned[a] for a in found}
    # Each agent's room for general leads: the cap less their owned leads and their share
    # of the direct ones.
    taken = {a: owned_now.get(a, 0) + direct_share for a in agents}
    general = _general_quotas(groups, level, general_now, taken)
    if not owned and not general:
        return report  # every agent at level: the steady state between loads
    zones = sorted(campaign.calling_window.open_zones(now).intersection(campaign.zones))
    if not zones:
        return report  # the calling window is closed for every lead of the campaign
    add = _Adder(session, campaign.id, _order(session, campaign, settings), zones, now)
    # The hard cap counts owned and general leads together, so the general quotas may
    # depend on how many owned leads this load finds. Mostly they do not, and one
    # statement adds both kinds; otherwise the owned leads go first.
    owned_at_most = {a: taken[a] + owned.get(a, 0) for a in agents}
    if general != _general_quotas(groups, level, general_now, owned_at_most):
        report.added_owned, _, _ = add(owned, [])
        owned = {}
        owned_after = {a: taken[a] + report.added_owned.get(a, 0) for a in agents}
        general = _general_quotas(groups, level, general_now, owned_after)
    added_owned, report.added_general, short = add(owned, general)
    report.added_owned |= added_owned
    while short:  # rarely: skills overlap (see _Adder)
        _, more, short = add({}, short)
        for key, n in more.items():
            report.added_general[key] = report.added_general.get(key, 0) + n
    return report


def _general_quotas(
    groups: Sequence[GroupPlan], level: int, in_hopper: dict[str, int], owned: dict[int, int]
) -> list[tuple[GroupPlan, int]]:
    """The skills groups owed general leads, with how many (``owned``: owned leads in the
    hopper per agent, which count towards the hard cap)."""
    quotas = (
        (
            g,
            general_quota(
                level, len(g.agents), in_hopper.get(g.key, 0), [owned.get(a, 0) for a in g.agents]
            ),
        )
        for g in groups
    )
    return [(g, q) for g, q in quotas if q > 0]


#: PostgreSQL ``work_mem`` of a load's transaction. A load ranks every candidate lead of
#: the campaign (millions) at once; at the default 4 MB its hashes and sorts spill to disk
#: and take several times as long.
LOAD_WORK_MEM_MB = 256


def tune_load_transaction(session: Session) -> None:
    """PostgreSQL settings for the rest of a load's transaction: memory to hash and sort
    the campaign's leads in; no JIT (compiling a load's expressions takes about a second,
    more than it saves on statements that each run once); and parallel plans for choosing
    the leads. The planner counts a lead's sort keys and fields read from JSON (and the
    test that a number is one) as nearly free, and each lead handed from a worker to the
    leader as dear, so by default it reads millions of leads in one process."""
    values = {
        "jit": "off",
        "work_mem": f"{LOAD_WORK_MEM_MB}MB",
        "parallel_setup_cost": "100",
        "parallel_tuple_cost": "0.001",
    }
    # set_config(…, true) is SET LOCAL: all four in one round trip.
    calls = ", ".join(f"set_config('{name}', :{name}, true)" for name in values)
    session.execute(text(f"SELECT {calls}"), values)


class CreateTempTableAs(Executable, ClauseElement):
    """``CREATE TEMP TABLE name ON COMMIT DROP AS query`` (PostgreSQL)."""

    inherit_cache = False

    def __init__(self, name: str, query: Select[Any]) -> None:
        self.name = name
        self.query = query


@compiles(CreateTempTableAs)
def _create_temp_table_as(element: CreateTempTableAs, compiler: SQLCompiler, **kw: Any) -> str:
    query = compiler.process(element.query, **kw)
    return f"CREATE TEMP TABLE {element.name} ON COMMIT DROP AS {query}"


def _order(session: Session, campaign: Campaign, settings: CampaignSettings) -> list[Any]:
    """The campaign's sorting, then oldest (FIFO) or newest (LIFO) lead first."""
    tie = Record.id.asc() if settings.secondary_order is SecondaryOrder.FIFO else Record.id.desc()
    contact_list = session.get(ContactList, campaign.list_id)
    assert contact_list is not None  # a campaign's list cannot be deleted
    schema = ListSchema.model_validate(contact_list.schema)
    return [*sort_terms(schema, campaign.sort), tie]


class _Adder:
    """Adds leads to one campaign's hopper, one ``INSERT … SELECT`` per call (on PostgreSQL
    a ``CREATE TABLE … AS`` and an ``INSERT`` from it: see :meth:`_insert`).

    A call adds owned leads for some agents and general leads for some skills groups at
    once. One pass over the campaign's leads picks the candidates (deliverable now, with a
    number on none of the campaign's DNC lists, not in the hopper) and reads each one's
    sort keys and the fields the groups' filters test, once. Each candidate gets a *part*:
    its owner, or the first group (in the order given) whose filter it matches. The
    candidates are ranked per part in the campaign's order and the best ``quota`` of each
    part are inserted, in record order (index inserts then visit each page once instead of
    at random). Owners' part numbers and quotas are joined with the few best leads of each
    owner only, after the ranking.

    Part ``p`` of ``P`` gets positions ``base + p``, ``base + P + p``, … so positions stay
    unique in the campaign and follow the ranking within each part.

    A lead matching several groups is offered to the first of them only, so a later group
    may come out short while the first one filled up on leads both match. The call then
    returns the later groups still owed leads, to call again without the full ones (each
    call drops at least one group, and disjoint skills never need a second call).
    """

    def __init__(
        self,
        session: Session,
        campaign_id: int,
        order: list[Any],
        zones: Sequence[str],
        now: datetime,
    ) -> None:
        self.session = session
        self.campaign_id = campaign_id
        self.order = order
        self.zones = zones
        self.now = now
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.base = next_position(session, campaign_id)

    def __call__(
        self, owned: dict[int, int], general: Sequence[tuple[GroupPlan, int]]
    ) -> tuple[dict[int, int], dict[str, int], list[tuple[GroupPlan, int]]]:
        """Add up to ``owned[agent]`` owned leads per agent and ``quota`` general leads per
        ``(group, quota)``; returns what was added per agent and per group key, and the
        groups owed more (with what they are still owed)."""
        agents = sorted(owned)
        parts = len(agents) + len(general)
        if not parts:
            return {}, {}, []
        first_group = len(agents) + 1
        fields = sorted(
            {
                c.field
                for g, _ in general
                if g.lead_filter is not None
                for group in g.lead_filter.groups
                for c in group.conditions
            }
        )
        owners = self._owners(owned) if agents else None
        candidate = self._candidates(agents, owners, fields, bool(general))
        read = {name: candidate.c[f"f{n}"] for n, name in enumerate(fields)}
        # A general lead's part: the first group whose filter it matches (one column:
        # SQLite would evaluate the filters again for every reference to an expression
        # over them). An owned lead is ranked among its owner's leads.
        part: ColumnElement[Any] = null()
        if general:
            part = case(
                (candidate.c.owner_id.is_not(None), null()),
                *(
                    (compile_filter(g.lead_filter, read.__getitem__), first_group + n)
                    if g.lead_filter is not None
                    else (true(), first_group + n)
                    for n, (g, _) in enumerate(general)
                ),
                else_=None,
            )
        parted = (
            select(
                candidate.c.record_id,
                candidate.c.owner_id,
                part.label("part"),
                *(candidate.c[f"k{n}"] for n in range(len(self.order))),
            )
            .offset(0)
            .subquery("parted")
        )
        ranked = (
            select(
                parted.c.record_id,
                parted.c.owner_id,
                parted.c.part,
                func.row_number()
                .over(
                    partition_by=[parted.c.owner_id, parted.c.part],
                    order_by=[
                        _sort_term(term, parted.c[f"k{n}"]) for n, term in enumerate(self.order)
                    ],
                )
                .label("n"),
            )
            .where(or_(parted.c.owner_id.is_not(None), parted.c.part.is_not(None)))
            .subquery("ranked")
        )
        # Owners' part numbers and quotas join the few leads ranked high enough only.
        most = max([*owned.values(), *(q for _, q in general)])
        general_quota = case(
            *((ranked.c.part == first_group + n, q) for n, (_, q) in enumerate(general)),
            else_=None,
        )
        top = ranked.c.n <= most
        chosen = select(ranked.c.record_id, ranked.c.owner_id)
        final_part: ColumnElement[Any]
        quota: ColumnElement[Any]
        if owners is None:
            final_part, quota = ranked.c.part, general_quota
        elif general:
            chosen = chosen.outerjoin(owners, owners.c.key == ranked.c.owner_id)
            final_part = func.coalesce(owners.c.slot, ranked.c.part)
            quota = func.coalesce(owners.c.quota, general_quota)
        else:
            chosen = chosen.join(owners, owners.c.key == ranked.c.owner_id)
            final_part, quota = owners.c.slot, owners.c.quota
        group_key = (
            case(*((ranked.c.part == first_group + n, g.key) for n, (g, _) in enumerate(general)))
            if general
            else null()
        )
        chosen = chosen.add_columns(
            group_key.label("group_key"),
            (literal(self.base) + (ranked.c.n - 1) * parts + final_part).label("position"),
        ).where(top, ranked.c.n <= quota)
        self._insert(chosen)
        end = self.base + most * parts
        added_owned: dict[int, int] = {}
        added_general: dict[str, int] = {}
        for owner, key, n in self.session.execute(
            select(h.owner_id, h.group_key, func.count())
            .where(h.campaign_id == self.campaign_id, h.position > self.base, h.position <= end)
            .group_by(h.owner_id, h.group_key)
        ):
            if owner is not None:
                added_owned[owner] = int(n)
            elif key is not None:
                added_general[key] = int(n)
        self.base = end
        short = []
        full_before = False
        for g, q in general:
            got = added_general.get(g.key, 0)
            if got >= q:
                full_before = True
            elif full_before:  # an earlier, full group may have had leads this one matches
                short.append((g, q - got))
        return added_owned, added_general, short

    def _insert(self, chosen: Select[Any]) -> None:
        """Insert the ``chosen`` leads (``record_id``, ``owner_id``, ``group_key``,
        ``position``), in record order.

        PostgreSQL plans no ``INSERT … SELECT`` in parallel, but it does a ``CREATE TABLE
        … AS``: the leads are chosen into a temporary table by several processes (reading
        and ranking millions of leads is most of a load), then inserted from it.
        """
        columns = ["record_id", "owner_id", "group_key", "position"]
        if self.postgres:
            self.session.execute(text("DROP TABLE IF EXISTS pg_temp.hopper_chosen"))
            self.session.execute(CreateTempTableAs("hopper_chosen", chosen))
            rows: Any = table("hopper_chosen", *(column(c) for c in columns), schema="pg_temp")
        else:
            rows = chosen.subquery("chosen")
        self.session.execute(
            insert(h).from_select(
                ["campaign_id", *columns, "direct", "loaded_at"],
                while_campaign_exists(
                    select(
                        CampaignRow.id,
                        *(rows.c[c] for c in columns),
                        literal(False),
                        literal(self.now, type_=HopperEntry.loaded_at.type),
                    )
                    .join_from(rows, CampaignRow, CampaignRow.id == self.campaign_id)
                    .order_by(rows.c.record_id),
                    self.campaign_id,
                ),
            )
        )

    def _candidates(
        self, agents: Sequence[int], owners: Any, fields: Sequence[str], general: bool
    ) -> Any:
        """The leads that may enter the hopper now, owned by one of ``agents`` (``owners``
        is theirs from :meth:`_owners`) or (with ``general``) by nobody: ``record_id``,
        ``owner_id``, the sort keys ``k0``, ``k1``, … and the ``fields`` as ``f0``, ``f1``, …"""
        query = (
            select(
                Record.id.label("record_id"),
                Record.owner_id,
                *(_sort_key(term).label(f"k{n}") for n, term in enumerate(self.order)),
                *(record_field(name).label(f"f{n}") for n, name in enumerate(fields)),
            )
            .select_from(cr)
            .join(Record, Record.id == cr.record_id)
            .where(
                deliverable(self.campaign_id, self.now, self.zones),
                self._reachable(),
                ~select(h.record_id)
                .where(h.campaign_id == self.campaign_id, h.record_id == Record.id)
                .exists(),
            )
        )
        if not agents:
            query = query.where(Record.owner_id.is_(None))
        else:
            # PostgreSQL: a hashed test against the agents' keys, which its parallel workers
            # can run (a join would wait for the leader); SQLite: a probe of the temporary
            # table's key.
            owned = (
                Record.owner_id == any_(literal(list(agents), ARRAY(Integer())))
                if self.postgres
                else Record.owner_id.in_(select(owners.c.key))
            )
            query = query.where(or_(owned, Record.owner_id.is_(None)) if general else owned)
        # OFFSET 0 keeps the databases from merging this query into the ones above it,
        # which would read a lead's fields again for every group whose filter tests them.
        return query.offset(0).subquery("candidate")

    def _reachable(self) -> ColumnElement[bool]:
        """The lead has a number on none of the campaign's DNC lists."""
        if self.postgres:
            # An anti-join, which PostgreSQL estimates well; it takes NOT IN to keep half
            # the leads, and then hashes the leads instead of the campaign's view of them.
            blocked = _unreachable(self.campaign_id).subquery("unreachable")
            return ~select(blocked.c.record_id).where(blocked.c.record_id == Record.id).exists()
        # SQLite runs an uncorrelated NOT IN's query once, into an index to probe.
        return Record.id.not_in(_unreachable(self.campaign_id))

    def _owners(self, owned: dict[int, int]) -> Any:
        """``owners(key, slot, quota)``: the agents owed owned leads, with their part number
        (1, 2, … by agent) and quota, to join leads with by owner.

        On PostgreSQL, arrays unnested in the statement (the few leads ranked high enough
        are joined with them). On SQLite, a temporary table keyed by agent, which it also
        probes by key for each lead, to keep the leads of agents owed none.
        """
        rows = {"key": sorted(owned)}
        rows["slot"] = list(range(1, len(owned) + 1))
        rows["quota"] = [owned[a] for a in rows["key"]]
        if self.postgres:
            return (
                text(
                    "SELECT * FROM unnest(CAST(:key AS integer[]), CAST(:slot AS integer[]), "
                    "CAST(:quota AS integer[])) AS owners (key, slot, quota)"
                )
                .bindparams(**rows)
                .columns(key=Integer(), slot=Integer(), quota=Integer())
                .subquery("owners")
            )
        columns = [column(name, Integer()) for name in rows]
        declared = "key INTEGER PRIMARY KEY, slot INTEGER NOT NULL, quota INTEGER NOT NULL"
        self.session.execute(text("DROP TABLE IF EXISTS temp.hopper_owners"))
        self.session.execute(text(f"CREATE TEMP TABLE hopper_owners ({declared})"))
        self.session.execute(
            text("INSERT INTO temp.hopper_owners (key, slot, quota) VALUES (:key, :slot, :quota)"),
            [dict(zip(rows, row, strict=True)) for row in zip(*rows.values(), strict=True)],
        )
        return table("hopper_owners", *columns, schema="temp").alias("owners")


_ORDERING: dict[Any, Callable[[Any], Any]] = {
    operators.asc_op: asc,
    operators.desc_op: desc,
    operators.nulls_first_op: nulls_first,
    operators.nulls_last_op: nulls_last,
}


def _sort_key(term: Any) -> ColumnElement[Any]:
    """The value an ORDER BY term sorts by (``x`` of ``x DESC NULLS LAST``)."""
    while isinstance(term, UnaryExpression) and term.modifier in _ORDERING:
        term = term.element
    key: ColumnElement[Any] = term
    return key


def _sort_term(term: Any, key: ColumnElement[Any]) -> Any:
    """The ORDER BY term ``term`` with ``key`` in place of the value it sorts by."""
    if isinstance(term, UnaryExpression) and term.modifier in _ORDERING:
        return _ORDERING[term.modifier](_sort_term(term.element, key))
    return key


def _unreachable(campaign_id: int) -> Select[Any]:
    """Records every number of which is on one of the campaign's DNC lists.

    Every record has a number (imports and edits refuse a row without one), so the
    records with a callable number are all the others. Found from the DNC numbers through
    the ``e164`` index, the set is small; testing a lead against it is one probe, where
    looking for a callable number would read every lead's numbers.
    """
    other = aliased(RecordPhone)
    blocked = (
        select(DncNumber.e164)
        .join(CampaignDncList, CampaignDncList.dnc_list_id == DncNumber.list_id)
        .where(CampaignDncList.campaign_id == campaign_id, DncNumber.e164 == other.e164)
        .exists()
    )
    return (
        select(RecordPhone.record_id)
        .select_from(DncNumber)
        .join(CampaignDncList, CampaignDncList.dnc_list_id == DncNumber.list_id)
        .join(RecordPhone, RecordPhone.e164 == DncNumber.e164)
        .where(
            CampaignDncList.campaign_id == campaign_id,
            ~select(other.record_id)
            .where(other.record_id == RecordPhone.record_id, ~blocked)
            .exists(),
        )
    )
