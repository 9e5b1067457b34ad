"""The per-agent hopper of lead-ownership campaigns: the pure rules of a load.

A load tops up, for each agent logged into the campaign, their **owned** leads
and the **general** (ownerless) leads matching their skills. It adds in chunks of
the level: whoever has fewer than ``level`` leads of a kind gets ``level`` more.
General leads are shared by the agents whose skills are the same: a group of n
agents gets ``n * level``. Nobody has more than :data:`HARD_CAP_PER_AGENT` leads
in the hopper, whatever the level: a load adds owned leads to an agent only while
they and the agent's even share of the general leads stay within the cap, and keeps
a group's owned and general leads within the cap times its agents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from callhopper.domain.filters import Filter, Group

HARD_CAP_PER_AGENT = 1000
#: Group key of agents who have neither skills nor a default lead filter: every lead.
MATCH_ALL = "*"


class SecondaryOrder(StrEnum):
    """Order of leads after the campaign's sorting: oldest first, or newest first."""

    FIFO = "fifo"
    LIFO = "lifo"


def owned_quota(level: int, in_hopper: int, general_share: int = 0) -> int:
    """How many owned leads a load adds for one agent who has ``in_hopper`` of them and
    ``general_share`` general leads (see :func:`general_share`): the hard cap counts both
    kinds together."""
    if in_hopper >= level:
        return 0
    return max(0, min(level, HARD_CAP_PER_AGENT - in_hopper - general_share))


def owned_quotas(level: int, owned: Sequence[int], general: int, extra: int = 0) -> list[int]:
    """How many owned leads a load adds for each agent of one group (agents with the same
    skills), who own ``owned`` leads each in the hopper, share ``general`` general leads, and
    each count ``extra`` more towards the cap (their share of the general leads that every
    agent of the campaign shares).

    Each agent is topped up by :func:`owned_quota`, and the group as a whole stays within
    its agents' caps: the general leads are shared, so an agent whose owned leads and even
    share pass the cap takes room from the others. The group's room goes to its agents in
    the order given."""
    share = general_share(general, len(owned)) + extra
    room = sum(max(0, HARD_CAP_PER_AGENT - o - extra) for o in owned) - general
    quotas = []
    for in_hopper in owned:
        quota = min(owned_quota(level, in_hopper, share), max(0, room))
        room -= quota
        quotas.append(quota)
    return quotas


def general_share(in_hopper: int, agents: int) -> int:
    """The general leads that count towards each agent's hard cap when ``agents`` agents
    share ``in_hopper`` of them: an even share, rounded up, so that the agents' owned leads
    and their general leads together stay within ``agents`` times the cap."""
    if agents <= 0:
        return 0
    return -(-in_hopper // agents)


def general_quota(level: int, agents: int, in_hopper: int, owned: Sequence[int]) -> int:
    """How many general leads a load adds for a group of ``agents`` agents with the same
    skills, who share ``in_hopper`` general leads and own ``owned`` leads each (after the
    load's owned leads). The hard cap counts both kinds per agent."""
    if agents <= 0 or in_hopper >= level * agents:
        return 0
    room = sum(max(0, HARD_CAP_PER_AGENT - o) for o in owned) - in_hopper
    return max(0, min(level * agents, room))


def agent_filter(skills: Sequence[Filter], default: Filter | None) -> Filter | None:
    """An agent's lead filter: their skills OR'd, else the campaign's default filter, else
    ``None`` (every general lead)."""
    if skills:
        return Filter(groups=tuple(g for f in skills for g in f.groups))
    return default


def group_key(lead_filter: Filter | None) -> str:
    """Agents with the same filter share general leads; the key names the filter."""
    if lead_filter is None:
        return MATCH_ALL
    canonical = " or ".join(sorted({_group_text(g) for g in lead_filter.groups}))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _group_text(group: Group) -> str:
    return Filter(groups=(group,)).to_text()


@dataclass(frozen=True)
class GroupPlan:
    key: str
    lead_filter: Filter | None
    agents: tuple[int, ...]


def plan_groups(filters: Mapping[int, Filter | None]) -> list[GroupPlan]:
    """Agents (id → their filter) grouped by identical filters, in a stable order."""
    groups: dict[str, tuple[Filter | None, list[int]]] = {}
    for agent, lead_filter in sorted(filters.items()):
        key = group_key(lead_filter)
        groups.setdefault(key, (lead_filter, []))[1].append(agent)
    return [GroupPlan(k, f, tuple(a)) for k, (f, a) in sorted(groups.items())]
