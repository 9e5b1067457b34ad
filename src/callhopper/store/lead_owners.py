"""Lead owners set by admins (SPEC §7.1): one record, mass edit by filter, and staleness
rules that give stale owned leads back to the general pool (SPEC §7.4).

Every change is set-based and audited per record (action ``record.owner``, before and
after ``{"owner_user_id": …}``). A change is first written as a *plan* into a
temporary table ``owner_plan(record_id, old_owner_id, new_owner_id)``, filled by one
``INSERT … SELECT`` over the selected records (locked ``FOR UPDATE`` on PostgreSQL; the
writer lock covers SQLite). The audit rows, the update of ``records`` and the removal
of stale hopper entries are then three statements over that plan, so they agree with
each other whatever other transactions do, and a request that fails leaves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import column, table

from callhopper.domain.actors import Actor
from callhopper.domain.contacts import RECORD_PROPERTIES
from callhopper.domain.errors import AlreadyExists, InvalidInput, NotFound
from callhopper.domain.filters import parse_filter
from callhopper.domain.rights import Right
from callhopper.store import dispensing
from callhopper.store.audit import audit
from callhopper.store.contact_lists import get_list, schema_of
from callhopper.store.db import Database
from callhopper.store.models import (
    AuditEntry,
    Campaign,
    CampaignRecord,
    ContactList,
    HopperEntry,
    Record,
    StalenessRule,
    User,
)
from callhopper.store.record_filters import record_filter
from callhopper.store.types import UTCDateTime
from callhopper.store.users import actor_of

__all__ = [
    "MAX_DISTRIBUTE_AGENTS",
    "MAX_MASS_EDIT_RECORDS",
    "NO_OWNER",
    "OWNER_ACTION",
    "OWNER_CHANGED",
    "EndedLease",
    "MassAction",
    "MassEdit",
    "MassEditResult",
    "StalenessRuleSpec",
    "create_rule",
    "delete_rule",
    "end_leases_of_non_owners",
    "get_rule",
    "list_rules",
    "mass_edit",
    "next_run_at",
    "rule_spec",
    "run_due",
    "run_rule",
    "set_owner",
    "update_rule",
]

logger = logging.getLogger(__name__)

#: A mass edit refuses selections larger than this (narrow the filter instead).
MAX_MASS_EDIT_RECORDS: Final = 1_000_000
#: At most this many agents to distribute leads over in one mass edit.
MAX_DISTRIBUTE_AGENTS: Final = 10_000
#: The ``owner`` selector value that means "leads without an owner" (the general pool).
NO_OWNER: Final = "none"
#: The audit action of every lead owner change.
OWNER_ACTION: Final = "record.owner"

_MAX_STATUSES: Final = 200
#: User ids looked up per query (well under SQLite's bound-parameter limit).
_USER_CHUNK: Final = 1000
_MAX_CODE_LENGTH: Final = 64

_PLAN = table(
    "owner_plan",
    column("record_id", BigInteger()),
    column("old_owner_id", Integer()),
    column("new_owner_id", Integer()),
)
_PLAN_AGENTS = table("owner_plan_agents", column("idx", Integer()), column("user_pk", Integer()))
_CHANGED = _PLAN.c.old_owner_id.is_distinct_from(_PLAN.c.new_owner_id)


# --- leases of agents who no longer own the lead --------------------------------------------------


@dataclass(frozen=True)
class EndedLease:
    """A delivery ended because its lead went to another owner: the agent's client is told
    (``delivery_ended``, reason :data:`OWNER_CHANGED`)."""

    agent_id: int
    campaign_id: int
    record_id: int


#: The outcome of a delivery ended by an owner change, and the reason the agent is given.
OWNER_CHANGED: Final = "owner_changed"


def end_leases_of_non_owners(
    session: Session, record_ids: Select[Any] | Sequence[int], now: datetime
) -> list[EndedLease]:
    """End the deliveries of these leads, in lead-ownership campaigns, to agents who are no
    longer their owner (SPEC §10.2), unless the agent already dialled during the delivery.

    A lead not yet dialled goes back (``ready``) and its history row is closed as
    :data:`OWNER_CHANGED`; the next hopper load stages it for the new owner. A lead already
    dialled stays with the agent, who is on or just off the call: Call refuses to dial it
    again (``owned_by_another_agent``) and Done records the call's wrap-up, which gives it
    back. A lead whose owner is cleared (the general pool) stays with its agent.
    """
    cr = CampaignRecord
    ids = list(record_ids) if isinstance(record_ids, Sequence) else record_ids
    held = session.execute(
        select(cr.campaign_id, cr.record_id, cr.lease_agent_id)
        .join(Campaign, Campaign.id == cr.campaign_id)
        .join(Record, Record.id == cr.record_id)
        .where(
            cr.record_id.in_(ids),
            cr.status == "leased",
            Campaign.enforce_lead_ownership.is_(True),
            Record.owner_id.is_not(None),
            cr.lease_agent_id != Record.owner_id,
            or_(cr.called_at.is_(None), cr.called_at < cr.leased_at),
        )
        .order_by(cr.campaign_id, cr.record_id)
        .with_for_update(of=cr)
    ).all()
    ended = []
    for campaign_id, record_id, agent_id in held:
        if agent_id is None:  # a leased row always has its agent
            continue
        dispensing.release(
            session,
            campaign_id,
            record_id,
            agent_id,
            status="ready",
            accept_by=None,
            reserved_for=None,  # a personal callback goes to the owner (SPEC §4.2)
        )
        dispensing.close_assignment(session, campaign_id, record_id, now=now, outcome=OWNER_CHANGED)
        ended.append(EndedLease(agent_id, int(campaign_id), int(record_id)))
    return ended


# --- one record ----------------------------------------------------------------------------------


def set_owner(
    session: Session,
    actor: Actor,
    list_id: int,
    record_id: int,
    owner_user_id: str | None,
    *,
    reason: str,
    now: datetime,
    ended: list[EndedLease] | None = None,
) -> Record:
    """Give one lead to an agent (``owner_user_id``), or back to the general pool (``None``).

    The new owner must be an active user with the ``agent.work`` right. Setting the owner
    it already has changes and audits nothing. A delivery of the lead to another agent
    that was not dialled yet ends (:func:`end_leases_of_non_owners`; appended to
    ``ended``).
    """
    new_owner = _owner_users(session, [owner_user_id], "owner")[0] if owner_user_id else None
    record = session.scalars(
        select(Record)
        .where(Record.id == record_id, Record.list_id == list_id)
        .with_for_update(of=Record)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if record is None:
        raise NotFound(f"no record {record_id} in list {list_id}", field="record_id")
    new_id = new_owner.id if new_owner is not None else None
    if record.owner_id == new_id:
        return record
    before = session.get(User, record.owner_id) if record.owner_id is not None else None
    record.owner_id = new_id
    record.updated_at = now
    session.execute(
        delete(HopperEntry)
        .where(HopperEntry.record_id == record.id)
        .execution_options(synchronize_session=False)
    )
    audit(
        session,
        actor,
        OWNER_ACTION,
        "record",
        record.id,
        now=now,
        before=_owner_view(before.user_id if before is not None else None),
        after=_owner_view(new_owner.user_id if new_owner is not None else None),
        reason=reason,
    )
    session.flush()
    gone = end_leases_of_non_owners(session, [record.id], now)
    if ended is not None:
        ended.extend(gone)
    return record


# --- mass edit -----------------------------------------------------------------------------------


class MassAction(StrEnum):
    """What a mass edit does to the selected leads."""

    SET_OWNER = "set_owner"
    CLEAR_OWNER = "clear_owner"
    DISTRIBUTE = "distribute"


@dataclass(frozen=True)
class MassEdit:
    """A mass edit of lead owners on one list (SPEC §7.1).

    The selection is the list's leads matching ``filter`` (a lead filter; ``None`` for
    all) whose current owner is ``owner`` (a user_id, :data:`NO_OWNER` for unowned
    leads, ``None`` for any). ``owner_user_id`` is the new owner of ``set_owner``;
    ``agents`` are the user_ids ``distribute`` spreads the leads over, round-robin in
    record-id order.
    """

    action: MassAction
    filter: str | None = None
    owner: str | None = None
    owner_user_id: str | None = None
    agents: Sequence[str] = ()
    note: str = ""


@dataclass(frozen=True)
class MassEditResult:
    """How many leads the selection matched, how many change owner, and (distribute) how
    many of the matched leads each agent gets."""

    matched: int
    changed: int
    per_agent: dict[str, int] | None
    dry_run: bool
    #: Deliveries ended because their lead went to another owner.
    ended_leases: tuple[EndedLease, ...] = ()


def mass_edit(
    session: Session,
    actor: Actor,
    list_id: int,
    edit: MassEdit,
    *,
    dry_run: bool,
    now: datetime,
    limit: int = MAX_MASS_EDIT_RECORDS,
) -> MassEditResult:
    """Select leads of a list and set, clear or distribute their owner, in the caller's
    transaction: all of it or nothing. ``dry_run`` only counts.

    Refused (:class:`InvalidInput`) when the arguments do not fit the action, when a new
    owner is not an active user with the ``agent.work`` right, or when the selection has
    more than ``limit`` leads. Each changed lead gets an audit entry, and the edit one
    more (``lead.mass_edit`` on the list) with its counts.
    """
    contact_list = get_list(session, list_id)
    edit = replace(edit, action=MassAction(edit.action))
    target = _mass_target(session, edit)
    selection = _mass_selection(session, contact_list, edit)
    _create_plan(session, target if isinstance(target, list) else None)
    _fill_plan(session, selection, target, lock=not dry_run)
    matched, changed = _plan_counts(session)
    if matched > limit:
        raise InvalidInput(
            f"the selection matches {matched:,} leads; a mass edit changes at most {limit:,}: "
            "narrow the filter",
            field="filter",
        )
    per_agent = _per_agent(session, target) if isinstance(target, list) else None
    ended: list[EndedLease] = []
    if not dry_run and changed:
        reason = f"mass edit: {edit.note.strip()}" if edit.note.strip() else "mass edit"
        _apply_plan(session, actor, reason=reason, now=now)
        ended = end_leases_of_non_owners(session, select(_PLAN.c.record_id).where(_CHANGED), now)
    _drop_plan(session)
    if not dry_run:
        audit(
            session,
            actor,
            "lead.mass_edit",
            "contact_list",
            list_id,
            now=now,
            after={
                "action": edit.action.value,
                "filter": edit.filter,
                "owner": edit.owner,
                "owner_user_id": edit.owner_user_id,
                "agents": list(edit.agents) or None,
                "matched": matched,
                "changed": changed,
                "per_agent": per_agent,
            },
            reason=edit.note.strip(),
        )
    return MassEditResult(
        matched=matched,
        changed=changed,
        per_agent=per_agent,
        dry_run=dry_run,
        ended_leases=tuple(ended),
    )


def _mass_target(session: Session, edit: MassEdit) -> int | list[int] | None:
    """The new owner's key (``set_owner``), ``None`` (``clear_owner``) or the agents' keys in
    distribution order (``distribute``), after checking the arguments fit the action."""
    if edit.action is MassAction.SET_OWNER:
        if not edit.owner_user_id:
            raise InvalidInput("set_owner needs owner_user_id", field="owner_user_id")
        if edit.agents:
            raise InvalidInput("agents are only for distribute", field="agents")
        return _owner_users(session, [edit.owner_user_id], "owner_user_id")[0].id
    if edit.owner_user_id is not None:
        raise InvalidInput(
            f"owner_user_id is only for set_owner, not {edit.action.value}", field="owner_user_id"
        )
    if edit.action is MassAction.CLEAR_OWNER:
        if edit.agents:
            raise InvalidInput("agents are only for distribute", field="agents")
        return None
    agents = list(dict.fromkeys(edit.agents))
    if not agents:
        raise InvalidInput("distribute needs at least one agent", field="agents")
    if len(agents) > MAX_DISTRIBUTE_AGENTS:
        raise InvalidInput(
            f"distribute over at most {MAX_DISTRIBUTE_AGENTS:,} agents", field="agents"
        )
    return [user.id for user in _owner_users(session, agents, "agents")]


def _mass_selection(
    session: Session, contact_list: ContactList, edit: MassEdit
) -> ColumnElement[bool]:
    """The WHERE clause of the leads a mass edit selects."""
    conditions: list[ColumnElement[bool]] = [Record.list_id == contact_list.id]
    if edit.filter is not None and edit.filter.strip():
        parsed = parse_filter(edit.filter)
        columns = set(schema_of(contact_list).column_names)
        unknown = sorted(
            f
            for f in parsed.fields()
            if (f not in RECORD_PROPERTIES if f.startswith("@") else f not in columns)
        )
        if unknown:
            # A misspelt column reads as empty: ``stat != "AZ"`` would select every lead.
            raise InvalidInput(
                f"the filter reads {', '.join(repr(f) for f in unknown)}, which "
                f"{'is not a column' if len(unknown) == 1 else 'are not columns'} of the list "
                f"or a record property ({', '.join(sorted(RECORD_PROPERTIES))})",
                field="filter",
            )
        conditions.append(record_filter(parsed))
    if edit.owner is not None:
        if edit.owner == NO_OWNER:
            conditions.append(Record.owner_id.is_(None))
        else:
            owner = session.scalar(select(User).where(User.user_id == edit.owner))
            if owner is None:
                raise InvalidInput(f"no user with user_id {edit.owner!r}", field="owner")
            conditions.append(Record.owner_id == owner.id)
    return and_(*conditions)


def _per_agent(session: Session, agent_ids: list[int]) -> dict[str, int]:
    counts: dict[int | None, int] = dict(
        session.execute(
            select(_PLAN.c.new_owner_id, func.count()).group_by(_PLAN.c.new_owner_id)
        ).all()
    )
    names = dict(session.execute(select(User.id, User.user_id).where(User.id.in_(agent_ids))).all())
    return {names[a]: int(counts.get(a, 0)) for a in agent_ids}


# --- staleness rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StalenessRuleSpec:
    """What a staleness rule releases and how often it runs (SPEC §7.4).

    A lead with an owner (on ``list_id``, or on any list when ``None``) is released when
    ANY condition holds: its status (last wrap-up code) is in ``statuses``; it has not
    been called for ``not_called_days`` days (never called: created that long ago); its
    owner is deactivated (``owner_deactivated``).
    """

    name: str
    list_id: int | None = None
    statuses: tuple[str, ...] = ()
    not_called_days: int | None = None
    owner_deactivated: bool = False
    every_minutes: int = 60
    enabled: bool = True


def rule_spec(rule: StalenessRule) -> StalenessRuleSpec:
    """The spec a stored rule was made from (to change some of its fields)."""
    return StalenessRuleSpec(
        name=rule.name,
        list_id=rule.list_id,
        statuses=tuple(rule.statuses),
        not_called_days=rule.not_called_days,
        owner_deactivated=rule.owner_deactivated,
        every_minutes=rule.every_minutes,
        enabled=rule.enabled,
    )


def get_rule(session: Session, rule_id: int) -> StalenessRule:
    """The rule, or :class:`NotFound`."""
    rule = session.get(StalenessRule, rule_id)
    if rule is None:
        raise NotFound(f"no staleness rule {rule_id}", field="rule_id")
    return rule


def list_rules(session: Session) -> Sequence[StalenessRule]:
    """Every staleness rule, oldest first."""
    return session.scalars(select(StalenessRule).order_by(StalenessRule.id)).all()


def create_rule(
    session: Session, actor: Actor, spec: StalenessRuleSpec, *, now: datetime
) -> StalenessRule:
    """Store a new staleness rule (audited)."""
    spec = _checked_spec(session, spec, rule_id=None)
    rule = StalenessRule(created_at=now, last_run_at=None)
    _assign(rule, spec)
    session.add(rule)
    session.flush()
    audit(
        session,
        actor,
        "staleness_rule.create",
        "staleness_rule",
        rule.id,
        now=now,
        after=_rule_view(rule),
    )
    return rule


def update_rule(
    session: Session, actor: Actor, rule_id: int, spec: StalenessRuleSpec, *, now: datetime
) -> StalenessRule:
    """Replace a rule's settings (audited); its last run time stays."""
    rule = get_rule(session, rule_id)
    before = _rule_view(rule)
    _assign(rule, _checked_spec(session, spec, rule_id=rule.id))
    session.flush()
    audit(
        session,
        actor,
        "staleness_rule.update",
        "staleness_rule",
        rule.id,
        now=now,
        before=before,
        after=_rule_view(rule),
    )
    return rule


