"""The dispensing core's rules against in-memory ports: Get Record's answers, the retry after
a lease race or a deadlock, Done's wrap-up rules, Skip and Call's refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callhopper.clock import FrozenClock
from callhopper.core.dispensing import Delivery, Dispenser, NoRecord
from callhopper.domain.actors import Actor
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.campaigns import CampaignSettings, CampaignState, DialingMode
from callhopper.domain.contacts import ColumnSpec, ListSchema, PhoneColumnSpec
from callhopper.domain.dispensing import (
    Backlog,
    CallbackView,
    CampaignContext,
    Delivered,
    Lease,
    LeaseChange,
    LeaseRace,
    LeaseView,
)
from callhopper.domain.errors import Conflict, Contention, InvalidInput, NotFound
from callhopper.domain.records import CallbackStatus, RecordStatus
from callhopper.domain.rights import ALL_RIGHTS
from callhopper.domain.wrapup import DEFAULT_CODES

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
ZONE = "America/Phoenix"
ALICE = Actor(
    id=7, user_id="alice", email="alice@example.com", display_name="Alice", role="agent",
    rights=ALL_RIGHTS,
)  # fmt: skip
CAMPAIGN = CampaignContext(
    id=1,
    name="Collections",
    state=CampaignState.ON,
    mode=DialingMode.PREVIEW,
    list_id=1,
    pass_no=1,
    zones=(ZONE,),
    agent_owned_column=None,
    enforce_lead_ownership=False,
    schema=ListSchema(
        columns=(ColumnSpec(name="account"), ColumnSpec(name="phone")),
        phone_columns=(PhoneColumnSpec(column="phone"),),
        default_timezone=ZONE,
    ),
    settings=CampaignSettings(),
    window=CallingWindow(start="00:00", end="24:00"),
    ownership=OwnershipSettings(),
    codes={c.code: c for c in DEFAULT_CODES},
    has_rules=False,
    member=True,
    checks_dnc=False,
)


def leased(record_id: int, **changes: Any) -> LeaseView:
    view = LeaseView(
        status=RecordStatus.LEASED,
        lease_agent_id=ALICE.id,
        leased_at=T0,
        lease_expires_at=T0 + timedelta(minutes=30),
        accept_by=None,
        called_at=None,
        attempts=0,
        pending=None,
        handled_pass=None,
        last_code=None,
        last_at=None,
        tz=ZONE,
        data={"account": f"A{record_id}"},
        phones=["+16025550100"],
        callback=None,
    )
    return replace(view, **changes)


class MemoryClaims:
    """The claims of one campaign: records waiting to be claimed, in order."""

    def __init__(self, ctx: CampaignContext, waiting: Sequence[int] = ()) -> None:
        self.ctx = ctx
        self.waiting = list(waiting)
        self.held: dict[int, LeaseView] = {}
        self.backlog_value = Backlog(outside_window=0, next_retry_at=None)
        #: Claims to refuse (a concurrent one leased first).
        self.races = 0
        self.released: list[tuple[int, LeaseChange, int, str | None]] = []
        self.log: list[str] = []

    def context(self, campaign_id: int, agent_id: int | None) -> CampaignContext | None:
        return self.ctx if campaign_id == self.ctx.id else None

    def receive_and_held(self, campaign_id: int, agent_id: int, now: datetime) -> int | None:
        return next(iter(self.held), None)

    def renew(self, campaign_id: int, record_id: int, agent_id: int, until: datetime) -> None:
        self.log.append(f"renew {record_id}")

    def claim(self, ctx: CampaignContext, agent_id: int, **options: Any) -> int | None:
        assert options["zones"] == [ZONE]
        if self.races:
            self.races -= 1
            self.held[self.waiting.pop(0)] = leased(0)  # the other Get Record's
            raise LeaseRace("a concurrent Get Record leased first")
        if not self.waiting:
            return None
        record_id = self.waiting.pop(0)
        self.held[record_id] = leased(record_id)
        self.log.append(f"claim {record_id}")
        return record_id

    def delivered(self, campaign_id: int, record_id: int) -> Delivered | None:
        lease = self.held.get(record_id)
        return Delivered(lease, []) if lease is not None else None

    def backlog(
        self, campaign_id: int, owner_id: int | None, zones: list[str], now: datetime
    ) -> Backlog:
        return self.backlog_value

    def held_elsewhere(self, ctx: CampaignContext, agent_id: int, now: datetime) -> None:
        return None  # no other campaign shares the list

    def lease(self, campaign_id: int, record_id: int, agent_id: int, *, lock: bool) -> Lease:
        view = self.lease_with_record(campaign_id, record_id, agent_id)
        assert view.leased_at is not None
        return Lease(
            record_id, None, view.leased_at, view.accept_by, view.called_at, view.handled_pass
        )

    def lease_with_record(self, campaign_id: int, record_id: int, agent_id: int) -> LeaseView:
        if record_id not in self.held:
            raise NotFound(f"record {record_id} is not delivered to you")
        return self.held[record_id]

    def release(
        self,
        campaign_id: int,
        record_id: int,
        agent_id: int,
        change: LeaseChange,
        *,
        attempts_added: int = 0,
        lead_status: str | None = None,
    ) -> None:
        del self.held[record_id]
        self.released.append((record_id, change, attempts_added, lead_status))

    def end_delivery(self, ctx: CampaignContext, record_id: int, agent_id: int, **_: Any) -> None:
        self.log.append(f"end {record_id}")

    def finish(
        self,
        ctx: CampaignContext,
        record_id: int,
        agent_id: int,
        change: LeaseChange,
        *,
        attempts_added: int,
        lead_status: str,
        **_: Any,
    ) -> None:
        self.release(
            ctx.id,
            record_id,
            agent_id,
            change,
            attempts_added=attempts_added,
            lead_status=lead_status,
        )
        self.end_delivery(ctx, record_id, agent_id)

    def close_assignment(self, campaign_id: int, record_id: int, **_: Any) -> None:
        self.log.append(f"close {record_id}")

    def complete_if_drained(self, campaign_id: int, now: datetime) -> bool:
        return False


class MemoryCallbacks:
    def __init__(self) -> None:
        self.marked: list[CallbackStatus] = []

    def mark(self, campaign_id: int, record_id: int, status: CallbackStatus, now: Any) -> None:
        self.marked.append(status)


class MemoryTransaction:
    def __init__(self, claims: MemoryClaims, callbacks: MemoryCallbacks) -> None:
        self.claims = claims
        self.callbacks = callbacks
        self.committed: list[Callable[[], None]] = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        self.committed.append(callback)


class MemoryUnitOfWork:
    """Transactions over one :class:`MemoryClaims`; ``contention`` write transactions are
    rolled back as a deadlock's victims would be (after their work, before the commit)."""

    def __init__(self, claims: MemoryClaims) -> None:
        self.claims = claims
        self.callbacks = MemoryCallbacks()
        self.contention = 0
        self.writes = 0

    @contextmanager
    def read(self) -> Iterator[MemoryTransaction]:
        yield MemoryTransaction(self.claims, self.callbacks)

    @contextmanager
    def write(self) -> Iterator[MemoryTransaction]:
        self.writes += 1
        saved = (dict(self.claims.held), list(self.claims.waiting), list(self.claims.released))
        tx = MemoryTransaction(self.claims, self.callbacks)
        yield tx
        if self.contention:
            self.contention -= 1
            self.claims.held, self.claims.waiting, self.claims.released = saved
            raise Contention("deadlock detected")
        for callback in tx.committed:
            callback()


