"""Lead owner use cases: one lead's owner, mass edits (set, clear, distribute; with a dry
run), and the staleness rules that give stale owned leads back to the general pool.

Every change is set-based and audited per lead (``record.owner``, before and after
``{"owner_user_id": …}``): the store writes the selected leads with their new owner into a
plan, and the counts, the audit entries and the change are all read from that plan. A
delivery of a lead to an agent who no longer owns it, not dialled yet, ends; the agent's
client is told once the change commits, and the hopper loader is woken to stage the leads
for their new owners.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from callhopper.domain.actors import Actor
from callhopper.domain.audit import AuditQuery
from callhopper.domain.contacts import RECORD_PROPERTIES
from callhopper.domain.errors import AlreadyExists, InvalidInput, NotFound
from callhopper.domain.filters import parse_filter
from callhopper.domain.lead_owners import (
    MASS_EDIT_SAMPLE,
    MAX_DISTRIBUTE_AGENTS,
    MAX_MASS_EDIT_RECORDS,
    NO_OWNER,
    OWNER_CHANGED,
    STALENESS_RUN_ACTION,
    EndedLease,
    MassAction,
    MassEdit,
    MassEditResult,
    OwnerCandidate,
    OwnerChange,
    StalenessRule,
    StalenessRuleSpec,
    StalenessRun,
    owner_view,
)
from callhopper.domain.records import OWNER_ACTION
from callhopper.domain.rights import Right
from callhopper.ports import Clock, Transaction, UnitOfWork
from callhopper.ports.notices import AgentNotices
from callhopper.ports.owners import LeadSelection, Target

logger = logging.getLogger(__name__)

_MAX_STATUSES: Final = 200
#: The most runs one look returns.
MAX_RUNS: Final = 1000
_MAX_CODE_LENGTH: Final = 64


def owner_candidates(tx: Transaction, user_ids: Sequence[str], field: str) -> list[OwnerCandidate]:
    """The users, in order, after checking each may own leads: exists, is active, holds
    ``agent.work``. The first one who may not is named in the error."""
    found = tx.owners.candidates(user_ids)
    for user_id in user_ids:
        user = found.get(user_id)
        if user is None:
            raise InvalidInput(f"no user with user_id {user_id!r}", field=field)
        if not user.active:
            raise InvalidInput(f"user {user_id!r} is deactivated and cannot own leads", field=field)
        if not user.works:
            raise InvalidInput(
                f"user {user_id!r} has no {Right.AGENT_WORK.value!r} right and cannot own leads",
                field=field,
            )
    return [found[u] for u in user_ids]


# --- one lead -----------------------------------------------------------------------------------


def set_owner(
    tx: Transaction,
    actor: Actor,
    list_id: int,
    record_id: int,
    owner_user_id: str | None,
    *,
    reason: str,
    now: datetime,
) -> OwnerChange:
    """Give one lead to an agent (``owner_user_id``), or back to the general pool (``None``).

    The new owner must be an active user with the ``agent.work`` right. Setting the owner
    it already has changes and audits nothing. A delivery of the lead to another agent
    that was not dialled yet ends.
    """
    new = owner_candidates(tx, [owner_user_id], "owner")[0] if owner_user_id else None
    lead = tx.owners.lock_owner(list_id, record_id)
    if lead is None:
        raise NotFound(f"no record {record_id} in list {list_id}", field="record_id")
    new_id = new.id if new is not None else None
    if lead.owner_id == new_id:
        return OwnerChange(list_id, record_id, lead.owner_user_id, lead.updated_at)
    tx.owners.set_owner(record_id, new_id, now=now)
    tx.audit.add(
        actor,
        OWNER_ACTION,
        "record",
        record_id,
        now=now,
        before=owner_view(lead.owner_user_id),
        after=owner_view(new.user_id if new is not None else None),
        reason=reason,
    )
    ended = tx.owners.end_leases_of_non_owners([record_id], now)
    return OwnerChange(
        list_id, record_id, new.user_id if new is not None else None, now, tuple(ended)
    )


# --- mass edit ----------------------------------------------------------------------------------


def _mass_target(tx: Transaction, edit: MassEdit) -> Target:
    """The new owner's key (``set_owner``), ``None`` (``clear_owner``) or the agents' keys in
    distribution order (``distribute``), after checking the arguments fit the action."""
    if edit.action is MassAction.SET_OWNER:
        if not edit.owner_user_id:
            raise InvalidInput("set_owner needs owner_user_id", field="owner_user_id")
        if edit.agents:
            raise InvalidInput("agents are only for distribute", field="agents")
        return owner_candidates(tx, [edit.owner_user_id], "owner_user_id")[0].id
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
    return [user.id for user in owner_candidates(tx, agents, "agents")]


def _mass_selection(
    tx: Transaction, list_id: int, columns: set[str], edit: MassEdit
) -> LeadSelection:
    """The leads a mass edit selects."""
    selection = LeadSelection(list_id)
    if edit.filter is not None and edit.filter.strip():
        parsed = parse_filter(edit.filter)
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
        selection = replace(selection, lead_filter=parsed)
    if edit.owner is not None:
        owner_id = None
        if edit.owner != NO_OWNER:
            owner_id = tx.owners.user_key(edit.owner)
            if owner_id is None:
                raise InvalidInput(f"no user with user_id {edit.owner!r}", field="owner")
        selection = replace(selection, by_owner=True, owner_id=owner_id)
    return selection


def mass_edit(
    tx: Transaction,
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
    contact_list = tx.lists.get(list_id)
    edit = replace(edit, action=MassAction(edit.action))
    target = _mass_target(tx, edit)
    selection = _mass_selection(tx, list_id, set(contact_list.schema.column_names), edit)
    matched, changed = tx.owners.plan(selection, target, lock=not dry_run)
    if matched > limit:
        raise InvalidInput(
            f"the selection matches {matched:,} leads; a mass edit changes at most {limit:,}: "
            "narrow the filter",
            field="filter",
        )
    per_agent = tx.owners.plan_per_agent(target) if isinstance(target, list) else None
    sample = tuple(tx.owners.plan_sample(MASS_EDIT_SAMPLE)) if dry_run else ()
    ended: list[EndedLease] = []
    if not dry_run and changed:
        reason = f"mass edit: {edit.note.strip()}" if edit.note.strip() else "mass edit"
        ended = tx.owners.apply_plan(actor, reason=reason, now=now, end_leases=True)
    tx.owners.drop_plan()
    if not dry_run:
        tx.audit.add(
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
        sample=sample,
        ended_leases=tuple(ended),
    )


# --- staleness rules ----------------------------------------------------------------------------


def checked_spec(
    tx: Transaction, spec: StalenessRuleSpec, *, rule_id: int | None
) -> StalenessRuleSpec:
    """The spec with its name and statuses trimmed, after checking it is a rule."""
    name = spec.name.strip()
    if not name:
        raise InvalidInput("the name is empty", field="name")
    other = tx.staleness_rules.named(name)
    if other is not None and other != rule_id:
        raise AlreadyExists(f"a staleness rule named {name!r} already exists", field="name")
    if spec.list_id is not None:
        tx.lists.get(spec.list_id)
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
    return replace(spec, name=name, statuses=statuses)


def _rule(tx: Transaction, rule_id: int, *, lock: bool = False) -> StalenessRule:
    rule = tx.staleness_rules.get(rule_id, lock=lock)
    if rule is None:
        raise NotFound(f"no staleness rule {rule_id}", field="rule_id")
    return rule


def run_rule(tx: Transaction, actor: Actor, rule_id: int, now: datetime) -> int:
    """Run one staleness rule now (enabled or not): clear the owner of every owned lead
    that matches any of its conditions, audit each, audit the run with its count, and
    set the rule's last run time. Returns how many leads were released."""
    rule = _rule(tx, rule_id, lock=True)
    reason = f"staleness rule {rule.name}"
    released = tx.owners.plan_stale(rule, now=now)
    if released:
        tx.owners.apply_plan(actor, reason=reason, now=now, end_leases=False)
    tx.owners.drop_plan()
    tx.staleness_rules.ran(rule.id, now=now)
    tx.audit.add(
        actor,
        STALENESS_RUN_ACTION,
        "staleness_rule",
        rule.id,
        now=now,
        after={"released": released},
        reason=reason,
    )
    return released