def delete_rule(session: Session, actor: Actor, rule_id: int, *, now: datetime) -> None:
    """Delete a rule (audited). Leads it released stay released."""
    rule = get_rule(session, rule_id)
    audit(
        session,
        actor,
        "staleness_rule.delete",
        "staleness_rule",
        rule.id,
        now=now,
        before=_rule_view(rule),
    )
    session.delete(rule)
    session.flush()


def next_run_at(rule: StalenessRule) -> datetime | None:
    """When the background runner next runs the rule (``None``: disabled; a rule that never
    ran is due at once, shown as its creation time)."""
    if not rule.enabled:
        return None
    if rule.last_run_at is None:
        return rule.created_at
    return rule.last_run_at + timedelta(minutes=rule.every_minutes)


def run_rule(session: Session, actor: Actor, rule_id: int, now: datetime) -> int:
    """Run one staleness rule now (enabled or not): clear the owner of every owned lead
    that matches any of its conditions, audit each, audit the run with its count, and
    set the rule's ``last_run_at``. Returns how many leads were released."""
    rule = session.scalars(
        select(StalenessRule).where(StalenessRule.id == rule_id).with_for_update()
    ).one_or_none()
    if rule is None:
        raise NotFound(f"no staleness rule {rule_id}", field="rule_id")
    reason = f"staleness rule {rule.name}"
    _create_plan(session, None)
    _fill_plan(session, _stale(rule, now), None, lock=True)
    _, released = _plan_counts(session)
    if released:
        _apply_plan(session, actor, reason=reason, now=now)
    _drop_plan(session)
    rule.last_run_at = now
    audit(
        session,
        actor,
        "staleness_rule.run",
        "staleness_rule",
        rule.id,
        now=now,
        after={"released": released},
        reason=reason,
    )
    session.flush()
    return released


