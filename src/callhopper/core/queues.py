"""Queues of agents and skills (named lead filters): :class:`QueueService`.

Every change is audited in its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from callhopper.domain.actors import Actor
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.inbound import queue_destination
from callhopper.domain.queues import QueueInfo, SkillInfo, check_name, skill_expression
from callhopper.domain.rights import Right
from callhopper.domain.users import UserInfo
from callhopper.ports.clock import Clock
from callhopper.ports.transactions import Transaction, UnitOfWork


class QueueService:
    """Queues with their member agents, and skills."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    # --- queues ----------------------------------------------------------------------------

    def queues(self) -> list[QueueInfo]:
        """Every queue, by id."""
        with self.uow.read() as tx:
            return tx.queues.queues()

    def queue(self, queue_id: int) -> QueueInfo:
        with self.uow.read() as tx:
            return _queue(tx, queue_id)

    def create_queue(self, actor: Actor, *, name: str, description: str = "") -> QueueInfo:
        now = self.clock.now()
        name = check_name(name)
        with self.uow.write() as tx:
            if tx.queues.queue_named(name) is not None:
                raise AlreadyExists(f"a queue named {name!r} already exists", field="name")
            queue = tx.queues.add_queue(name=name, description=description, now=now)
            tx.audit.add(actor, "queue.create", "queue", queue.id, now=now, after=queue.view())
            return queue

    def update_queue(
        self,
        actor: Actor,
        queue_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> QueueInfo:
        """Rename or redescribe a queue (``None`` keeps a field as it is)."""
        now = self.clock.now()
        with self.uow.write() as tx:
            queue = _queue(tx, queue_id)
            if name is not None:
                name = check_name(name)
                other = tx.queues.queue_named(name)
                if other is not None and other != queue.id:
                    raise AlreadyExists(f"a queue named {name!r} already exists", field="name")
            after = tx.queues.change_queue(queue.id, name=name, description=description)
            tx.audit.add(
                actor,
                "queue.update",
                "queue",
                queue.id,
                now=now,
                before=queue.view(),
                after=after.view(),
            )
            return after

    def delete_queue(self, actor: Actor, queue_id: int) -> None:
        """Delete a queue no campaign uses and no inbound route falls back to."""
        now = self.clock.now()
        with self.uow.write() as tx:
            queue = _queue(tx, queue_id)
            campaigns = tx.queues.campaigns_using(queue.id)
            if campaigns:
                raise Conflict(
                    f"campaign(s) {', '.join(campaigns)} use this queue", field="queue_id"
                )
            routes = tx.inbound.numbers_falling_back_to(queue_destination(queue.id))
            if routes:
                raise Conflict(
                    f"inbound route(s) {', '.join(routes)} fall back to this queue",
                    field="queue_id",
                )
            tx.audit.add(actor, "queue.delete", "queue", queue.id, now=now, before=queue.view())
            tx.queues.delete_queue(queue.id)

    def add_members(self, actor: Actor, queue_id: int, user_ids: Sequence[str]) -> QueueInfo:
        """Add agents (active users with ``agent.work``) to a queue; agents already in it
        stay as they are."""
        now = self.clock.now()
        with self.uow.write() as tx:
            queue = _queue(tx, queue_id)
            present = set(queue.member_user_ids)
            added: list[UserInfo] = []
            for user_id in dict.fromkeys(user_ids):
                user = _member(tx, user_id)
                if Right.AGENT_WORK not in user.rights:
                    raise InvalidInput(
                        f"user {user_id!r} has no {Right.AGENT_WORK.value!r} right and cannot "
                        "be a queue member",
                        field="user_ids",
                    )
                if not user.active:
                    raise InvalidInput(f"user {user_id!r} is deactivated", field="user_ids")
                if user_id not in present:
                    added.append(user)
            if not added:
                return queue
            tx.queues.add_members(queue.id, [u.id for u in added], now=now)
            tx.audit.add(
                actor,
                "queue.members_add",
                "queue",
                queue.id,
                now=now,
                after={"user_ids": [u.user_id for u in added]},
            )
            return _queue(tx, queue.id)

    def remove_members(self, actor: Actor, queue_id: int, user_ids: Sequence[str]) -> QueueInfo:
        """Take users out of a queue; users who were not in it are no error."""
        now = self.clock.now()
        with self.uow.write() as tx:
            queue = _queue(tx, queue_id)
            users = [_member(tx, u) for u in dict.fromkeys(user_ids)]
            gone = tx.queues.remove_members(queue.id, [u.id for u in users])
            removed = [u.user_id for u in users if u.id in gone]
            if not removed:
                return queue
            tx.audit.add(
                actor,
                "queue.members_remove",
                "queue",
                queue.id,
                now=now,
                before={"user_ids": removed},
            )
            return _queue(tx, queue.id)

    # --- skills ----------------------------------------------------------------------------

    def skills(self) -> list[SkillInfo]:
        """Every skill, by id."""
        with self.uow.read() as tx:
            return tx.skills.skills()

    def skill(self, skill_id: int) -> SkillInfo:
        with self.uow.read() as tx:
            return _skill(tx, skill_id)

    def create_skill(
        self, actor: Actor, *, name: str, expression: str, description: str = ""
    ) -> SkillInfo:
        """A skill: a lead filter (kept in its canonical text) with a unique name."""
        now = self.clock.now()
        name = check_name(name)
        with self.uow.write() as tx:
            if tx.skills.skill_named(name) is not None:
                raise AlreadyExists(f"a skill named {name!r} already exists", field="name")
            skill = tx.skills.add_skill(
                name=name,
                expression=skill_expression(expression),
                description=description,
                now=now,
            )
            tx.audit.add(actor, "skill.create", "skill", skill.id, now=now, after=skill.view())
            return skill

    def update_skill(
        self,
        actor: Actor,
        skill_id: int,
        *,
        name: str | None = None,
        expression: str | None = None,
        description: str | None = None,
    ) -> SkillInfo:
        """Change the fields given (``None`` keeps one as it is)."""
        now = self.clock.now()
        with self.uow.write() as tx:
            skill = _skill(tx, skill_id)
            if name is not None:
                name = check_name(name)
                other = tx.skills.skill_named(name)
                if other is not None and other != skill.id:
                    raise AlreadyExists(f"a skill named {name!r} already exists", field="name")
            after = tx.skills.change_skill(
                skill.id,
                name=name,
                expression=skill_expression(expression) if expression is not None else None,
                description=description,
            )
            tx.audit.add(
                actor,
                "skill.update",
                "skill",
                skill.id,
                now=now,
                before=skill.view(),
                after=after.view(),
            )
            return after

    def delete_skill(self, actor: Actor, skill_id: int) -> None:
        """Delete a skill; the users who held it no longer do."""
        now = self.clock.now()
        with self.uow.write() as tx:
            skill = _skill(tx, skill_id)
            tx.audit.add(actor, "skill.delete", "skill", skill.id, now=now, before=skill.view())
            tx.skills.delete_skill(skill.id)


def _queue(tx: Transaction, queue_id: int) -> QueueInfo:
    queue = tx.queues.queue(queue_id)
    if queue is None:
        raise NotFound(f"no queue {queue_id}", field="queue_id")
    return queue


def _skill(tx: Transaction, skill_id: int) -> SkillInfo:
    skill = tx.skills.skill(skill_id)
    if skill is None:
        raise NotFound(f"no skill {skill_id}", field="skill_id")
    return skill


def _member(tx: Transaction, user_id: str) -> UserInfo:
    user = tx.users.user(user_id)
    if user is None:
        raise NotFound(f"no user with user_id {user_id!r}", field="user_id")
    return user
