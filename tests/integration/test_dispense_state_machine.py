"""A stateful property test of the dispensing core against the real store (one agent per record,
owned records to their owner only, every change applied whole).

A Hypothesis ``RuleBasedStateMachine`` drives random sequences of agent and
supervisor operations against an agent-owned preview campaign — Get Record,
wrap-up, Done with every default code, Skip, Decline, keepalive, logout, lease
expiry, recycle, owner values edited mid-run, queue membership changes, time
passing — and keeps its own model of the campaign: each record's status, owner
snapshot (taken at start and at each recycle), lease holder, lease
expiry, retry time, attempts and pending wrap-up. After every step the
``campaign_records`` rows must equal the model, so that:

1. no record is leased to two agents, no agent holds two records of the
   campaign, the leases the database has are exactly those the model has, and
   the contact record is marked out with the campaign (what keeps other
   campaigns on the list off it) exactly while a lease is live;
2. every record Get Record returns to agent X has X as its owner snapshot,
   and an owner value changed mid-run reaches the new owner only after a
   recycle (until then it stays with the old one);
6. every record of the list is in the campaign exactly once and in exactly one
   status; Get Record finds something whenever the model has a record that is
   the agent's and due (no record lost), an expired lease goes back to the next
   claim of its owner, and a sweep (recycle, then every agent takes all theirs)
   delivers exactly the records that are neither final nor in error.

The world is built once per database (users) and once per example (list,
queue, campaign, each under a fresh name in the same database), so an example
costs a handful of inserts rather than a new database.

Two recycle bugs this machine found (a lease kept when its owner value came to
name nobody; a revoked lease's pending wrap-up shown to the next agent) are
replayed by hand, as minimal examples, by the tests at the end.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from callhopper.clock import FrozenClock
from callhopper.core.campaigns import change_state
from callhopper.core.dispensing import Delivery, Dispenser, NoRecord
from callhopper.core.queues import QueueService
from callhopper.domain.actors import SYSTEM, Actor
from callhopper.domain.campaigns import DEFAULT_SKIP_REINSERT_DELAY_S, CampaignAction
from callhopper.domain.errors import InvalidInput, NotFound
from callhopper.domain.wrapup import DEFAULT_CODES, WrapupCodeSpec
from callhopper.store.db import Database
from callhopper.store.models import CampaignRecord, Record, User
from callhopper.store.records import record_data_update
from callhopper.store.uow import SqlTransaction, SqlUnitOfWork
from callhopper.store.users import actor_of
from tests.campaign_helpers import agents, make_campaign, make_list, make_queue, owned_rows, start
from tests.support import MakeUser, Person

LEASE_TIMEOUT_S = 60
LEASE = timedelta(seconds=LEASE_TIMEOUT_S)
#: How long a skip reinserted at the back stays away (the campaign's default).
SKIP_AWAY = timedelta(seconds=DEFAULT_SKIP_REINSERT_DELAY_S)

#: alice, bob and carol are in the campaign's queue at start; dave is not.
AGENT_NAMES = ("alice", "bob", "carol", "dave")
QUEUE_AT_START = ("alice", "bob", "carol")

#: The owner column at start (permuted per example): emails in mixed case and user ids,
#: one owner outside the queue and one email that names nobody.
START_OWNERS = (
    "alice@example.com",
    "ALICE@Example.COM",
    "bob",
    "Bob@example.com",
    "carol",
    "carol@EXAMPLE.com",
    "dave@example.com",
    "nobody@example.com",
)
#: Owner values written mid-run that name a user (dave may or may not be in the queue).
NAMING_VALUES = (
    "alice@example.com",
    "ALICE@Example.COM",
    "alice",
    "Bob@example.com",
    "bob",
    "carol@EXAMPLE.com",
    "carol",
    "DAVE@example.com",
    "dave",
)
#: Owner values that name nobody: an unknown email, an unknown user id, an empty value.
NAMELESS_VALUES = ("nobody@example.com", "zed", "")

CODES: dict[str, WrapupCodeSpec] = {c.code: c for c in DEFAULT_CODES}
ADVANCES_MIN = (1, 11, 61, 241, 24 * 60 + 1)

_names = itertools.count(1)


@dataclass(frozen=True)
class AgentInfo:
    name: str
    id: int
    person: Person
    actor: Actor


@dataclass(frozen=True)
class World:
    """What every example shares: the database, the clock, an admin client and the agents."""

    db: Database
    clock: FrozenClock
    api: TestClient
    agents: dict[str, AgentInfo]

    @property
    def by_id(self) -> dict[int, AgentInfo]:
        return {a.id: a for a in self.agents.values()}


@dataclass
class Row:
    """The model of one record of the campaign."""

    value: str  # the owner column in the list now
    owner: int | None  # owner snapshot (as of the last start or recycle)
    error: str | None  # why the snapshot makes it undeliverable
    status: str = "ready"
    holder: int | None = None
    lease_until: datetime | None = None
    retry_at: datetime | None = None
    attempts: int = 0
    pending: str | None = None  # the wrap-up code chosen on the current lease


class DispenseMachine(RuleBasedStateMachine):
    """One example: a fresh agent-owned preview campaign, random operations on it, and the
    model the database must match after each of them."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.dispenser = Dispenser(SqlUnitOfWork(world.db), world.clock)
        self.campaign_id = 0
        self.queue_id = 0
        self.record_ids: list[int] = []
        self.rows: dict[int, Row] = {}
        self.members: set[int] = set()
        self.reinsert_skipped = False
        self.swept = False

    # --- world ---------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.world.db.write() as session:
            yield session

    def agent(self, name: str) -> AgentInfo:
        return self.world.agents[name]

    def name_of(self, agent_id: int | None) -> str:
        return self.world.by_id[agent_id].name if agent_id in self.world.by_id else str(agent_id)

    @initialize(owners=st.permutations(START_OWNERS), reinsert_skipped=st.booleans())
    def build(self, owners: list[str], reinsert_skipped: bool) -> None:
        n = next(_names)
        api = self.world.api
        list_id = make_list(api, owned_rows(list(owners)), name=f"SM list {n}")
        members = [self.agent(a) for a in QUEUE_AT_START]
        self.queue_id = make_queue(api, [m.person for m in members], name=f"SM queue {n}")
        self.members = {m.id for m in members}
        self.reinsert_skipped = reinsert_skipped
        self.campaign_id = make_campaign(
            api,
            list_id,
            self.queue_id,
            name=f"SM campaign {n}",
            sort=[{"column": "balance"}],
            settings={"lease_timeout_s": LEASE_TIMEOUT_S, "reinsert_skipped": reinsert_skipped},
        )
        start(api, self.campaign_id)
        with self.world.db.read() as session:
            records = session.execute(
                select(Record.id, Record.data).where(Record.list_id == list_id).order_by(Record.id)
            ).all()
        self.record_ids = [r for r, _ in records]
        for record_id, data in records:
            owner, error = self.resolve(data.get("agent", ""))
            self.rows[record_id] = Row(
                value=data.get("agent", ""),
                owner=owner,
                error=error,
                status="error" if error else "ready",
            )

    # --- the model ------------------------------------------------------------------------------

    def resolve(self, value: str) -> tuple[int | None, str | None]:
        """An owner value is an email in any case, or a user id; the user must be in the queue."""
        text = value.strip()
        if not text:
            return None, "missing_value"
        agents_ = self.world.agents.values()
        if "@" in text:
            match = [a for a in agents_ if a.person.email.lower() == text.lower()]
            missing = "invalid_email"
        else:
            match = [a for a in agents_ if a.person.user_id == text]
            missing = "unknown_user_id"
        if not match:
            return None, missing
        if match[0].id not in self.members:
            return match[0].id, "not_in_queue"
        return match[0].id, None

    def held_by(self, agent_id: int) -> int | None:
        held = [
            r for r, row in self.rows.items() if row.status == "leased" and row.holder == agent_id
        ]
        assert len(held) <= 1, f"model: agent {agent_id} holds {held}"
        return held[0] if held else None

    def deliverable(self, agent_id: int) -> list[int]:
        """The records Get Record may give the agent now (theirs, and due)."""
        now = self.now
        result = []
        for record_id, row in self.rows.items():
            if row.owner != agent_id or row.error is not None:
                continue
            away = row.retry_at is not None and row.retry_at > now  # a reinserted skip
            if (
                (row.status == "ready" and not away)
                or (row.status == "waiting" and row.retry_at is not None and row.retry_at <= now)
                or (
                    row.status == "leased"
                    and row.lease_until is not None
                    and row.lease_until <= now
                    and not away
                )
            ):
                result.append(record_id)
        return result

    def release(self, record_id: int, status: str, **values: Any) -> None:
        row = self.rows[record_id]
        row.status = status
        row.holder = None
        row.lease_until = None
        row.pending = None
        for key, value in values.items():
            setattr(row, key, value)

    def take_snapshot(self) -> None:
        """Start/recycle: owners re-resolved against the queue now, records
        not final start the pass again; a lease stays only with an agent who still owns the
        record, any other lease goes back (its pending wrap-up with it)."""
        for record_id, row in self.rows.items():
            row.owner, row.error = self.resolve(row.value)
            if row.status == "final":
                row.error = None
            elif not (row.status == "leased" and row.error is None and row.owner == row.holder):
                self.release(record_id, "error" if row.error else "ready", retry_at=None)

    def pick_record(self, pick: int) -> int:
        return self.record_ids[pick % len(self.record_ids)]

    # --- operations with their expected outcome --------------------------------------------------

    def claim(self, name: str) -> int | None:
        """Get Record by ``name``, checked against the model; the record delivered, if any."""
        agent = self.agent(name)
        if agent.id not in self.members:
            with pytest.raises(NotFound):
                self.dispenser.get_record(agent.actor, self.campaign_id)
            return None
        held = self.held_by(agent.id)
        eligible = self.deliverable(agent.id)
        result = self.dispenser.get_record(agent.actor, self.campaign_id)
        now = self.now
        if held is not None:  # even a lapsed lease: nobody else could have taken it
            assert isinstance(result, Delivery) and result.record_id == held, (
                f"{name} holds record {held} but Get Record answered {result!r}"
            )
            self.rows[held].lease_until = now + LEASE
            assert result.lease_expires_at == now + LEASE
            return held
        if not eligible:
            assert isinstance(result, NoRecord), (
                f"record {getattr(result, 'record_id', None)} delivered to {name}, who owns "
                f"nothing deliverable: model {self.rows.get(getattr(result, 'record_id', 0))}"
            )
            later = [
                row.retry_at
                for row in self.rows.values()
                if row.owner == agent.id
                and row.status in ("waiting", "ready")
                and row.retry_at is not None
                and row.retry_at > now
            ]
            if later:
                assert (result.reason, result.next_retry_at) == ("waiting_for_retry", min(later))
            else:
                assert result.reason == "list_exhausted", result
            return None
        assert isinstance(result, Delivery), (
            f"{name} got nothing ({result!r}) though records {eligible} are theirs and due"
        )
        record_id = result.record_id
        row = self.rows.get(record_id)
        # Invariant 2: only to the owner of the last snapshot, never to a new owner value.
        assert record_id in eligible, (
            f"record {record_id} delivered to {name}: model says owner snapshot "
            f"{self.name_of(row.owner) if row else '?'}, {row}"
        )
        due = {r: self.rows[r].retry_at for r in eligible if self.rows[r].status == "waiting"}
        if due:  # a retry whose time has come goes first, oldest first
            assert due.get(record_id) == min(d for d in due.values() if d is not None), (
                f"record {record_id} delivered before due retries {due}"
            )
        assert result.lease_expires_at == now + LEASE
        row = self.rows[record_id]
        row.status = "leased"
        row.holder = agent.id
        row.lease_until = now + LEASE
        row.pending = None
        return record_id

    def done(self, name: str, record_id: int, code: str | None) -> None:
        agent = self.agent(name)
        row = self.rows[record_id]
        chosen = code or row.pending
        self.dispenser.done(agent.actor, self.campaign_id, record_id, code=code)
        assert chosen is not None
        spec = CODES[chosen]
        retry = (
            self.now + timedelta(minutes=spec.retry_after_minutes)
            if spec.retry_after_minutes is not None and not spec.final
            else None
        )
        self.release(
            record_id,
            "final" if spec.final else "waiting",
            retry_at=retry,
            attempts=row.attempts + (1 if spec.counts_as_attempt else 0),
        )

    def holders(self) -> list[str]:
        return sorted(
            self.name_of(row.holder) for row in self.rows.values() if row.status == "leased"
        )

    def holder(self, who: int) -> tuple[AgentInfo, int]:
        """One of the agents holding a record, and the record."""
        holders = self.holders()
        agent = self.agent(holders[who % len(holders)])
        record_id = self.held_by(agent.id)
        assert record_id is not None
        return agent, record_id

    def recycle(self) -> None:
        with self.write() as session:
            change_state(
                SqlTransaction(session),
                SYSTEM,
                self.campaign_id,
                CampaignAction.RECYCLE,
                now=self.now,
            )
        self.take_snapshot()

    # --- rules ----------------------------------------------------------------------------------

    @rule(names=st.lists(st.sampled_from(AGENT_NAMES), min_size=1, max_size=4))
    def get_record(self, names: list[str]) -> None:
        """Get Record by one agent or several in turn."""
        for name in names:
            self.claim(name)

    @rule(name=st.sampled_from(AGENT_NAMES), code=st.sampled_from(sorted(CODES)))
    def work_a_record(self, name: str, code: str) -> None:
        """An agent's usual loop: Get Record, then Done with a code."""
        record_id = self.claim(name)
        if record_id is not None:
            self.done(name, record_id, code)

    @precondition(lambda self: self.holders())
    @rule(who=st.integers(0, 3), code=st.none() | st.sampled_from(sorted(CODES)))
    def done_with_code(self, who: int, code: str | None) -> None:
        """Done with a code, or with the wrap-up chosen before (refused if there is none)."""
        agent, record_id = self.holder(who)
        if code is None and self.rows[record_id].pending is None:
            with pytest.raises(InvalidInput):
                self.dispenser.done(agent.actor, self.campaign_id, record_id)
            return
        self.done(agent.name, record_id, code)

    @precondition(lambda self: self.holders())
    @rule(who=st.integers(0, 3), code=st.sampled_from(sorted(CODES)))
    def choose_wrapup(self, who: int, code: str) -> None:
        agent, record_id = self.holder(who)
        self.dispenser.wrapup(
            agent.actor, self.campaign_id, record_id, code=code, note=f"by {agent.name}"
        )
        self.rows[record_id].pending = code
        self.rows[record_id].lease_until = self.now + LEASE

    @precondition(lambda self: self.holders())
    @rule(who=st.integers(0, 3))
    def skip(self, who: int) -> None:
        agent, record_id = self.holder(who)
        self.dispenser.skip(agent.actor, self.campaign_id, record_id)
        if self.reinsert_skipped:  # to the back of the order, away for the delay
            self.release(record_id, "ready", retry_at=self.now + SKIP_AWAY)
        else:  # to the next pass
            self.release(record_id, "waiting", retry_at=None)

    @precondition(lambda self: self.holders())
    @rule(who=st.integers(0, 3), action=st.sampled_from(["call_later", "do_not_call"]))
    def decline(self, who: int, action: str) -> None:
        agent, record_id = self.holder(who)
        self.dispenser.decline(agent.actor, self.campaign_id, record_id, action)
        if action == "call_later":
            self.release(record_id, "ready")
        else:
            self.release(record_id, "final", retry_at=None)

    @precondition(lambda self: self.holders())
    @rule(who=st.integers(0, 3))
    def keepalive(self, who: int) -> None:
        agent, record_id = self.holder(who)
        until = self.dispenser.keepalive(agent.actor, self.campaign_id, record_id)
        assert until == self.now + LEASE
        self.rows[record_id].lease_until = until

    @rule(
        name=st.sampled_from(AGENT_NAMES),
        pick=st.integers(0, 7),
        action=st.sampled_from(["done", "wrapup", "skip", "decline", "keepalive"]),
        someone_elses=st.booleans(),
    )
    def act_on_a_record_not_held(
        self, name: str, pick: int, action: str, someone_elses: bool
    ) -> None:
        """Acting on a record one does not hold (another agent's, or nobody's) is refused
        and changes nothing."""
        agent = self.agent(name)
        others = sorted(
            r for r, row in self.rows.items() if row.status == "leased" and row.holder != agent.id
        )
        if someone_elses and others:
            record_id = others[pick % len(others)]
        else:
            record_id = self.pick_record(pick)
            if self.rows[record_id].holder == agent.id:
                record_id = self.pick_record(pick + 1)
        d, c = self.dispenser, self.campaign_id
        calls: dict[str, Callable[[], object]] = {
            "done": lambda: d.done(agent.actor, c, record_id, code="no_answer"),
            "wrapup": lambda: d.wrapup(agent.actor, c, record_id, code="no_answer"),
            "skip": lambda: d.skip(agent.actor, c, record_id),
            "decline": lambda: d.decline(agent.actor, c, record_id, "call_later"),
            "keepalive": lambda: d.keepalive(agent.actor, c, record_id),
        }
        with pytest.raises(NotFound):
            calls[action]()

    @rule(name=st.sampled_from(AGENT_NAMES))
    def logout(self, name: str) -> None:
        agent = self.agent(name)
        if agent.id not in self.members:
            # Leaving needs queue membership, like Get Record (the lease stays until
            # it is finished, or revoked by the next recycle).
            with pytest.raises(NotFound):
                self.dispenser.logout(agent.actor, self.campaign_id)
            return
        self.dispenser.logout(agent.actor, self.campaign_id)
        held = self.held_by(agent.id)
        if held is not None:
            self.release(held, "ready")

    @rule(pick=st.integers(0, 3), other=st.sampled_from(AGENT_NAMES))
    def lease_expires(self, pick: int, other: str) -> None:
        """Time passes beyond the lease timeout; other agents cannot take the lapsed lease,
        and the next claim of its owner gets it back."""
        self.world.clock.advance(LEASE + timedelta(seconds=1))
        holders = self.holders()
        if not holders:
            self.claim(other)
            return
        owner = holders[pick % len(holders)]
        if other != owner:
            self.claim(other)
        record_id = self.held_by(self.agent(owner).id)
        if self.agent(owner).id in self.members:
            assert self.claim(owner) == record_id

    @rule(minutes=st.sampled_from(ADVANCES_MIN))
    def time_passes(self, minutes: int) -> None:
        self.world.clock.advance(timedelta(minutes=minutes))

    def retries(self) -> list[tuple[datetime, int]]:
        """Retries whose owner could take them now (in the queue, holding nothing)."""
        return sorted(
            (row.retry_at, r)
            for r, row in self.rows.items()
            if row.status == "waiting"
            and row.retry_at is not None
            and row.owner in self.members
            and self.held_by(row.owner) is None
        )

    @precondition(lambda self: self.retries())
    @rule(pick=st.integers(0, 7))
    def a_retry_comes_due(self, pick: int) -> None:
        """Time runs to the very minute a retry is due; its owner's next Get Record gets a
        due retry, before any record of the pass."""
        retries = self.retries()
        retry_at, record_id = retries[pick % len(retries)]
        if retry_at > self.now:
            self.world.clock.advance(retry_at - self.now)
        owner = self.rows[record_id].owner
        assert owner is not None
        assert self.claim(self.name_of(owner)) is not None

    @rule()
    def recycle_campaign(self) -> None:
        self.recycle()

    def set_owner_value(self, record_id: int, value: str) -> None:
        """Edit the record's owner column in the list (the snapshot does not change)."""
        with self.write() as session:
            record_data_update(session, record_id, {"agent": value}, self.now)
        self.rows[record_id].value = value

    def change_queue(self, name: str, *, join: bool) -> None:
        agent = self.agent(name)
        queues = QueueService(SqlUnitOfWork(self.world.db), self.world.clock)
        if join:
            queues.add_members(SYSTEM, self.queue_id, [agent.person.user_id])
            self.members.add(agent.id)
        else:
            queues.remove_members(SYSTEM, self.queue_id, [agent.person.user_id])
            self.members.discard(agent.id)

    def owner_values(self) -> st.SearchStrategy[str]:
        return st.sampled_from(NAMING_VALUES + NAMELESS_VALUES)

    @rule(pick=st.integers(0, 7), data=st.data())
    def change_owner_value(self, pick: int, data: st.DataObject) -> None:
        """The owner column of a record is edited in the list: honoured at the next recycle."""
        self.set_owner_value(self.pick_record(pick), data.draw(self.owner_values()))

    @precondition(lambda self: self.holders())
    @rule(who=st.integers(0, 3), then_recycle=st.booleans(), data=st.data())
    def change_owner_value_of_a_leased_record(
        self, who: int, then_recycle: bool, data: st.DataObject
    ) -> None:
        """The same, on a record out with an agent (who keeps it until the recycle)."""
        _, record_id = self.holder(who)
        self.set_owner_value(record_id, data.draw(self.owner_values()))
        if then_recycle:
            self.recycle()

    @rule(name=st.sampled_from(AGENT_NAMES), join=st.booleans(), then_recycle=st.booleans())
    def change_queue_membership(self, name: str, join: bool, then_recycle: bool) -> None:
        """An agent joins or leaves the queue: owners are re-resolved at the next recycle;
        Get Record and logout check membership at once."""
        self.change_queue(name, join=join)
        if then_recycle:
            self.recycle()

    @precondition(lambda self: not self.swept)
    @rule()
    def sweep(self) -> None:
        """No record lost: after a recycle every agent takes all of theirs, which are
        exactly the records neither final nor in error; a second recycle restores them."""
        self.swept = True
        self.recycle()
        expected = {r for r, row in self.rows.items() if row.status not in ("final", "error")}
        got: set[int] = set()
        for name in AGENT_NAMES:
            if self.agent(name).id not in self.members:
                continue
            for _ in range(len(self.rows) + 1):
                record_id = self.claim(name)
                if record_id is None:
                    break
                assert record_id not in got, f"record {record_id} delivered twice in one pass"
                got.add(record_id)
                self.done(name, record_id, "callback")
        assert got == expected, f"sweep delivered {sorted(got)}, expected {sorted(expected)}"
        self.recycle()

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def database_matches_model(self) -> None:
        if not self.campaign_id:
            return
        cr = CampaignRecord
        with self.world.db.read() as session:
            rows = session.execute(
                select(
                    cr.record_id,
                    cr.status,
                    cr.agent_id,
                    cr.error,
                    cr.lease_agent_id,
                    cr.lease_expires_at,
                    cr.retry_at,
                    cr.attempts,
                    cr.pending,
                ).where(cr.campaign_id == self.campaign_id)
            ).all()
            out = {
                r.id: (r.out_campaign_id, r.out_until)
                for r in session.execute(
                    select(Record.id, Record.out_campaign_id, Record.out_until).where(
                        Record.id.in_(self.record_ids)
                    )
                )
            }
        # 6: every record of the list exactly once.
        ids = Counter(r.record_id for r in rows)
        assert sorted(ids.elements()) == sorted(self.rows), (
            f"campaign records {sorted(ids.elements())} != list records {sorted(self.rows)}"
        )
        # 1: one record per agent at a time, and the leases are those of the model.
        leases = Counter(r.lease_agent_id for r in rows if r.status == "leased")
        assert all(n == 1 for n in leases.values()), f"an agent holds two records: {leases}"
        db_leases = {r.record_id: r.lease_agent_id for r in rows if r.status == "leased"}
        model_leases = {r: row.holder for r, row in self.rows.items() if row.status == "leased"}
        problems = []
        if db_leases != model_leases:
            problems.append(f"leases {db_leases} != model {model_leases}")
        for r in rows:
            row = self.rows[r.record_id]
            got: dict[str, Any] = {"status": r.status, "owner": r.agent_id, "error": r.error}
            want: dict[str, Any] = {"status": row.status, "owner": row.owner, "error": None}
            if row.status == "error":
                want["error"] = row.error
            # 2: a lease is only ever held by the record's owner snapshot.
            if r.status == "leased":
                got["holder_is_owner"] = r.lease_agent_id == r.agent_id
                want["holder_is_owner"] = True
                got["lease_until"] = r.lease_expires_at
                want["lease_until"] = row.lease_until
                got["pending"] = (r.pending or {}).get("code")
                want["pending"] = row.pending
            else:
                got["pending"] = r.pending
                want["pending"] = None
            if r.status == "waiting":
                got["retry_at"] = r.retry_at
                want["retry_at"] = row.retry_at
            got["attempts"] = r.attempts
            want["attempts"] = row.attempts
            # 1 across campaigns: the contact is out with this campaign (other campaigns on
            # the list keep off it) exactly while one of its agents holds a live lease.
            out_campaign, out_until = out[r.record_id]
            got["out_here"] = out_campaign == self.campaign_id and (
                out_until is not None and out_until > self.now
            )
            want["out_here"] = row.lease_until is not None and row.lease_until > self.now
            if want["out_here"]:
                got["out_until_covers_lease"] = out_until is not None and (
                    row.lease_until is not None and out_until >= row.lease_until
                )
                want["out_until_covers_lease"] = True
            if got != want:
                diff = {k: (got[k], want[k]) for k in got if got[k] != want.get(k)}
                problems.append(f"record {r.record_id} (db, model): {diff}")
        assert not problems, "database and model differ:\n" + "\n".join(problems)


