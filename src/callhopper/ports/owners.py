"""The lead owner store: owners of leads, changed one at a time or by a set-based plan.

A plan is the set of leads a mass edit (or a staleness rule) selected, each with its
current and new owner; it lives until :meth:`LeadOwnerStore.drop_plan` or the end of the
transaction, and the counts, the audit entries and the change are all read from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from callhopper.domain.actors import Actor
from callhopper.domain.filters import Filter
from callhopper.domain.lead_owners import (
    EndedLease,
    LeadOwner,
    OwnerCandidate,
    PlannedOwner,
    StalenessRule,
)


@dataclass(frozen=True)
class LeadSelection:
    """Leads of a list: matching ``lead_filter`` (None: all), of the owner ``owner_id``
    when ``by_owner`` (``owner_id`` None: unowned leads)."""

    list_id: int
    lead_filter: Filter | None = None
    by_owner: bool = False
    owner_id: int | None = None


#: A plan's new owners: one agent's key, None to clear, or agents' keys to distribute over
#: (the n-th lead in record-id order goes to agent ``n mod len(agents)``).
Target = int | list[int] | None


class LeadOwnerStore(Protocol):
    def candidates(self, user_ids: Sequence[str]) -> dict[str, OwnerCandidate]:
        """The users with these user ids that exist, by user id."""
        ...

    def user_key(self, user_id: str) -> int | None:
        """The key of the user with this user id, if any."""
        ...

    def lock_owner(self, list_id: int, record_id: int) -> LeadOwner | None:
        """A record's owner, the record locked until the end of the transaction; None when
        the list has no such record."""
        ...

    def set_owner(self, record_id: int, owner_id: int | None, *, now: datetime) -> None:
        """Give the lead to ``owner_id`` and take it out of the hoppers it was staged in."""
        ...

    def end_leases_of_non_owners(
        self, record_ids: Sequence[int], now: datetime
    ) -> list[EndedLease]:
        """End the deliveries of these leads, in lead-ownership campaigns, to agents who are
        no longer their owner, unless the agent already dialled during the delivery."""
        ...

    def plan(self, selection: LeadSelection, target: Target, *, lock: bool) -> tuple[int, int]:
        """Plan the selected leads' new owners; returns how many leads the plan holds and
        how many of them change owner. ``lock`` locks the leads until the end of the
        transaction."""
        ...

    def plan_stale(self, rule: StalenessRule, *, now: datetime) -> int:
        """Plan to release the owned leads the staleness rule matches; returns how many."""
        ...

    def plan_per_agent(self, agent_ids: Sequence[int]) -> dict[str, int]:
        """How many leads of the plan go to each agent, by user id."""
        ...

    def plan_sample(self, limit: int) -> list[PlannedOwner]:
        """The first ``limit`` leads of the plan whose owner changes, in record-id order,
        with their current and new owner."""
        ...

    def apply_plan(
        self, actor: Actor, *, reason: str, now: datetime, end_leases: bool
    ) -> list[EndedLease]:
        """Audit and change every planned lead whose owner changes and take them out of
        the hoppers; with ``end_leases``, end the deliveries of those leads to agents who
        no longer own them."""
        ...

    def drop_plan(self) -> None: ...