def run_due(db: Database, actor: Actor, now: datetime) -> dict[int, int]:
    """Run every enabled rule whose ``last_run_at + every_minutes`` has come, each in its
    own transaction; returns how many leads each rule that ran released.

    Several processes may call this at once: each rule is re-checked under its row lock
    (PostgreSQL) or the writer lock (SQLite), so a run is not repeated. A rule that fails
    is logged and skipped; the others still run.
    """
    with db.read() as session:
        rules = session.scalars(select(StalenessRule).where(StalenessRule.enabled)).all()
        candidates = [r.id for r in rules if _due(r, now)]
    results: dict[int, int] = {}
    for rule_id in candidates:
        try:
            with db.write() as session:
                rule = session.scalars(
                    select(StalenessRule).where(StalenessRule.id == rule_id).with_for_update()
                ).one_or_none()
                if rule is None or not rule.enabled or not _due(rule, now):
                    continue  # deleted, disabled or run elsewhere since we looked
                results[rule_id] = run_rule(session, actor, rule_id, now)
        except Exception:
            logger.exception("staleness rule %s failed", rule_id)
    return results


def _due(rule: StalenessRule, now: datetime) -> bool:
    return (
        rule.last_run_at is None or rule.last_run_at + timedelta(minutes=rule.every_minutes) <= now
    )