def dispenser(
    ctx: CampaignContext = CAMPAIGN, waiting: Sequence[int] = ()
) -> tuple[Dispenser, MemoryUnitOfWork, list[int]]:
    uow = MemoryUnitOfWork(MemoryClaims(ctx, waiting))
    woken: list[int] = []
    return Dispenser(uow, FrozenClock(T0), on_work=woken.append), uow, woken  # type: ignore[arg-type]


def test_get_record_delivers_the_next_record_then_the_same_one_again() -> None:
    service, uow, _ = dispenser(waiting=[10, 11])
    first = service.get_record(ALICE, 1)
    assert isinstance(first, Delivery) and first.record_id == 10
    assert first.fields[0].value == "A10" and first.calling_window_open
    again = service.get_record(ALICE, 1)
    assert isinstance(again, Delivery) and again.record_id == 10
    assert uow.claims.log == ["claim 10", "renew 10"]


def test_get_record_in_a_campaign_not_running_or_pushed_claims_nothing() -> None:
    service, uow, woken = dispenser(replace(CAMPAIGN, state=CampaignState.STOPPING), [10])
    stopped = service.get_record(ALICE, 1)
    assert isinstance(stopped, NoRecord) and stopped.reason == "campaign_not_running"
    service, uow, woken = dispenser(replace(CAMPAIGN, mode=DialingMode.PUSH_PREVIEW), [10])
    pushed = service.get_record(ALICE, 1)
    assert isinstance(pushed, NoRecord) and pushed.reason == "pushed"
    assert "outbound_preview" in pushed.message
    assert woken == [1] and uow.claims.waiting == [10]


def test_get_record_outside_the_queue_is_404() -> None:
    service, _, _ = dispenser(replace(CAMPAIGN, member=False), [10])
    with pytest.raises(NotFound):
        service.get_record(ALICE, 1)


@pytest.mark.parametrize(
    ("backlog", "reason"),
    [
        (Backlog(outside_window=3, next_retry_at=None), "outside_calling_window"),
        (Backlog(outside_window=0, next_retry_at=T0 + timedelta(hours=1)), "waiting_for_retry"),
        (Backlog(outside_window=0, next_retry_at=None), "list_exhausted"),
    ],
)
def test_why_nothing_was_delivered(backlog: Backlog, reason: str) -> None:
    service, uow, _ = dispenser()
    uow.claims.backlog_value = backlog
    result = service.get_record(ALICE, 1)
    assert isinstance(result, NoRecord) and result.reason == reason
    assert result.next_retry_at == backlog.next_retry_at