def _world(api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser) -> World:
    people = agents(make_user, *AGENT_NAMES)
    infos = {}
    with db.read() as session:
        for name, person in zip(AGENT_NAMES, people, strict=True):
            user = session.scalar(select(User).where(User.user_id == person.user_id))
            assert user is not None
            infos[name] = AgentInfo(name, user.id, person, actor_of(session, user))
    return World(db, clock, api, infos)


#: Every example builds a fresh list, queue and campaign in the same database.
SETTINGS = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_dispensing_keeps_invariants(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    world = _world(api, db, clock, make_user)

    class Machine(DispenseMachine):  # Hypothesis builds machines without arguments
        def __init__(self) -> None:
            super().__init__(world)

    run_state_machine_as_test(Machine, settings=SETTINGS)


def _machine(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> DispenseMachine:
    """A machine driven by hand: the world of an example in its start order."""
    machine = DispenseMachine(_world(api, db, clock, make_user))
    machine.build(owners=list(START_OWNERS), reinsert_skipped=False)
    machine.database_matches_model()
    return machine


def test_recycle_takes_back_a_lease_whose_owner_value_names_nobody(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    """The minimal example Hypothesis found: alice holds her record, its owner value is
    changed to an email that names nobody, the campaign is recycled."""
    machine = _machine(api, db, clock, make_user)
    record_id = machine.claim("alice")
    assert record_id is not None
    machine.set_owner_value(record_id, "nobody@example.com")
    machine.recycle()
    machine.database_matches_model()


def test_recycle_drops_the_pending_wrapup_of_a_lease_it_takes_back(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    """Alice chooses a wrap-up but does not finish; her record is given to bob and the
    campaign recycled: bob must not be shown (nor Done with) alice's choice."""
    machine = _machine(api, db, clock, make_user)
    record_id = machine.claim("alice")
    assert record_id is not None
    machine.choose_wrapup(0, "sale")  # alice, the only holder
    machine.set_owner_value(record_id, "bob")
    machine.recycle()
    machine.database_matches_model()