def _stale(rule: StalenessRule, now: datetime) -> ColumnElement[bool]:
    """Owned leads the rule releases: owned, in scope, and matching any condition."""
    conditions: list[ColumnElement[bool]] = []
    if rule.statuses:
        conditions.append(Record.last_code.in_(list(rule.statuses)))
    if rule.not_called_days is not None:
        cutoff = now - timedelta(days=rule.not_called_days)
        conditions.append(
            or_(
                Record.last_called_at < cutoff,
                and_(Record.last_called_at.is_(None), Record.created_at < cutoff),
            )
        )
    if rule.owner_deactivated:
        conditions.append(Record.owner_id.in_(select(User.id).where(User.active.is_(False))))
    scope: list[ColumnElement[bool]] = [Record.owner_id.is_not(None), or_(*conditions)]
    if rule.list_id is not None:
        scope.append(Record.list_id == rule.list_id)
    return and_(*scope)


def _checked_spec(
    session: Session, spec: StalenessRuleSpec, *, rule_id: int | None
) -> StalenessRuleSpec:
    name = spec.name.strip()
    if not name:
        raise InvalidInput("the name is empty", field="name")
    other = session.scalar(select(StalenessRule.id).where(StalenessRule.name == name))
    if other is not None and other != rule_id:
        raise AlreadyExists(f"a staleness rule named {name!r} already exists", field="name")
    if spec.list_id is not None:
        get_list(session, spec.list_id)
    statuses = tuple(dict.fromkeys(s.strip() for s in spec.statuses))
    if any(not s or len(s) > _MAX_CODE_LENGTH for s in statuses):
        raise InvalidInput(
            f"a status is a wrap-up code of 1 to {_MAX_CODE_LENGTH} characters", field="statuses"
        )
    if len(statuses) > _MAX_STATUSES:
        raise InvalidInput(f"at most {_MAX_STATUSES} statuses", field="statuses")
    if spec.not_called_days is not None and spec.not_called_days < 1:
        raise InvalidInput("not_called_days must be at least 1", field="not_called_days")
    if spec.every_minutes < 1:
        raise InvalidInput("every_minutes must be at least 1", field="every_minutes")
    if not statuses and spec.not_called_days is None and not spec.owner_deactivated:
        raise InvalidInput(
            "a rule needs at least one condition: statuses, not_called_days or owner_deactivated",
            field="statuses",
        )
    return StalenessRuleSpec(
        name=name,
        list_id=spec.list_id,
        statuses=statuses,
        not_called_days=spec.not_called_days,
        owner_deactivated=spec.owner_deactivated,
        every_minutes=spec.every_minutes,
        enabled=spec.enabled,
    )


