"""Lead owners set by admins: one lead, a mass edit by filter, and the staleness rules that
give stale owned leads back to the general pool."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

#: A mass edit refuses selections larger than this (narrow the filter instead).
MAX_MASS_EDIT_RECORDS: Final = 1_000_000
#: At most this many agents to distribute leads over in one mass edit.
MAX_DISTRIBUTE_AGENTS: Final = 10_000
#: How many of the leads a mass edit's dry run would change it shows, in record-id order.
MASS_EDIT_SAMPLE: Final = 20
#: The ``owner`` selector value that means "leads without an owner" (the general pool).
NO_OWNER: Final = "none"
#: The outcome of a delivery ended by an owner change, and the reason the agent is given.
OWNER_CHANGED: Final = "owner_changed"


def owner_view(user_id: str | None) -> dict[str, Any]:
    """A lead's owner as its ``record.owner`` audit entries show it."""
    return {"owner_user_id": user_id}


@dataclass(frozen=True)
class OwnerCandidate:
    """A user named as a lead's new owner, with what decides whether they may own leads."""

    id: int
    user_id: str
    active: bool
    #: Holds the ``agent.work`` right.
    works: bool


@dataclass(frozen=True)
class LeadOwner:
    """A lead's owner (key and user id; None: the general pool)."""

    record_id: int
    list_id: int
    owner_id: int | None
    owner_user_id: str | None
    updated_at: datetime


@dataclass(frozen=True)
class EndedLease:
    """A delivery ended because its lead went to another owner: the agent's client is told
    (``delivery_ended``, reason :data:`OWNER_CHANGED`)."""

    agent_id: int
    campaign_id: int
    record_id: int


class MassAction(StrEnum):
    """What a mass edit does to the selected leads."""

    SET_OWNER = "set_owner"
    CLEAR_OWNER = "clear_owner"
    DISTRIBUTE = "distribute"


@dataclass(frozen=True)
class MassEdit:
    """A mass edit of lead owners on one list.

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
class PlannedOwner:
    """A lead whose owner a planned change would change: its owner now and afterwards
    (user ids; None: the general pool)."""

    record_id: int
    owner_user_id: str | None
    new_owner_user_id: str | None


@dataclass(frozen=True)
class MassEditResult:
    """How many leads the selection matched, how many change owner, (distribute) how many
    of the matched leads each agent gets, and (dry run) the first leads that would change."""

    matched: int
    changed: int
    per_agent: dict[str, int] | None
    dry_run: bool
    #: A dry run's first :data:`MASS_EDIT_SAMPLE` leads that would change owner.
    sample: tuple[PlannedOwner, ...] = ()
    #: Deliveries ended because their lead went to another owner.
    ended_leases: tuple[EndedLease, ...] = ()


@dataclass(frozen=True)
class OwnerChange:
    """One lead's owner after a change (``owner_user_id`` None: the general pool)."""

    list_id: int
    record_id: int
    owner_user_id: str | None
    updated_at: datetime
    ended_leases: tuple[EndedLease, ...] = ()


@dataclass(frozen=True)
class StalenessRuleSpec:
    """What a staleness rule releases and how often it runs.

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


@dataclass(frozen=True)
class StalenessRule:
    """A stored staleness rule."""

    id: int
    spec: StalenessRuleSpec
    last_run_at: datetime | None
    created_at: datetime

    @property
    def name(self) -> str:
        return self.spec.name

    def due(self, now: datetime) -> bool:
        """Whether the background runner should run it now (enabled or not)."""
        return (
            self.last_run_at is None
            or self.last_run_at + timedelta(minutes=self.spec.every_minutes) <= now
        )

    @property
    def next_run_at(self) -> datetime | None:
        """When the background runner next runs the rule (``None``: disabled; a rule that
        never ran is due at once, shown as its creation time)."""
        if not self.spec.enabled:
            return None
        if self.last_run_at is None:
            return self.created_at
        return self.last_run_at + timedelta(minutes=self.spec.every_minutes)

    def view(self) -> dict[str, Any]:
        """The rule as its audit entries show it."""
        return {
            "name": self.spec.name,
            "list_id": self.spec.list_id,
            "statuses": list(self.spec.statuses),
            "not_called_days": self.spec.not_called_days,
            "owner_deactivated": self.spec.owner_deactivated,
            "every_minutes": self.spec.every_minutes,
            "enabled": self.spec.enabled,
        }


#: The audit action of a staleness rule's run (its ``after`` holds ``{"released": n}``).
STALENESS_RUN_ACTION: Final = "staleness_rule.run"


@dataclass(frozen=True)
class StalenessRun:
    """One run of a staleness rule: when, by whom (``system`` for the scheduled runs), and
    how many leads it released; ``reason`` names the rule as it was called then."""

    rule_id: int
    at: datetime
    actor: str
    released: int
    reason: str
