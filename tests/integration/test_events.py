"""The event buses send an event only once its transaction has committed, once in each
process."""

from __future__ import annotations

import asyncio
import queue
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from callhopper.domain.events import AgentEvent, HeldPush
from callhopper.events import LocalBus, PostgresBus
from callhopper.services import event_bus
from callhopper.store.db import Database
from callhopper.store.uow import SqlTransaction


def bus_and_seen() -> tuple[LocalBus, list[AgentEvent]]:
    bus = LocalBus()
    seen: list[AgentEvent] = []
    bus.add_listener(seen.append)
    return bus, seen


def test_an_event_waits_for_the_commit_not_for_a_savepoint(db: Database) -> None:
    bus, seen = bus_and_seen()
    first, second = AgentEvent(1, "delivery", 7, 100), AgentEvent(2, "delivery", 7, 101)
    with db.write() as session:
        session.execute(text("SELECT 1"))
        bus.publish(first, SqlTransaction(session))
        # A savepoint released later (the pusher takes one per agent) is not the commit.
        with session.begin_nested():
            session.execute(text("SELECT 1"))
        assert seen == []
        bus.publish(second, SqlTransaction(session))
        with session.begin_nested():
            session.execute(text("SELECT 1"))
        assert seen == []
    assert seen == [first, second]
    with db.write() as session:  # the same events are not sent again
        session.execute(text("SELECT 1"))
    assert seen == [first, second]


def test_an_event_of_a_rolled_back_transaction_is_never_sent(db: Database) -> None:
    bus, seen = bus_and_seen()
    with pytest.raises(RuntimeError), db.write() as session:
        session.execute(text("SELECT 1"))
        bus.publish(AgentEvent(1, "delivery", 7, 100), SqlTransaction(session))
        raise RuntimeError("the wrap-up failed")
    later = AgentEvent(1, "state")
    with db.write() as session:
        session.execute(text("SELECT 1"))
        bus.publish(later, SqlTransaction(session))
    assert seen == [later]


def test_an_event_without_a_session_is_sent_at_once() -> None:
    bus, seen = bus_and_seen()
    bus.publish(AgentEvent(3, "state"))
    assert seen == [AgentEvent(3, "state")]


def test_postgres_bus_dispatches_its_own_events_at_commit_and_others_on_arrival(
    db: Database,
) -> None:
    """Two buses on one PostgreSQL database stand for two server processes: each dispatches
    its own event once, at the commit, and the other's when the notification arrives."""
    if db.dialect != "postgresql":
        pytest.skip("events cross processes through PostgreSQL only")
    here, there = event_bus(db), event_bus(db)
    assert isinstance(here, PostgresBus) and isinstance(there, PostgresBus)
    seen_here: queue.Queue[AgentEvent] = queue.Queue()
    seen_there: queue.Queue[AgentEvent] = queue.Queue()
    here.add_listener(seen_here.put)
    there.add_listener(seen_there.put)
    here.start()
    there.start()
    try:
        # The snapshot (what the publishing transaction read) stays in this process: it is
        # no part of the notification, which could not carry it (not JSON, maybe too long).
        snapshot = object()
        event = AgentEvent(1, "delivery", 7, 100, extra={"resumed": False}, snapshot=snapshot)
        with db.write() as session:
            session.execute(text("SELECT 1"))
            here.publish(event, SqlTransaction(session))
            assert seen_here.empty() and seen_there.empty()
        assert seen_here.get_nowait().snapshot is snapshot  # no wait for the notification
        arrived = seen_there.get(timeout=10)
        assert arrived == event and arrived.snapshot is None
        with pytest.raises(queue.Empty):  # its own notification is not dispatched again
            seen_here.get(timeout=1)
        outside = AgentEvent(2, "state")
        there.publish(outside)
        assert seen_there.get_nowait() == outside
        assert seen_here.get(timeout=10) == outside

        # A rolled-back transaction notifies nobody; a committed burst arrives whole, in order.
        with pytest.raises(RuntimeError), db.write() as session:
            here.publish(AgentEvent(3, "delivery", 7, 999), SqlTransaction(session))
            raise RuntimeError("rolled back")
        burst = [AgentEvent(4, "delivery", 7, 200 + n) for n in range(50)]
        with db.write() as session:
            for item in burst:
                here.publish(item, SqlTransaction(session))
        assert [seen_there.get(timeout=10) for _ in burst] == burst
        with pytest.raises(queue.Empty):
            seen_there.get(timeout=1)
    finally:
        here.stop()
        there.stop()


def test_a_held_push_never_sent_is_resent_once_and_only_to_agents_connected_here() -> None:
    """The listening thread's check (ADR 8), without a database: what the bus sent, or a
    channel resumed, is not sent again; a push too young may still be on its way."""
    bus = PostgresBus("postgresql://unused")  # never started: nothing connects
    now = datetime.now(UTC)
    held = [
        HeldPush(1, 7, 100, now - timedelta(seconds=5)),  # lost: never sent here
        HeldPush(1, 7, 101, now - timedelta(seconds=5)),  # sent live
        HeldPush(1, 8, 102, now - timedelta(seconds=5)),  # resumed on connect
        HeldPush(1, 7, 103, now),  # too young: its notification may be on its way
        HeldPush(2, 7, 104, now - timedelta(seconds=5)),  # agent 2 is not connected here
    ]
    asked: list[list[int]] = []

    def held_pushes(agent_ids: list[int]) -> list[HeldPush]:
        asked.append(agent_ids)
        return [h for h in held if h.agent_id in agent_ids]

    bus.held_pushes = held_pushes
    seen: list[AgentEvent] = []
    bus.add_listener(seen.append)
    assert bus.resend_lost_pushes() == 0 and asked == []  # nobody connected: no read
    loop = asyncio.new_event_loop()
    try:
        bus.subscribe(1, loop)
        bus.dispatch(AgentEvent(1, "delivery", 7, 101))
        bus.sent(1, 8, 102)
        seen.clear()
        assert bus.resend_lost_pushes() == 1
        assert asked[-1] == [1]
        assert seen == [AgentEvent(1, "delivery", 7, 100)]
        assert bus.resend_lost_pushes() == 0  # sent now
        # Given back (no longer held), then leased to the agent again and its push lost.
        lost = held.pop(0)
        assert bus.resend_lost_pushes() == 0
        held.append(lost)
        assert bus.resend_lost_pushes() == 1
    finally:
        loop.close()


def test_a_push_sent_while_the_held_pushes_are_read_is_not_sent_twice() -> None:
    """A push committed and sent while the check reads the held pushes is missing from
    what it read; it must not be forgotten as given back, or the next check sends it again
    (an agent given one push twice works it twice)."""
    bus = PostgresBus("postgresql://unused")  # never started: nothing connects
    leased = HeldPush(1, 7, 200, datetime.now(UTC) - timedelta(seconds=5))
    reads: list[list[int]] = []

    def held_pushes(agent_ids: list[int]) -> list[HeldPush]:
        reads.append(agent_ids)
        if len(reads) == 1:  # the push commits and is sent while this read runs
            bus.dispatch(AgentEvent(1, "delivery", 7, 200))
            return []
        return [leased]

    bus.held_pushes = held_pushes
    seen: list[AgentEvent] = []
    bus.add_listener(seen.append)
    loop = asyncio.new_event_loop()
    try:
        bus.subscribe(1, loop)
        assert bus.resend_lost_pushes() == 0
        assert bus.resend_lost_pushes() == 0
        assert seen == [AgentEvent(1, "delivery", 7, 200)]  # the live push only
    finally:
        loop.close()