def _assign(rule: StalenessRule, spec: StalenessRuleSpec) -> None:
    rule.name = spec.name
    rule.list_id = spec.list_id
    rule.statuses = list(spec.statuses)
    rule.not_called_days = spec.not_called_days
    rule.owner_deactivated = spec.owner_deactivated
    rule.every_minutes = spec.every_minutes
    rule.enabled = spec.enabled


def _rule_view(rule: StalenessRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "list_id": rule.list_id,
        "statuses": list(rule.statuses),
        "not_called_days": rule.not_called_days,
        "owner_deactivated": rule.owner_deactivated,
        "every_minutes": rule.every_minutes,
        "enabled": rule.enabled,
    }


# --- owners and plans ----------------------------------------------------------------------------


def _owner_users(session: Session, user_ids: Sequence[str], field: str) -> list[User]:
    """The users, in order, after checking each may own leads: exists, is active, holds
    ``agent.work``. The first one who may not is named in the error."""
    found: dict[str, User] = {}
    for start in range(0, len(user_ids), _USER_CHUNK):
        chunk = list(user_ids[start : start + _USER_CHUNK])
        found.update(
            (u.user_id, u) for u in session.scalars(select(User).where(User.user_id.in_(chunk)))
        )
    for user_id in user_ids:
        user = found.get(user_id)
        if user is None:
            raise InvalidInput(f"no user with user_id {user_id!r}", field=field)
        if not user.active:
            raise InvalidInput(f"user {user_id!r} is deactivated and cannot own leads", field=field)
        # Roles are few: ``actor_of`` finds each in the session after its first load.
        if not actor_of(session, user).can(Right.AGENT_WORK):
            raise InvalidInput(
                f"user {user_id!r} has no {Right.AGENT_WORK.value!r} right and cannot own leads",
                field=field,
            )
    return [found[u] for u in user_ids]


