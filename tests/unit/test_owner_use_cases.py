"""Lead owner, staleness rule and campaign ownership use cases against in-memory stores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callhopper.core import owners, ownership
from callhopper.domain.actors import SYSTEM
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.contacts import ColumnSpec, ListSchema, PhoneColumnSpec
from callhopper.domain.errors import AlreadyExists, InvalidInput, NotFound
from callhopper.domain.lead_owners import (
    EndedLease,
    LeadOwner,
    MassAction,
    MassEdit,
    OwnerCandidate,
    PlannedOwner,
    StalenessRule,
    StalenessRuleSpec,
)
from callhopper.domain.lists import ContactList
from callhopper.ports.owners import LeadSelection, Target

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SCHEMA = ListSchema(
    columns=(ColumnSpec(name="phone"), ColumnSpec(name="state")),
    phone_columns=(PhoneColumnSpec(column="phone"),),
    default_timezone="America/Phoenix",
)
USERS = {
    "ann": OwnerCandidate(1, "ann", active=True, works=True),
    "ben": OwnerCandidate(2, "ben", active=True, works=True),
    "gone": OwnerCandidate(3, "gone", active=False, works=True),
    "boss": OwnerCandidate(4, "boss", active=True, works=False),
}


class MemoryLists:
    def get(self, list_id: int) -> ContactList:
        if list_id != 1:
            raise NotFound(f"no contact list {list_id}", field="list_id")
        return ContactList(1, "Leads", "", SCHEMA, OwnershipSettings(), NOW, NOW)


class MemoryOwners:
    """Leads 1 to ``leads``, owned by ann's key or nobody, and the plan the store keeps."""

    def __init__(self, leads: int = 4) -> None:
        self.owner: dict[int, int | None] = dict.fromkeys(range(1, leads + 1))
        self.plan_rows: list[tuple[int, int | None, int | None]] = []
        self.selections: list[tuple[LeadSelection, Target, bool]] = []
        self.applied: list[str] = []
        self.held: list[EndedLease] = []

    def candidates(self, user_ids: Sequence[str]) -> dict[str, OwnerCandidate]:
        return {u: USERS[u] for u in user_ids if u in USERS}

    def user_key(self, user_id: str) -> int | None:
        user = USERS.get(user_id)
        return user.id if user is not None else None

    def lock_owner(self, list_id: int, record_id: int) -> LeadOwner | None:
        if list_id != 1 or record_id not in self.owner:
            return None
        key = self.owner[record_id]
        name = next((u.user_id for u in USERS.values() if u.id == key), None)
        return LeadOwner(record_id, list_id, key, name, NOW - timedelta(days=1))

    def set_owner(self, record_id: int, owner_id: int | None, *, now: datetime) -> None:
        self.owner[record_id] = owner_id

    def end_leases_of_non_owners(
        self, record_ids: Sequence[int], now: datetime
    ) -> list[EndedLease]:
        return [lease for lease in self.held if lease.record_id in record_ids]

    def plan(self, selection: LeadSelection, target: Target, *, lock: bool) -> tuple[int, int]:
        self.selections.append((selection, target, lock))
        ids = sorted(self.owner)
        if isinstance(target, list):
            new = [target[n % len(target)] for n in range(len(ids))]
        else:
            new = [target] * len(ids)
        self.plan_rows = [(r, self.owner[r], n) for r, n in zip(ids, new, strict=True)]
        return len(ids), sum(1 for _, old, n in self.plan_rows if old != n)

    def plan_per_agent(self, agent_ids: Sequence[int]) -> dict[str, int]:
        names = {u.id: u.user_id for u in USERS.values()}
        return {names[a]: sum(1 for *_, n in self.plan_rows if n == a) for a in agent_ids}

    def plan_sample(self, limit: int) -> list[PlannedOwner]:
        names = {u.id: u.user_id for u in USERS.values()}
        changed = [(r, old, new) for r, old, new in self.plan_rows if old != new]
        return [
            PlannedOwner(r, names.get(old) if old else None, names.get(new) if new else None)
            for r, old, new in changed[:limit]
        ]

    def apply_plan(
        self, actor: Any, *, reason: str, now: datetime, end_leases: bool
    ) -> list[EndedLease]:
        self.applied.append(reason)
        for record_id, _, new in self.plan_rows:
            self.owner[record_id] = new
        return list(self.held) if end_leases else []

    def drop_plan(self) -> None:
        self.plan_rows = []


