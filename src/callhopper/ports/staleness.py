"""The staleness rule store."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from callhopper.domain.lead_owners import StalenessRule, StalenessRuleSpec


class StalenessRuleStore(Protocol):
    def get(self, rule_id: int, *, lock: bool = False) -> StalenessRule | None: ...

    def all(self) -> list[StalenessRule]:
        """Every rule, oldest first."""
        ...

    def enabled(self) -> list[StalenessRule]: ...

    def named(self, name: str) -> int | None:
        """The id of the rule with this name, if any."""
        ...

    def add(self, spec: StalenessRuleSpec, *, now: datetime) -> StalenessRule: ...

    def save(self, rule_id: int, spec: StalenessRuleSpec) -> StalenessRule: ...

    def delete(self, rule_id: int) -> None: ...

    def ran(self, rule_id: int, *, now: datetime) -> None:
        """Set the rule's last run time."""
        ...