def _owner_view(user_id: str | None) -> dict[str, Any]:
    return {"owner_user_id": user_id}


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _create_plan(session: Session, agent_ids: list[int] | None) -> None:
    """Empty plan tables for this transaction (PostgreSQL drops them at commit)."""
    pg = _is_postgres(session)
    on_commit = " ON COMMIT DROP" if pg else ""
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS owner_plan (record_id "
            f"{'BIGINT' if pg else 'INTEGER'} PRIMARY KEY, old_owner_id INTEGER, "
            f"new_owner_id INTEGER){on_commit}"
        )
    )
    session.execute(delete(_PLAN))
    if agent_ids is not None:
        session.execute(
            text(
                "CREATE TEMP TABLE IF NOT EXISTS owner_plan_agents "
                f"(idx INTEGER PRIMARY KEY, user_pk INTEGER NOT NULL){on_commit}"
            )
        )
        session.execute(delete(_PLAN_AGENTS))
        session.execute(
            insert(_PLAN_AGENTS), [{"idx": i, "user_pk": a} for i, a in enumerate(agent_ids)]
        )


def _drop_plan(session: Session) -> None:
    schema = "pg_temp" if _is_postgres(session) else "temp"
    session.execute(text(f"DROP TABLE IF EXISTS {schema}.owner_plan"))
    session.execute(text(f"DROP TABLE IF EXISTS {schema}.owner_plan_agents"))