def run_due(uow: UnitOfWork, actor: Actor, now: datetime) -> dict[int, int]:
    """Run every enabled rule whose interval has passed since its last run, each in its
    own transaction; returns how many leads each rule that ran released.

    Several processes may call this at once: each rule is re-checked under its row lock
    (PostgreSQL) or the writer lock (SQLite), so a run is not repeated. A rule that fails
    is logged and skipped; the others still run.
    """
    with uow.read() as tx:
        candidates = [r.id for r in tx.staleness_rules.enabled() if r.due(now)]
    results: dict[int, int] = {}
    for rule_id in candidates:
        try:
            with uow.write() as tx:
                rule = tx.staleness_rules.get(rule_id, lock=True)
                if rule is None or not rule.spec.enabled or not rule.due(now):
                    continue  # deleted, disabled or run elsewhere since we looked
                results[rule_id] = run_rule(tx, actor, rule_id, now)
        except Exception:
            logger.exception("staleness rule %s failed", rule_id)
    return results


# --- the service --------------------------------------------------------------------------------


class OwnerService:
    """Lead owner use cases, each in a transaction of its own."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        notices: AgentNotices,
        *,
        on_owners_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.notices = notices
        #: Called after leads changed owner (they left the hoppers: a load stages them).
        self.on_owners_changed = on_owners_changed

    def set_owner(
        self, actor: Actor, list_id: int, record_id: int, owner_user_id: str | None, *, reason: str
    ) -> OwnerChange:
        with self.uow.write() as tx:
            change = set_owner(
                tx, actor, list_id, record_id, owner_user_id, reason=reason, now=self.clock.now()
            )
        self.notices.deliveries_ended(change.ended_leases, OWNER_CHANGED)
        self.on_owners_changed()
        return change

    def mass_edit(
        self, actor: Actor, list_id: int, edit: MassEdit, *, dry_run: bool
    ) -> MassEditResult:
        with self.uow.read() if dry_run else self.uow.write() as tx:
            result = mass_edit(tx, actor, list_id, edit, dry_run=dry_run, now=self.clock.now())
        self.notices.deliveries_ended(result.ended_leases, OWNER_CHANGED)
        if result.changed and not result.dry_run:
            self.on_owners_changed()
        return result

    def rules(self) -> list[StalenessRule]:
        """Every staleness rule, oldest first."""
        with self.uow.read() as tx:
            return tx.staleness_rules.all()

    def rule(self, rule_id: int) -> StalenessRule:
        with self.uow.read() as tx:
            return _rule(tx, rule_id)

    def create_rule(self, actor: Actor, spec: StalenessRuleSpec) -> StalenessRule:
        """Store a new staleness rule (audited); its first run is due at once."""
        now = self.clock.now()
        with self.uow.write() as tx:
            rule = tx.staleness_rules.add(checked_spec(tx, spec, rule_id=None), now=now)
            tx.audit.add(
                actor,
                "staleness_rule.create",
                "staleness_rule",
                rule.id,
                now=now,
                after=rule.view(),
            )
            return rule

    def update_rule(self, actor: Actor, rule_id: int, changes: Mapping[str, Any]) -> StalenessRule:
        """Replace the fields given of a rule's settings (audited); its last run stays."""
        now = self.clock.now()
        with self.uow.write() as tx:
            before = _rule(tx, rule_id)
            spec = checked_spec(tx, replace(before.spec, **changes), rule_id=rule_id)
            rule = tx.staleness_rules.save(rule_id, spec)
            tx.audit.add(
                actor,
                "staleness_rule.update",
                "staleness_rule",
                rule_id,
                now=now,
                before=before.view(),
                after=rule.view(),
            )
            return rule

    def delete_rule(self, actor: Actor, rule_id: int) -> None:
        """Delete a rule (audited). Leads it released stay released."""
        now = self.clock.now()
        with self.uow.write() as tx:
            rule = _rule(tx, rule_id)
            tx.audit.add(
                actor,
                "staleness_rule.delete",
                "staleness_rule",
                rule_id,
                now=now,
                before=rule.view(),
            )
            tx.staleness_rules.delete(rule_id)

    def run_rule(self, actor: Actor, rule_id: int) -> int:
        with self.uow.write() as tx:
            return run_rule(tx, actor, rule_id, self.clock.now())

    def runs(self, rule_id: int | None = None, *, limit: int = 100) -> list[StalenessRun]:
        """The latest runs (of one rule, or of every rule, deleted ones too), newest first,
        read from their audit entries."""
        if not 1 <= limit <= MAX_RUNS:
            raise InvalidInput(f"limit must be between 1 and {MAX_RUNS}", field="limit")
        query = AuditQuery(
            action=STALENESS_RUN_ACTION,
            target_type="staleness_rule",
            target_id=None if rule_id is None else str(rule_id),
            limit=limit,
        )
        with self.uow.read() as tx:
            if rule_id is not None:
                _rule(tx, rule_id)
            entries = tx.audit_trail.entries(query)
        return [
            StalenessRun(
                rule_id=int(e.target_id),
                at=e.at,
                actor=e.actor,
                released=int((e.after or {}).get("released", 0)),
                reason=e.reason,
            )
            for e in entries
        ]