def test_a_lost_lease_race_answers_with_the_record_the_other_get_record_leased() -> None:
    service, uow, _ = dispenser(waiting=[10, 11])
    uow.claims.races = 1
    result = service.get_record(ALICE, 1)
    assert isinstance(result, Delivery) and result.record_id == 10
    assert uow.claims.waiting == [11]


def test_a_second_lost_lease_race_is_an_error() -> None:
    service, uow, _ = dispenser(waiting=[10, 11, 12])
    uow.claims.races = 2
    # The other Get Record's lease is not found again (it was given back meanwhile).
    uow.claims.receive_and_held = lambda *_: None  # type: ignore[method-assign]
    with pytest.raises(LeaseRace):
        service.get_record(ALICE, 1)


def test_done_after_a_deadlock_runs_once_more_and_only_once() -> None:
    service, uow, woken = dispenser(waiting=[10])
    service.get_record(ALICE, 1)
    uow.contention = 1
    service.done(ALICE, 1, 10, code="sale")
    assert uow.writes == 3  # Get Record, the victim, the Done that committed
    assert [(r, c["status"]) for r, c, _, _ in uow.claims.released] == [(10, RecordStatus.FINAL)]
    assert woken == [1]
    uow.claims.held[11] = leased(11)
    uow.contention = 2
    with pytest.raises(Contention):
        service.done(ALICE, 1, 11, code="sale")


def test_done_applies_the_code_as_the_wrapup_says() -> None:
    service, uow, _ = dispenser(waiting=[10])
    service.get_record(ALICE, 1)
    uow.claims.held[10] = leased(10, pending={"code": "no_answer", "note": "", "fields": {}})
    service.done(ALICE, 1, 10)
    ((record_id, change, attempts, lead_status),) = uow.claims.released
    assert (record_id, change["status"], attempts, lead_status) == (
        10,
        RecordStatus.WAITING,
        0,
        "no_answer",
    )
    assert change["retry_at"] == T0 + timedelta(minutes=60)


def test_done_refuses_a_missing_or_unknown_code() -> None:
    service, uow, _ = dispenser(waiting=[10])
    service.get_record(ALICE, 1)
    with pytest.raises(InvalidInput, match="choose a wrap-up code"):
        service.done(ALICE, 1, 10)
    with pytest.raises(InvalidInput, match="not a wrap-up code"):
        service.done(ALICE, 1, 10, code="maybe")
    assert uow.claims.released == []


def test_a_scheduled_callback_keeps_the_record_for_its_agent_and_forbids_a_final_code() -> None:
    service, uow, _ = dispenser(waiting=[10])
    service.get_record(ALICE, 1)
    due = T0 + timedelta(days=1)
    callback = CallbackView("personal", CallbackStatus.SCHEDULED, due, None, "", ALICE.id)
    uow.claims.held[10] = leased(10, callback=callback)
    with pytest.raises(InvalidInput, match="a callback is scheduled"):
        service.done(ALICE, 1, 10, code="sale")
    service.done(ALICE, 1, 10, code="no_answer")
    ((_, change, _, _),) = uow.claims.released
    assert (change["status"], change["retry_at"], change["reserved_for"]) == (
        RecordStatus.WAITING,
        due,
        ALICE.id,
    )


def test_the_delivered_callback_is_done_with_the_record() -> None:
    service, uow, _ = dispenser(waiting=[10])
    service.get_record(ALICE, 1)
    callback = CallbackView("any", CallbackStatus.DELIVERED, T0, None, "", None)
    uow.claims.held[10] = leased(10, callback=callback)
    service.done(ALICE, 1, 10, code="sale")
    assert uow.callbacks.marked == [CallbackStatus.DONE]
    assert uow.claims.released[0][1]["status"] is RecordStatus.FINAL


def test_skip_is_refused_where_not_allowed_and_after_a_call() -> None:
    no_skip = replace(CAMPAIGN, settings=CampaignSettings(allow_skip=False))
    service, uow, _ = dispenser(no_skip, waiting=[10])
    service.get_record(ALICE, 1)
    with pytest.raises(Conflict, match="does not allow skipping"):
        service.skip(ALICE, 1, 10)
    service, uow, _ = dispenser(waiting=[10])
    service.get_record(ALICE, 1)
    uow.claims.held[10] = leased(10, called_at=T0 + timedelta(seconds=5))
    with pytest.raises(Conflict) as refused:
        service.skip(ALICE, 1, 10)
    assert refused.value.code == "wrapup_required"
    uow.claims.held[10] = leased(10)
    service.skip(ALICE, 1, 10)
    ((_, change, _, _),) = uow.claims.released
    assert change == LeaseChange(status=RecordStatus.WAITING, retry_at=None, handled_pass=1)
