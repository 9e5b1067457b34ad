"""What a hopper load did, and what the hopper holds (lead-ownership campaigns)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoadReport:
    """One load: logged-in agents, entries removed and flushed, and leads added per owner
    agent (by key) and per skills group."""

    agents: int = 0
    removed_owned: int = 0
    flushed_general: int = 0
    added_owned: dict[int, int] = field(default_factory=dict)
    added_general: dict[str, int] = field(default_factory=dict)

    @property
    def added(self) -> int:
        return sum(self.added_owned.values()) + sum(self.added_general.values())


@dataclass(frozen=True)
class HopperCount:
    """Leads in the hopper of one owner, or general leads of one skills group."""

    owner_id: int | None
    group_key: str | None
    leads: int


@dataclass(frozen=True)
class HopperLead:
    """One lead in the hopper, in position order."""

    record_id: int
    owner_id: int | None
    group_key: str | None
    position: int
    direct: bool
    data: dict[str, str]
