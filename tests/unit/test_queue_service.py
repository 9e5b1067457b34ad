"""Queues and their members against in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callhopper.clock import FrozenClock
from callhopper.core.queues import QueueService
from callhopper.core.users import UserService
from callhopper.domain.actors import SYSTEM
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from tests.unit.admin_fakes import MemoryUnitOfWork, PlainPasswords

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def uow() -> MemoryUnitOfWork:
    uow = MemoryUnitOfWork()
    users = UserService(uow, FrozenClock(T0), PlainPasswords())
    for user_id, role in [("ann", "agent"), ("bob", "agent"), ("sue", "supervisor")]:
        users.create_user(SYSTEM, email=f"{user_id}@example.com", role=role, user_id=user_id)
    users.create_user(SYSTEM, email="gone@example.com", user_id="gone")
    users.set_active(SYSTEM, "gone", False)
    return uow


@pytest.fixture
def queues(uow: MemoryUnitOfWork) -> QueueService:
    return QueueService(uow, FrozenClock(T0))


def test_members_are_active_agents_added_once(queues: QueueService, uow: MemoryUnitOfWork) -> None:
    queue = queues.create_queue(SYSTEM, name=" Team ")
    assert queue.name == "Team"
    with pytest.raises(AlreadyExists):
        queues.create_queue(SYSTEM, name="Team")
    assert queues.add_members(SYSTEM, queue.id, ["bob", "ann", "bob"]).member_user_ids == (
        "ann",
        "bob",
    )
    assert queues.add_members(SYSTEM, queue.id, ["ann"]).member_user_ids == ("ann", "bob")
    with pytest.raises(InvalidInput, match=r"no 'agent\.work' right"):
        queues.add_members(SYSTEM, queue.id, ["sue"])
    with pytest.raises(InvalidInput, match="deactivated"):
        queues.add_members(SYSTEM, queue.id, ["gone"])
    with pytest.raises(NotFound):
        queues.add_members(SYSTEM, queue.id, ["nobody"])
    assert queues.remove_members(SYSTEM, queue.id, ["ann", "gone"]).member_user_ids == ("bob",)
    members = [e for e in uow.tx.audit.entries if e.action.startswith("queue.members")]
    assert [(e.action, e.after or e.before) for e in members] == [
        ("queue.members_add", {"user_ids": ["bob", "ann"]}),
        ("queue.members_remove", {"user_ids": ["ann"]}),
    ]


def test_a_queue_in_use_is_not_deleted(queues: QueueService, uow: MemoryUnitOfWork) -> None:
    queue = queues.create_queue(SYSTEM, name="Team")
    uow.tx.queues.campaigns[queue.id] = ["Collections"]
    with pytest.raises(Conflict, match="Collections"):
        queues.delete_queue(SYSTEM, queue.id)
    uow.tx.queues.campaigns.clear()
    uow.tx.inbound.fallbacks[f"queue:{queue.id}"] = ["+16025550100"]
    with pytest.raises(Conflict, match=r"\+16025550100"):
        queues.delete_queue(SYSTEM, queue.id)
    uow.tx.inbound.fallbacks.clear()
    queues.delete_queue(SYSTEM, queue.id)
    with pytest.raises(NotFound):
        queues.queue(queue.id)
