"""Why a record can or cannot be delivered (or dialled) now in a campaign: "Why not?".

The answer is not a second set of rules. The store evaluates, for one record, each named
condition the claim statements are built from (``due``, ``fresh``, ``in_zones``,
``not_owned_elsewhere``, …) and reads the columns they look at; the do-not-call check is
the claim's own (:func:`callhopper.domain.predial.listed_plan`). This module turns the
conditions that do not hold into reasons, each with the time it ends where there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaigns import CampaignState
from callhopper.domain.records import RecordStatus


class BlockReason(StrEnum):
    """One reason a record is not delivered now."""

    #: The campaign is not ``on``: nothing is delivered (detail: ``state``).
    CAMPAIGN_NOT_RUNNING = "campaign_not_running"
    #: Closed for the campaign by a final wrap-up code, a *do not call* decline, or a
    #: close before dialling (detail: ``code``).
    FINAL = "final"
    #: Its owner value names nobody who may take it (the error monitor; detail: ``error``).
    OWNER_ERROR = "owner_error"
    #: Delivered to an agent now, until the lease runs out (detail: ``agent``).
    LEASED = "leased"
    #: Handled in this pass, without a retry: it comes back with a recycle.
    HANDLED_THIS_PASS = "handled_this_pass"
    #: A retry is due later (until: when).
    RETRY_SCHEDULED = "retry_scheduled"
    #: A callback is due later (until: when; detail: ``agent``, ``None`` for any agent).
    CALLBACK_SCHEDULED = "callback_scheduled"
    #: Another campaign sharing the list owns it (campaign ownership; until: when that
    #: ends, ``None`` for no expiry; detail: ``campaign_id``, ``campaign``).
    OWNED_BY_ANOTHER_CAMPAIGN = "owned_by_another_campaign"
    #: An agent of another campaign has the contact now (until: their lease's end).
    OUT_WITH_ANOTHER_CAMPAIGN = "out_with_another_campaign"
    #: The contact's local time is outside the calling window (until: when it opens;
    #: detail: ``zone``, ``opens_local``, ``window``).
    OUTSIDE_CALLING_WINDOW = "outside_calling_window"
    #: Every number of the record is on a do-not-call list the campaign checks: a claim
    #: that reaches it closes it as ``dnc`` (detail: ``numbers``).
    DNC = "dnc"
    #: A lead-ownership campaign delivers from its hopper, and the lead is not in it: the
    #: next hopper load decides.
    NOT_IN_HOPPER = "not_in_hopper"
    #: The agent it waits for (owner, lead owner, or the agent of a personal callback) is
    #: not in the campaign's queue (detail: ``agent``, ``as``).
    OWNER_NOT_IN_QUEUE = "owner_not_in_queue"
    #: That agent is deactivated.
    OWNER_INACTIVE = "owner_inactive"
    #: That agent is not logged into the campaign: it is delivered at their next Get Record
    #: (or push).
    OWNER_NOT_LOGGED_IN = "owner_not_logged_in"
    #: A record any agent may take, but no agent of the queue is logged into the campaign.
    NO_AGENT_LOGGED_IN = "no_agent_logged_in"


@dataclass(frozen=True)
class Blocker:
    """One reason, when it ends (``None``: not by itself), and its particulars."""

    reason: BlockReason
    until: datetime | None
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Eligibility:
    """Whether a record can be delivered now in a campaign, and every reason it cannot."""

    campaign_id: int
    record_id: int
    deliverable: bool
    blockers: tuple[Blocker, ...]


@dataclass(frozen=True)
class RecordConditions:
    """One campaign's record as its claims see it: the columns their conditions read, and
    whether each named condition holds for it (``holds``, evaluated by the store with the
    claim's own SQL, for the agent it waits for)."""

    status: RecordStatus
    #: The owner snapshot of an agent-owned campaign.
    owner_snapshot: int | None
    lease_agent: str | None
    lease_expires_at: datetime | None
    retry_at: datetime | None
    blocked_until: datetime | None
    #: The agent a personal callback waits for.
    reserved_for: int | None
    tz: str | None
    last_code: str | None
    error: str | None
    #: The lead's owner (lead-ownership campaigns).
    lead_owner: int | None
    owner_campaign_id: int | None
    owner_campaign: str | None
    owner_until: datetime | None
    out_campaign_id: int | None
    out_campaign: str | None
    out_until: datetime | None
    #: A scheduled callback waits for the record (any agent's or a personal one).
    callback_due_at: datetime | None
    in_hopper: bool
    holds: Mapping[str, bool]


@dataclass(frozen=True)
class Presence:
    """The agent a record waits for (``agent_id``; ``None``: any agent of the queue), as
    the campaign sees them now."""

    agent_id: int | None
    user_id: str | None
    active: bool
    member: bool
    logged_in: bool
    #: Active agents of the campaign's queue logged into it.
    logged_in_members: int


def awaited_agent(
    conditions: RecordConditions, *, agent_owned: bool, lead_ownership: bool
) -> int | None:
    """The one agent who may get the record, if only one may: the agent of a personal
    callback, else the owner (an agent-owned campaign's snapshot, a lead's owner)."""
    if conditions.reserved_for is not None:
        return conditions.reserved_for
    if agent_owned:
        return conditions.owner_snapshot
    if lead_ownership:
        return conditions.lead_owner
    return None


def blockers(
    conditions: RecordConditions,
    presence: Presence,
    *,
    state: CampaignState,
    window: CallingWindow,
    agent_owned: bool,
    lead_ownership: bool,
    listed_numbers: tuple[str, ...] | None,
    now: datetime,
) -> tuple[Blocker, ...]:
    """Every reason the record is not delivered now (none: it is deliverable).
    ``listed_numbers``: the record's numbers when every one is on a do-not-call list the
    campaign checks, else ``None``."""
    c, holds = conditions, conditions.holds
    found: list[Blocker] = []
    if state is not CampaignState.ON:
        found.append(Blocker(BlockReason.CAMPAIGN_NOT_RUNNING, None, {"state": state.value}))
    if not any(holds[name] for name in ("due", "fresh", "freed")):
        found.append(_state(c))
    if not holds["not_owned_elsewhere"] and c.status is not RecordStatus.BLOCKED:
        found.append(_owned_elsewhere(c, c.owner_until))
    if not holds["not_out_elsewhere"]:
        detail = {"campaign_id": c.out_campaign_id, "campaign": c.out_campaign}
        found.append(Blocker(BlockReason.OUT_WITH_ANOTHER_CAMPAIGN, c.out_until, detail))
    if not holds["in_zones"]:
        found.append(_outside_window(c.tz, window, now))
    if listed_numbers is not None:
        found.append(Blocker(BlockReason.DNC, None, {"numbers": list(listed_numbers)}))
    if lead_ownership and not c.in_hopper:
        found.append(Blocker(BlockReason.NOT_IN_HOPPER, None, {}))
    if not (agent_owned and presence.agent_id is None):  # no owner: an owner error above
        found.extend(_agent(c, presence))
    return tuple(found)


def _state(c: RecordConditions) -> Blocker:
    """Why the record is in none of the states a claim takes."""
    if c.status is RecordStatus.FINAL:
        return Blocker(BlockReason.FINAL, None, {"code": c.last_code})
    if c.status is RecordStatus.ERROR:
        return Blocker(BlockReason.OWNER_ERROR, None, {"error": c.error})
    if c.status is RecordStatus.LEASED:
        return Blocker(BlockReason.LEASED, c.lease_expires_at, {"agent": c.lease_agent})
    if c.status is RecordStatus.BLOCKED:
        return _owned_elsewhere(c, c.blocked_until)
    if c.retry_at is None:
        return Blocker(BlockReason.HANDLED_THIS_PASS, None, {"code": c.last_code})
    if c.callback_due_at is not None:
        return Blocker(BlockReason.CALLBACK_SCHEDULED, c.retry_at, {"agent_id": c.reserved_for})
    return Blocker(BlockReason.RETRY_SCHEDULED, c.retry_at, {"code": c.last_code})


def _owned_elsewhere(c: RecordConditions, until: datetime | None) -> Blocker:
    detail = {"campaign_id": c.owner_campaign_id, "campaign": c.owner_campaign}
    return Blocker(BlockReason.OWNED_BY_ANOTHER_CAMPAIGN, until, detail)


def _outside_window(zone: str | None, window: CallingWindow, now: datetime) -> Blocker:
    opens = window.next_open(now, zone) if zone is not None else None
    detail: dict[str, object] = {"zone": zone, "window": window.describe()}
    if opens is not None and zone is not None:
        detail["opens_local"] = opens.astimezone(ZoneInfo(zone)).strftime("%H:%M")
    return Blocker(BlockReason.OUTSIDE_CALLING_WINDOW, opens, detail)


def _agent(c: RecordConditions, p: Presence) -> list[Blocker]:
    """The agent side: the one agent the record waits for, or any agent of the queue."""
    if p.agent_id is None:
        if p.logged_in_members == 0:
            return [Blocker(BlockReason.NO_AGENT_LOGGED_IN, None, {})]
        return []
    role = "callback" if c.reserved_for == p.agent_id else "owner"
    detail = {"agent": p.user_id, "as": role}
    if not p.active:
        return [Blocker(BlockReason.OWNER_INACTIVE, None, detail)]
    found = []
    if not p.member:
        found.append(Blocker(BlockReason.OWNER_NOT_IN_QUEUE, None, detail))
    if not p.logged_in:
        found.append(Blocker(BlockReason.OWNER_NOT_LOGGED_IN, None, detail))
    return found