class MemoryRules:
    def __init__(self) -> None:
        self.rows: dict[int, StalenessRule] = {}

    def get(self, rule_id: int, *, lock: bool = False) -> StalenessRule | None:
        return self.rows.get(rule_id)

    def named(self, name: str) -> int | None:
        return next((r.id for r in self.rows.values() if r.name == name), None)

    def enabled(self) -> list[StalenessRule]:
        return [r for r in self.rows.values() if r.spec.enabled]


class MemoryOwnership:
    def __init__(self) -> None:
        self.released: list[Sequence[int] | None] = []

    def campaigns_on_list(self, list_id: int, campaign_ids: Sequence[int]) -> set[int]:
        return {c for c in campaign_ids if c in (10, 11)}

    def release(
        self,
        actor: Any,
        list_id: int,
        campaign_ids: Sequence[int] | None,
        *,
        now: datetime,
        reason: str,
    ) -> dict[int, int]:
        self.released.append(campaign_ids)
        return {10: 3, 11: 2}


class MemoryAudit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, object, dict[str, Any]]] = []

    def add(self, actor: Any, action: str, target_type: str, target_id: object, **kw: Any) -> None:
        self.entries.append((action, target_id, kw))


@dataclass
class MemoryTx:
    lists: MemoryLists = field(default_factory=MemoryLists)
    owners: MemoryOwners = field(default_factory=MemoryOwners)
    staleness_rules: MemoryRules = field(default_factory=MemoryRules)
    ownership: MemoryOwnership = field(default_factory=MemoryOwnership)
    audit: MemoryAudit = field(default_factory=MemoryAudit)


T: Any = MemoryTx  # the in-memory transaction stands for ports.Transaction


def test_a_lead_goes_to_an_agent_and_back_to_the_pool_each_change_audited() -> None:
    tx = T()
    tx.owners.held = [EndedLease(agent_id=2, campaign_id=5, record_id=1)]
    change = owners.set_owner(tx, SYSTEM, 1, 1, "ann", reason="bought", now=NOW)
    assert (change.owner_user_id, change.updated_at) == ("ann", NOW)
    assert change.ended_leases == (EndedLease(2, 5, 1),)
    assert tx.owners.owner[1] == 1
    cleared = owners.set_owner(tx, SYSTEM, 1, 1, None, reason="", now=NOW)
    assert cleared.owner_user_id is None and tx.owners.owner[1] is None
    befores = [(kw["before"], kw["after"], kw["reason"]) for _, _, kw in tx.audit.entries]
    assert befores == [
        ({"owner_user_id": None}, {"owner_user_id": "ann"}, "bought"),
        ({"owner_user_id": "ann"}, {"owner_user_id": None}, ""),
    ]


def test_giving_a_lead_the_owner_it_has_changes_and_audits_nothing() -> None:
    tx = T()
    tx.owners.owner[2] = 1
    change = owners.set_owner(tx, SYSTEM, 1, 2, "ann", reason="", now=NOW)
    assert change.updated_at == NOW - timedelta(days=1)
    assert tx.audit.entries == []


