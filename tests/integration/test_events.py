"""The in-process event bus sends an event only once its transaction has committed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from callhopper.events import AgentEvent, LocalBus
from callhopper.store.db import Database


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
        bus.publish(first, session)
        # A savepoint released later (the pusher takes one per agent) is not the commit.
        with session.begin_nested():
            session.execute(text("SELECT 1"))
        assert seen == []
        bus.publish(second, session)
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
        bus.publish(AgentEvent(1, "delivery", 7, 100), session)
        raise RuntimeError("the wrap-up failed")
    later = AgentEvent(1, "state")
    with db.write() as session:
        session.execute(text("SELECT 1"))
        bus.publish(later, session)
    assert seen == [later]


def test_an_event_without_a_session_is_sent_at_once() -> None:
    bus, seen = bus_and_seen()
    bus.publish(AgentEvent(3, "state"))
    assert seen == [AgentEvent(3, "state")]