def _fill_plan(
    session: Session,
    selection: ColumnElement[bool],
    target: int | list[int] | None,
    *,
    lock: bool,
) -> None:
    """Write the selected leads with their current and new owner into the plan.

    ``target`` is the new owner's key, ``None`` to clear, or agents' keys to distribute
    over: the n-th lead in record-id order goes to agent ``n mod len(agents)``.
    """
    chosen = select(Record.id.label("record_id"), Record.owner_id.label("old_owner_id")).where(
        selection
    )
    if lock and _is_postgres(session):
        # Lock the leads so that nobody changes their owner between plan and update.
        chosen = chosen.with_for_update(of=Record)
    source: Select[Any]
    if isinstance(target, list):
        leads = chosen.subquery("leads")
        # Each lead's slot in the round robin (row numbers start at 1).
        ranked = select(
            leads.c.record_id,
            leads.c.old_owner_id,
            ((func.row_number().over(order_by=leads.c.record_id) - 1) % len(target)).label("slot"),
        ).subquery("ranked")
        source = select(ranked.c.record_id, ranked.c.old_owner_id, _PLAN_AGENTS.c.user_pk).join(
            _PLAN_AGENTS, _PLAN_AGENTS.c.idx == ranked.c.slot
        )
    else:
        source = chosen.add_columns(literal(target, Integer()).label("new_owner_id"))
    session.execute(
        insert(_PLAN).from_select(["record_id", "old_owner_id", "new_owner_id"], source)
    )


def _plan_counts(session: Session) -> tuple[int, int]:
    """Leads in the plan, and how many of them change owner."""
    matched, changed = session.execute(
        select(func.count(), func.coalesce(func.sum(case((_CHANGED, 1), else_=0)), 0)).select_from(
            _PLAN
        )
    ).one()
    return int(matched), int(changed)


def _apply_plan(session: Session, actor: Actor, *, reason: str, now: datetime) -> None:
    """Audit, then change, every lead of the plan whose owner changes; drop the hopper
    entries staged for their old owner (the next hopper load re-enters them)."""
    json_object = func.jsonb_build_object if _is_postgres(session) else func.json_object
    key: ColumnElement[str] = literal_column("'owner_user_id'")
    old_owner = aliased(User, name="old_owner")
    new_owner = aliased(User, name="new_owner")
    entries = (
        select(
            literal(now, UTCDateTime()),
            literal(actor.id, Integer()),
            literal(actor.user_id, String()),
            literal(OWNER_ACTION, String()),
            literal("record", String()),
            cast(_PLAN.c.record_id, String()),
            json_object(key, old_owner.user_id),
            json_object(key, new_owner.user_id),
            literal(reason, String()),
        )
        .select_from(_PLAN)
        .outerjoin(old_owner, old_owner.id == _PLAN.c.old_owner_id)
        .outerjoin(new_owner, new_owner.id == _PLAN.c.new_owner_id)
        .where(_CHANGED)
        .order_by(_PLAN.c.record_id)
    )
    session.execute(
        insert(AuditEntry).from_select(
            [
                "at",
                "actor_id",
                "actor",
                "action",
                "target_type",
                "target_id",
                "before",
                "after",
                "reason",
            ],
            entries,
        )
    )
    session.execute(
        update(Record)
        .where(Record.id == _PLAN.c.record_id, _CHANGED)
        .values(owner_id=_PLAN.c.new_owner_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(HopperEntry)
        .where(HopperEntry.record_id.in_(select(_PLAN.c.record_id).where(_CHANGED)))
        .execution_options(synchronize_session=False)
    )