@pytest.mark.parametrize(
    ("user_id", "message"),
    [("nobody", "no user"), ("gone", "deactivated"), ("boss", "agent.work")],
)
def test_only_active_agents_own_leads(user_id: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        owners.set_owner(T(), SYSTEM, 1, 1, user_id, reason="", now=NOW)


def test_a_missing_lead_is_not_found() -> None:
    with pytest.raises(NotFound, match="no record 99 in list 1"):
        owners.set_owner(T(), SYSTEM, 1, 99, "ann", reason="", now=NOW)


def test_a_distribution_spreads_the_leads_round_robin_and_a_dry_run_changes_nothing() -> None:
    tx = T()
    edit = MassEdit(action=MassAction.DISTRIBUTE, agents=("ann", "ben", "ann"))
    counted = owners.mass_edit(tx, SYSTEM, 1, edit, dry_run=True, now=NOW)
    assert (counted.matched, counted.changed, counted.per_agent) == (4, 4, {"ann": 2, "ben": 2})
    assert [(p.record_id, p.new_owner_user_id) for p in counted.sample] == [
        (1, "ann"),
        (2, "ben"),
        (3, "ann"),
        (4, "ben"),
    ]
    assert tx.owners.applied == [] and tx.audit.entries == []
    assert tx.owners.selections[-1][2] is False  # a dry run locks nothing
    done = owners.mass_edit(tx, SYSTEM, 1, edit, dry_run=False, now=NOW)
    assert done.sample == ()
    assert done.changed == 4 and tx.owners.owner == {1: 1, 2: 2, 3: 1, 4: 2}
    assert tx.owners.applied == ["mass edit"]
    assert [a for a, _, _ in tx.audit.entries] == ["lead.mass_edit"]


def test_a_mass_edit_above_its_limit_is_refused_before_it_changes_anything() -> None:
    tx = T()
    edit = MassEdit(action=MassAction.SET_OWNER, owner_user_id="ann")
    with pytest.raises(InvalidInput, match="matches 4 leads"):
        owners.mass_edit(tx, SYSTEM, 1, edit, dry_run=False, now=NOW, limit=3)
    assert tx.owners.applied == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (MassEdit(action=MassAction.SET_OWNER), "needs owner_user_id"),
        (MassEdit(action=MassAction.CLEAR_OWNER, owner_user_id="ann"), "only for set_owner"),
        (MassEdit(action=MassAction.CLEAR_OWNER, agents=("ann",)), "only for distribute"),
        (MassEdit(action=MassAction.DISTRIBUTE), "at least one agent"),
        (MassEdit(action=MassAction.CLEAR_OWNER, filter='stat == "AZ"'), "'stat'"),
        (MassEdit(action=MassAction.CLEAR_OWNER, owner="nobody"), "no user"),
    ],
)
def test_a_mass_edit_that_does_not_fit_its_action_is_refused(edit: MassEdit, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        owners.mass_edit(T(), SYSTEM, 1, edit, dry_run=True, now=NOW)


def test_a_mass_edit_selects_by_filter_and_current_owner() -> None:
    tx = T()
    edit = MassEdit(action=MassAction.CLEAR_OWNER, filter='state == "AZ"', owner="none")
    owners.mass_edit(tx, SYSTEM, 1, edit, dry_run=True, now=NOW)
    selection, target, _ = tx.owners.selections[-1]
    assert selection.lead_filter is not None and selection.lead_filter.fields() == {"state"}
    assert (selection.by_owner, selection.owner_id, target) == (True, None, None)


def spec(**changes: Any) -> StalenessRuleSpec:
    return StalenessRuleSpec(**{"name": "stale", "statuses": ("sale",), **changes})


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"name": "  "}, InvalidInput, "name is empty"),
        ({"statuses": ()}, InvalidInput, "at least one condition"),
        ({"statuses": ("x" * 65,)}, InvalidInput, "1 to 64"),
        ({"not_called_days": 0}, InvalidInput, "at least 1"),
        ({"every_minutes": 0}, InvalidInput, "at least 1"),
        ({"list_id": 9}, NotFound, "no contact list"),
        ({"name": "taken"}, AlreadyExists, "already exists"),
    ],
)
def test_a_staleness_rule_needs_a_name_and_a_condition(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    tx = T()
    tx.staleness_rules.rows[1] = StalenessRule(1, spec(name="taken"), None, NOW)
    with pytest.raises(error, match=message):
        owners.checked_spec(tx, spec(**changes), rule_id=None)


def test_a_rule_keeps_its_name_and_trims_its_statuses() -> None:
    tx = T()
    tx.staleness_rules.rows[1] = StalenessRule(1, spec(), None, NOW)
    checked = owners.checked_spec(tx, spec(statuses=(" sale", "sale ", "x")), rule_id=1)
    assert checked.statuses == ("sale", "x")


def test_a_rule_is_due_after_its_interval_and_shows_its_next_run() -> None:
    never_ran = StalenessRule(1, spec(every_minutes=60), None, NOW)
    assert never_ran.due(NOW) and never_ran.next_run_at == NOW
    ran = StalenessRule(1, spec(every_minutes=60), NOW, NOW)
    assert not ran.due(NOW + timedelta(minutes=59)) and ran.due(NOW + timedelta(minutes=60))
    assert StalenessRule(1, spec(enabled=False), NOW, NOW).next_run_at is None


def test_a_release_names_campaigns_of_the_list_or_all_of_them() -> None:
    tx = T()
    with pytest.raises(InvalidInput, match="no campaign 12 uses contact list 1"):
        ownership.release(tx, SYSTEM, 1, [10, 12], now=NOW, reason="")
    with pytest.raises(InvalidInput, match="at least one campaign"):
        ownership.release(tx, SYSTEM, 1, [], now=NOW, reason="")
    done = ownership.release(tx, SYSTEM, 1, None, now=NOW, reason="")
    assert (done.released, done.total) == ({10: 3, 11: 2}, 5)
    assert tx.ownership.released == [None]
