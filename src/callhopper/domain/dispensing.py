"""The values the dispensing core reads and writes through its ports: a campaign as its
agents work it, a lease and the record behind it, and what the end of a lease changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypedDict

from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.campaigns import CampaignSettings, CampaignState, DialingMode
from callhopper.domain.contacts import ListSchema
from callhopper.domain.errors import Conflict, InvalidInput
from callhopper.domain.records import CallbackStatus, RecordStatus
from callhopper.domain.wrapup import WrapupCodeSpec


class LeaseRace(Conflict):
    """A second Get Record of the same agent leased a record of the campaign first: an
    agent holds one record per campaign, so this lease was refused. Nothing of the refused
    transaction was kept; asking again finds the record the other one leased."""

    code = "concurrent_change"


@dataclass(frozen=True)
class CampaignContext:
    """A campaign as the dispensing core works it: its row, its list's schema and
    campaign-ownership settings, its settings and calling window, its wrap-up codes, and
    whether the agent asking is in its queue. Read in one statement."""

    id: int
    name: str
    state: CampaignState
    mode: DialingMode
    list_id: int
    pass_no: int
    #: The time zones of the campaign's contacts.
    zones: tuple[str, ...]
    agent_owned_column: str | None
    enforce_lead_ownership: bool
    schema: ListSchema
    settings: CampaignSettings
    window: CallingWindow
    ownership: OwnershipSettings
    codes: Mapping[str, WrapupCodeSpec]
    #: Whether any workflow rule is enabled (else Done need not look for rules to fire).
    has_rules: bool
    #: Whether the agent asked about is in the campaign's queue.
    member: bool
    #: Whether any do-not-call list is attached to the campaign (else a claim need not look
    #: its record's numbers up).
    checks_dnc: bool

    @property
    def is_on(self) -> bool:
        return self.state is CampaignState.ON

    @property
    def is_pushed(self) -> bool:
        return self.mode.is_pushed

    def lease_until(self, now: datetime) -> datetime:
        """When a lease renewed now runs out (the campaign's lease timeout)."""
        return now + timedelta(seconds=self.settings.lease_timeout_s)

    def open_zones(self, now: datetime) -> list[str]:
        """The campaign's time zones in which the calling window is open now, sorted."""
        return sorted(self.window.open_zones(now).intersection(self.zones))

    def code(self, code: str) -> WrapupCodeSpec:
        """The wrap-up code of the campaign's set, or :class:`InvalidInput`."""
        spec = self.codes.get(code)
        if spec is None:
            raise InvalidInput(
                f"{code!r} is not a wrap-up code of this campaign ({', '.join(self.codes)})",
                field="code",
            )
        return spec


@dataclass(frozen=True)
class Lease:
    """A campaign's record while it is delivered to an agent: the guard of every action
    the agent takes on it."""

    record_id: int
    #: The owner snapshot of an agent-owned campaign (whom a personal callback reaches).
    owner_id: int | None
    leased_at: datetime
    #: Push preview: the agent must accept before then.
    accept_by: datetime | None
    #: When the agent first dialled (possibly during an earlier lease that lapsed).
    called_at: datetime | None
    #: The pass in which the record was last handled.
    handled_pass: int | None

    def dialled(self) -> bool:
        """Whether the agent dialled during this lease (``called_at`` may be left from an
        earlier lease that lapsed)."""
        return dialled_in_lease(self.called_at, self.leased_at)


def dialled_in_lease(called_at: datetime | None, leased_at: datetime | None) -> bool:
    """Whether a call at ``called_at`` belongs to the lease that began at ``leased_at``."""
    return called_at is not None and leased_at is not None and called_at >= leased_at


@dataclass(frozen=True)
class CallbackView:
    """A record's pending callback in a campaign (scheduled, or delivered now)."""

    kind: str
    status: CallbackStatus
    due_at: datetime
    number: str | None
    note: str
    #: Whom it waits for (``None``: any agent of the queue).
    agent_id: int | None


@dataclass(frozen=True)
class LeaseView:
    """A campaign's record (its progress and lease), the contact record's fields, and its
    pending callback in the campaign (if any), read in one statement."""

    status: RecordStatus
    lease_agent_id: int | None
    leased_at: datetime | None
    lease_expires_at: datetime | None
    accept_by: datetime | None
    called_at: datetime | None
    attempts: int
    pending: dict[str, Any] | None
    handled_pass: int | None
    last_code: str | None
    last_at: datetime | None
    tz: str | None
    data: dict[str, Any]
    phones: list[str | None]
    callback: CallbackView | None


@dataclass(frozen=True)
class HistoryItem:
    """One line of a contact's history, as its agent sees it."""

    at: datetime
    kind: str
    campaign_name: str
    agent_user_id: str | None
    number: str | None
    code: str | None
    note: str
    #: The caller ID the call showed (None: not a call, or the campaign had none).
    caller_id: str | None = None


@dataclass(frozen=True)
class Delivered:
    """A delivered record and the newest lines of its contact's history."""

    lease: LeaseView
    history: list[HistoryItem]


@dataclass(frozen=True)
class ContactRecord:
    """A contact record of a list, as the dispensing core reads it."""

    id: int
    tz: str | None
    phones: list[str | None]
    data: dict[str, Any]
    #: The lead's owner (lead-ownership campaigns).
    owner_id: int | None


@dataclass(frozen=True)
class DialTarget:
    """What Call reads of a delivered record, in one statement: the lease, the contact
    record, who else has it out and which campaign owns it (the record's own copies), and
    the number of the callback being delivered, if it has one."""

    lease: Lease
    record: ContactRecord
    out_campaign_id: int | None
    out_until: datetime | None
    owner_campaign_id: int | None
    owner_until: datetime | None
    callback_number: str | None

    def out_elsewhere(self, campaign_id: int, now: datetime) -> bool:
        """Whether an agent of another campaign has the record out now (a live lease)."""
        return (
            self.out_campaign_id is not None
            and self.out_campaign_id != campaign_id
            and self.out_until is not None
            and self.out_until > now
        )

    def owner(self, now: datetime) -> RecordOwner | None:
        """The campaign that owns the record now (an owner with no end never expires)."""
        if self.owner_campaign_id is None:
            return None
        if self.owner_until is not None and self.owner_until <= now:
            return None
        return RecordOwner(self.owner_campaign_id, self.owner_until)


@dataclass(frozen=True)
class RecordOwner:
    """The campaign that owns a record now (campaign ownership), and until when."""

    campaign_id: int
    expires_at: datetime | None


class Rank(Enum):
    """Where a record given back goes in its campaign's order."""

    #: Before every record (a rejected or unaccepted push).
    TOP = "top"
    #: After every record (a skip reinserted, a call later).
    BACK = "back"


class LeaseChange(TypedDict, total=False):
    """What the end of a lease sets on the campaign's record; a key left out is left as
    it is."""

    status: RecordStatus
    rank: Rank
    retry_at: datetime | None
    reserved_for: int | None
    accept_by: datetime | None
    called_at: datetime | None
    blocked_until: datetime | None
    last_code: str | None
    last_agent_id: int | None
    last_at: datetime | None
    handled_pass: int | None


@dataclass(frozen=True)
class Backlog:
    """Why a claim found nothing for an agent."""

    #: Records that would be deliverable now but for the calling window in their zone.
    outside_window: int
    #: The next retry due later (looked for only when no record waits for the window).
    next_retry_at: datetime | None


@dataclass(frozen=True)
class HeldElsewhere:
    """Records an agent could get but that another campaign sharing the list holds: owns
    (campaign ownership), or has out with one of its agents now."""

    #: How many.
    count: int
    #: The holder of the one freed first, and until when (``None``: no expiry).
    campaign_id: int
    campaign: str
    until: datetime | None


@dataclass(frozen=True)
class AgentCampaign:
    """A running campaign of one of the agent's queues, and the agent's place in it."""

    id: int
    name: str
    description: str
    state: CampaignState
    mode: DialingMode
    logged_in: bool
    receiving: bool
    #: The record the agent holds in it, if any.
    record_id: int | None
