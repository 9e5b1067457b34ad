"""The staleness rule store (:class:`callhopper.ports.staleness.StalenessRuleStore`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callhopper.domain.errors import NotFound
from callhopper.domain.lead_owners import StalenessRule, StalenessRuleSpec
from callhopper.store.models import StalenessRule as RuleRow


def rule_of(row: RuleRow) -> StalenessRule:
    """The domain value of a stored rule."""
    return StalenessRule(
        id=row.id,
        spec=StalenessRuleSpec(
            name=row.name,
            list_id=row.list_id,
            statuses=tuple(row.statuses),
            not_called_days=row.not_called_days,
            owner_deactivated=row.owner_deactivated,
            every_minutes=row.every_minutes,
            enabled=row.enabled,
        ),
        last_run_at=row.last_run_at,
        created_at=row.created_at,
    )


def _assign(row: RuleRow, spec: StalenessRuleSpec) -> None:
    row.name = spec.name
    row.list_id = spec.list_id
    row.statuses = list(spec.statuses)
    row.not_called_days = spec.not_called_days
    row.owner_deactivated = spec.owner_deactivated
    row.every_minutes = spec.every_minutes
    row.enabled = spec.enabled


class SqlStalenessRuleStore:
    """Staleness rules in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, rule_id: int) -> RuleRow:
        row = self.session.get(RuleRow, rule_id)
        if row is None:
            raise NotFound(f"no staleness rule {rule_id}", field="rule_id")
        return row

    def get(self, rule_id: int, *, lock: bool = False) -> StalenessRule | None:
        query = select(RuleRow).where(RuleRow.id == rule_id)
        if lock:
            query = query.with_for_update()
        row = self.session.scalars(query).one_or_none()
        return rule_of(row) if row is not None else None

    def all(self) -> list[StalenessRule]:
        return [rule_of(r) for r in self.session.scalars(select(RuleRow).order_by(RuleRow.id))]

    def enabled(self) -> list[StalenessRule]:
        return [rule_of(r) for r in self.session.scalars(select(RuleRow).where(RuleRow.enabled))]

    def named(self, name: str) -> int | None:
        return self.session.scalar(select(RuleRow.id).where(RuleRow.name == name))

    def add(self, spec: StalenessRuleSpec, *, now: datetime) -> StalenessRule:
        row = RuleRow(created_at=now, last_run_at=None)
        _assign(row, spec)
        self.session.add(row)
        self.session.flush()
        return rule_of(row)

    def save(self, rule_id: int, spec: StalenessRuleSpec) -> StalenessRule:
        row = self._row(rule_id)
        _assign(row, spec)
        self.session.flush()
        return rule_of(row)

    def delete(self, rule_id: int) -> None:
        self.session.delete(self._row(rule_id))
        self.session.flush()

    def ran(self, rule_id: int, *, now: datetime) -> None:
        self._row(rule_id).last_run_at = now
        self.session.flush()
