"""Campaign use cases against in-memory stores: the life cycle and its snapshots, what may
change once a campaign exists, and deletion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from callhopper.core.campaigns import (
    CampaignService,
    change_state,
    create_campaign,
    delete_campaign,
    update_campaign,
)
from callhopper.domain.actors import SYSTEM
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.campaign_values import Campaign, CampaignSpec
from callhopper.domain.campaigns import (
    CampaignAction,
    CampaignSettings,
    CampaignState,
    DialingMode,
    SortKey,
)
from callhopper.domain.contacts import ColumnSpec, ListSchema, PhoneColumnSpec
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.hopper import SecondaryOrder
from callhopper.domain.lists import ContactList
from callhopper.domain.ownership import OwnerOrder

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SCHEMA = ListSchema(
    columns=(ColumnSpec(name="phone"), ColumnSpec(name="agent"), ColumnSpec(name="balance")),
    phone_columns=(PhoneColumnSpec(column="phone"),),
    agent_owned_column="agent",
    default_timezone="America/Phoenix",
)


def spec(**changes: Any) -> CampaignSpec:
    base = CampaignSpec(
        name="Spring",
        description="",
        list_id=1,
        queue_id=1,
        wrapup_set_id=1,
        mode=DialingMode.PREVIEW,
        agent_owned_column=None,
        owner_order=OwnerOrder.EMAIL_FIRST,
        sort=(),
        calling_window=CallingWindow(),
        settings=CampaignSettings(),
    )
    return replace(base, **changes)


class MemoryCampaigns:
    def __init__(self) -> None:
        self.rows: dict[int, Campaign] = {}
        self.drained = True
        self.completed: list[int] = []

    def get(self, campaign_id: int, *, lock: bool = False) -> Campaign:
        if campaign_id not in self.rows:
            raise NotFound(f"no campaign {campaign_id}", field="campaign_id")
        return self.rows[campaign_id]

    def named(self, name: str) -> int | None:
        return next((c.id for c in self.rows.values() if c.name == name), None)

    def check_references(self, queue_id: int, wrapup_set_id: int) -> None:
        if wrapup_set_id != 1:
            raise NotFound(f"no wrap-up code set {wrapup_set_id}", field="set_id")

    def add(self, spec: CampaignSpec, *, now: datetime) -> Campaign:
        campaign = Campaign(
            id=len(self.rows) + 1,
            name=spec.name,
            description=spec.description,
            list_id=spec.list_id,
            queue_id=spec.queue_id,
            wrapup_set_id=spec.wrapup_set_id,
            mode=spec.mode,
            state=CampaignState.OFF,
            agent_owned_column=spec.agent_owned_column,
            enforce_lead_ownership=spec.enforce_lead_ownership,
            owner_order=spec.owner_order,
            sort=spec.sort,
            calling_window=spec.calling_window,
            settings=spec.settings,
            pass_no=0,
            zones=(),
            started_at=None,
            stopped_at=None,
            completed_at=None,
            recycled_at=None,
            created_at=now,
            updated_at=now,
        )
        self.rows[campaign.id] = campaign
        return campaign

    def save(self, campaign: Campaign) -> None:
        self.rows[campaign.id] = campaign

    def delete(self, campaign_id: int) -> None:
        del self.rows[campaign_id]

    def complete_if_drained(self, campaign_id: int, *, now: datetime) -> bool:
        campaign = self.rows[campaign_id]
        if campaign.state is not CampaignState.STOPPING or not self.drained:
            return False
        self.rows[campaign_id] = replace(campaign, state=CampaignState.COMPLETE, completed_at=now)
        self.completed.append(campaign_id)
        return True

    def queue_agents(self, queue_id: int) -> list[int]:
        return [7, 8]


class MemoryLists:
    def get(self, list_id: int) -> ContactList:
        if list_id != 1:
            raise NotFound(f"no contact list {list_id}", field="list_id")
        return ContactList(1, "Accounts", "", SCHEMA, OwnershipSettings(), NOW, NOW)


class MemorySnapshots:
    def __init__(self) -> None:
        self.taken: list[tuple[int, int]] = []

    def take(self, campaign: Campaign, *, now: datetime) -> tuple[str, ...]:
        self.taken.append((campaign.id, campaign.pass_no))
        return ("America/Phoenix",)


class MemoryOwnership:
    def __init__(self) -> None:
        self.released: list[tuple[int, Sequence[int] | None, str]] = []

    def release(
        self,
        actor: Any,
        list_id: int,
        campaign_ids: Sequence[int] | None,
        *,
        now: datetime,
        reason: str,
    ) -> dict[int, int]:
        self.released.append((list_id, campaign_ids, reason))
        return {}


class MemoryAudit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, object, dict[str, Any]]] = []

    def add(self, actor: Any, action: str, target_type: str, target_id: object, **kw: Any) -> None:
        self.entries.append((action, target_id, kw))

    @property
    def actions(self) -> list[str]:
        return [a for a, _, _ in self.entries]


@dataclass
class MemoryTx:
    campaigns: MemoryCampaigns = field(default_factory=MemoryCampaigns)
    lists: MemoryLists = field(default_factory=MemoryLists)
    snapshots: MemorySnapshots = field(default_factory=MemorySnapshots)
    ownership: MemoryOwnership = field(default_factory=MemoryOwnership)
    audit: MemoryAudit = field(default_factory=MemoryAudit)


class MemoryUnitOfWork:
    def __init__(self, tx: MemoryTx) -> None:
        self.tx = tx

    def write(self) -> Any:
        return self

    read = write

    def __enter__(self) -> MemoryTx:
        return self.tx

    def __exit__(self, *exc: object) -> None:
        return None


class FixedClock:
    def now(self) -> datetime:
        return NOW


class RecordedNotices:
    def __init__(self) -> None:
        self.campaigns: list[tuple[list[int], int, str]] = []

    def campaign_changed(self, agent_ids: Sequence[int], campaign_id: int, action: str) -> None:
        self.campaigns.append((list(agent_ids), campaign_id, action))

    def deliveries_ended(self, leases: Sequence[Any], reason: str) -> None:
        raise AssertionError("campaigns end no delivery")


def created(tx: MemoryTx, **changes: Any) -> Campaign:
    return create_campaign(tx, SYSTEM, spec(**changes), now=NOW)  # type: ignore[arg-type]


def test_a_new_campaign_is_off_never_started_and_audited() -> None:
    tx = MemoryTx()
    campaign = created(tx, name="  Spring  ")
    assert (campaign.name, campaign.state, campaign.pass_no) == ("Spring", CampaignState.OFF, 0)
    assert tx.audit.actions == ["campaign.create"]
    with pytest.raises(AlreadyExists):
        created(tx, name="Spring")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": DialingMode.PREDICTIVE, "agent_owned_column": "agent"}, "dials for their"),
        ({"mode": DialingMode.PREDICTIVE, "enforce_lead_ownership": True}, "lead's owner"),
        ({"agent_owned_column": "balance"}, "agent-owned column is 'agent'"),
        ({"enforce_lead_ownership": True, "agent_owned_column": "agent"}, "not both"),
        ({"mode": DialingMode.PREDICTIVE}, "at least one caller ID"),
        ({"mode": DialingMode.PROGRESSIVE}, "at least one caller ID"),
        (
            {
                "mode": DialingMode.PREDICTIVE,
                "settings": CampaignSettings(caller_ids=("+14155550100",), abandon_message=" "),
            },
            "message for abandoned calls",
        ),
        ({"sort": (SortKey(column="agent"),), "agent_owned_column": "agent"}, "agent-owned"),
    ],
)
def test_a_campaign_that_cannot_work_is_refused(changes: dict[str, Any], message: str) -> None:
    tx = MemoryTx()
    with pytest.raises(InvalidInput, match=message):
        created(tx, **changes)
    assert tx.campaigns.rows == {} and tx.audit.entries == []


def test_the_first_start_and_every_recycle_take_the_snapshots() -> None:
    tx = MemoryTx()
    campaign_id = created(tx).id
    go: Any = change_state
    started = go(tx, SYSTEM, campaign_id, CampaignAction.START, now=NOW)
    assert (started.state, started.pass_no, started.zones) == (
        CampaignState.ON,
        1,
        ("America/Phoenix",),
    )
    go(tx, SYSTEM, campaign_id, CampaignAction.STOP, now=NOW)
    go(tx, SYSTEM, campaign_id, CampaignAction.START, now=NOW)  # a restart keeps the pass
    recycled = go(tx, SYSTEM, campaign_id, CampaignAction.RECYCLE, now=NOW)
    assert recycled.pass_no == 2
    assert tx.snapshots.taken == [(campaign_id, 1), (campaign_id, 2)]
    assert tx.audit.actions[1:] == [
        "campaign.start",
        "campaign.stop",
        "campaign.start",
        "campaign.recycle",
    ]


def test_a_stop_completes_the_campaign_once_nothing_is_out() -> None:
    tx = MemoryTx()
    campaign_id = created(tx).id
    go: Any = change_state
    go(tx, SYSTEM, campaign_id, CampaignAction.START, now=NOW)
    tx.campaigns.drained = False
    stopped = go(tx, SYSTEM, campaign_id, CampaignAction.STOP, now=NOW)
    assert stopped.state is CampaignState.STOPPING
    assert tx.campaigns.rows[campaign_id].state is CampaignState.STOPPING
    tx.campaigns.drained = True
    service = CampaignService(MemoryUnitOfWork(tx), FixedClock(), RecordedNotices())  # type: ignore[arg-type]
    assert service.get(campaign_id).state is CampaignState.COMPLETE
    with pytest.raises(Conflict, match="complete cannot stop"):
        go(tx, SYSTEM, campaign_id, CampaignAction.STOP, now=NOW)


def test_the_queue_hears_of_a_start_once_it_commits_and_the_pusher_is_woken() -> None:
    tx = MemoryTx()
    campaign_id = created(tx).id
    notices = RecordedNotices()
    woken: list[bool] = []
    service = CampaignService(
        MemoryUnitOfWork(tx),  # type: ignore[arg-type]
        FixedClock(),
        notices,
        on_state_change=lambda: woken.append(True),
    )
    service.change_state(SYSTEM, campaign_id, CampaignAction.START)
    assert notices.campaigns == [([7, 8], campaign_id, "start")]
    assert woken == [True]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mode", DialingMode.PUSH_PREVIEW, "the dialing mode"),
        ("queue_id", 2, "the queue"),
        ("list_id", 2, "the contact list"),
        ("agent_owned_column", None, "non-agent-owned"),
        ("enforce_lead_ownership", True, "lead ownership"),
    ],
)
def test_what_defines_a_campaign_cannot_change(field: str, value: Any, message: str) -> None:
    tx = MemoryTx()
    campaign_id = created(tx, agent_owned_column="agent").id
    with pytest.raises(Conflict, match=message):
        update_campaign(tx, SYSTEM, campaign_id, {field: value}, now=NOW)  # type: ignore[arg-type]


def test_settings_and_window_are_patched_field_by_field() -> None:
    tx = MemoryTx()
    campaign_id = created(tx, agent_owned_column="agent").id
    changed = update_campaign(
        tx,  # type: ignore[arg-type]
        SYSTEM,
        campaign_id,
        {
            "mode": DialingMode.PREVIEW,  # the same value is no change
            "calling_window": {"start": "09:00"},
            "settings": {"reinsert_skipped": True, "secondary_order": "lifo"},
        },
        now=NOW,
    )
    campaign = changed.campaign
    assert campaign.calling_window.start == CallingWindow(start="09:00").start
    assert campaign.calling_window.end == CallingWindow().end
    assert campaign.settings.secondary_order is SecondaryOrder.FIFO
    assert changed.notices and "fifo" in changed.notices[0]
    with pytest.raises(InvalidInput, match="calling_window"):
        update_campaign(
            tx,  # type: ignore[arg-type]
            SYSTEM,
            campaign_id,
            {"calling_window": {"start": "25:00"}},
            now=NOW,
        )


def test_a_running_campaign_cannot_be_deleted_and_a_deleted_one_owns_nothing() -> None:
    tx = MemoryTx()
    campaign_id = created(tx).id
    go: Any = change_state
    go(tx, SYSTEM, campaign_id, CampaignAction.START, now=NOW)
    remove: Any = delete_campaign
    with pytest.raises(Conflict, match="stop it"):
        remove(tx, SYSTEM, campaign_id, now=NOW)
    go(tx, SYSTEM, campaign_id, CampaignAction.STOP, now=NOW)
    remove(tx, SYSTEM, campaign_id, now=NOW)
    assert tx.campaigns.rows == {}
    assert tx.ownership.released == [(1, [campaign_id], "campaign 'Spring' deleted")]
    assert tx.audit.actions[-1] == "campaign.delete"


@pytest.mark.parametrize(
    "changes",
    [
        {"mode": DialingMode.PREDICTIVE},
        {"mode": DialingMode.PROGRESSIVE},
        {"mode": DialingMode.PROGRESSIVE, "agent_owned_column": "agent"},
        {"mode": DialingMode.PROGRESSIVE, "enforce_lead_ownership": True},
    ],
)
def test_automatic_campaigns_with_a_caller_id_are_created(changes: dict[str, Any]) -> None:
    tx = MemoryTx()
    settings = CampaignSettings(caller_ids=("+14155550100",))
    campaign = created(tx, settings=settings, **changes)
    assert campaign.mode is changes["mode"]
    assert (campaign.settings.abandon_target, campaign.settings.ring_timeout_s) == (0.03, 25)


def test_an_automatic_campaign_keeps_its_caller_id() -> None:
    tx = MemoryTx()
    settings = CampaignSettings(caller_ids=("+14155550100",))
    campaign = created(tx, mode=DialingMode.PREDICTIVE, settings=settings)
    with pytest.raises(InvalidInput, match="at least one caller ID"):
        update_campaign(tx, SYSTEM, campaign.id, {"settings": {"caller_ids": []}}, now=NOW)
