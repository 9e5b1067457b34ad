"""Queues with member agents, and skills held by users, in SQL: :class:`SqlQueueStore` and
:class:`SqlSkillStore` (:mod:`callhopper.ports.queues`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.orm import Session

from callhopper.domain.errors import NotFound
from callhopper.domain.ids import INTEGER_MAX
from callhopper.domain.queues import QueueInfo, SkillInfo
from callhopper.store.models import (
    Campaign,
    Queue,
    QueueMember,
    Skill,
    User,
    UserSkill,
    table_of,
)


def get_queue(session: Session, queue_id: int) -> Queue:
    """The queue, or :class:`NotFound`."""
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise NotFound(f"no queue {queue_id}", field="queue_id")
    return queue


def queue_members(session: Session, queue_id: int) -> Sequence[User]:
    """The members of a queue, in the order the users were created."""
    return session.scalars(
        select(User)
        .join(QueueMember, QueueMember.user_id == User.id)
        .where(QueueMember.queue_id == queue_id)
        .order_by(User.id)
    ).all()


#: Users per statement when reading their queues or skills: well under SQLite's and
#: PostgreSQL's bound-parameter limits.
_CHUNK = 1000


def _by_user(
    session: Session, pairs: Select[int, int], user_column: Any, user_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The second column of ``pairs`` by its first, a user id, for each of ``user_ids``."""
    found: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    wanted = list(found)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for user_id, other in session.execute(pairs.where(user_column.in_(chunk))):
            found[user_id].append(other)
    return found


class SqlQueueStore:
    """:class:`callhopper.ports.queues.QueueStore` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def queue(self, queue_id: int) -> QueueInfo | None:
        # Past the column's range no queue has the id (and PostgreSQL would refuse to look).
        queue = self.session.get(Queue, queue_id) if queue_id <= INTEGER_MAX else None
        return self._info(queue) if queue is not None else None

    def queues(self) -> list[QueueInfo]:
        found = self.session.scalars(select(Queue).order_by(Queue.id)).all()
        members: dict[int, list[str]] = {q.id: [] for q in found}
        rows = self.session.execute(
            select(QueueMember.queue_id, User.user_id)
            .join(User, User.id == QueueMember.user_id)
            .order_by(User.id)
        )
        for queue_id, user_id in rows:
            members[queue_id].append(user_id)
        return [_queue_info(q, members[q.id]) for q in found]

    def queue_named(self, name: str) -> int | None:
        return self.session.scalar(select(Queue.id).where(Queue.name == name))

    def add_queue(self, *, name: str, description: str, now: datetime) -> QueueInfo:
        queue = Queue(name=name, description=description, created_at=now)
        self.session.add(queue)
        self.session.flush()
        return self._info(queue)

    def change_queue(
        self, queue_id: int, *, name: str | None, description: str | None
    ) -> QueueInfo:
        queue = get_queue(self.session, queue_id)
        if name is not None:
            queue.name = name
        if description is not None:
            queue.description = description
        self.session.flush()
        return self._info(queue)

    def delete_queue(self, queue_id: int) -> None:
        self.session.delete(get_queue(self.session, queue_id))
        self.session.flush()

    def campaigns_using(self, queue_id: int) -> list[str]:
        query = select(Campaign.name).where(Campaign.queue_id == queue_id)
        return list(self.session.scalars(query))

    def add_members(self, queue_id: int, user_ids: Sequence[int], *, now: datetime) -> None:
        present = set(
            self.session.scalars(
                select(QueueMember.user_id).where(QueueMember.queue_id == queue_id)
            )
        )
        self.session.add_all(
            QueueMember(queue_id=queue_id, user_id=user_id, added_at=now)
            for user_id in dict.fromkeys(user_ids)
            if user_id not in present
        )
        self.session.flush()

    def remove_members(self, queue_id: int, user_ids: Sequence[int]) -> set[int]:
        if not user_ids:
            return set()
        return set(
            self.session.scalars(
                delete(QueueMember)
                .where(QueueMember.queue_id == queue_id, QueueMember.user_id.in_(list(user_ids)))
                .returning(QueueMember.user_id)
            )
        )

    def queue_ids(self, user_ids: Sequence[int]) -> dict[int, list[int]]:
        pairs = select(QueueMember.user_id, QueueMember.queue_id).order_by(QueueMember.queue_id)
        return _by_user(self.session, pairs, QueueMember.user_id, user_ids)

    def _info(self, queue: Queue) -> QueueInfo:
        return _queue_info(queue, [u.user_id for u in queue_members(self.session, queue.id)])


def _queue_info(queue: Queue, member_user_ids: Sequence[str]) -> QueueInfo:
    return QueueInfo(
        id=queue.id,
        name=queue.name,
        description=queue.description,
        member_user_ids=tuple(member_user_ids),
    )


def _skill_info(skill: Skill) -> SkillInfo:
    return SkillInfo(
        id=skill.id, name=skill.name, expression=skill.expression, description=skill.description
    )


class SqlSkillStore:
    """:class:`callhopper.ports.queues.SkillStore` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def skill(self, skill_id: int) -> SkillInfo | None:
        skill = self.session.get(Skill, skill_id)
        return _skill_info(skill) if skill is not None else None

    def skills(self) -> list[SkillInfo]:
        return [_skill_info(s) for s in self.session.scalars(select(Skill).order_by(Skill.id))]

    def skill_named(self, name: str) -> int | None:
        return self.session.scalar(select(Skill.id).where(Skill.name == name))

    def add_skill(
        self, *, name: str, expression: str, description: str, now: datetime
    ) -> SkillInfo:
        skill = Skill(name=name, expression=expression, description=description, created_at=now)
        self.session.add(skill)
        self.session.flush()
        return _skill_info(skill)

    def change_skill(
        self,
        skill_id: int,
        *,
        name: str | None,
        expression: str | None,
        description: str | None,
    ) -> SkillInfo:
        skill = self._skill(skill_id)
        if name is not None:
            skill.name = name
        if expression is not None:
            skill.expression = expression
        if description is not None:
            skill.description = description
        self.session.flush()
        return _skill_info(skill)

    def delete_skill(self, skill_id: int) -> None:
        self.session.delete(self._skill(skill_id))
        self.session.flush()

    def skills_of(self, user_id: int) -> list[SkillInfo]:
        query = (
            select(Skill)
            .join(UserSkill, UserSkill.skill_id == Skill.id)
            .where(UserSkill.user_id == user_id)
            .order_by(Skill.id)
        )
        return [_skill_info(s) for s in self.session.scalars(query)]

    def add_holders(self, pairs: Sequence[tuple[int, int]]) -> None:
        if pairs:
            self.session.execute(
                insert(table_of(UserSkill)), [{"user_id": u, "skill_id": s} for u, s in pairs]
            )

    def set_skills_of(self, user_id: int, skill_ids: Sequence[int]) -> None:
        self.session.execute(delete(UserSkill).where(UserSkill.user_id == user_id))
        self.session.add_all(
            UserSkill(user_id=user_id, skill_id=s) for s in dict.fromkeys(skill_ids)
        )
        self.session.flush()

    def skill_ids(self, user_ids: Sequence[int]) -> dict[int, list[int]]:
        pairs = select(UserSkill.user_id, UserSkill.skill_id).order_by(UserSkill.skill_id)
        return _by_user(self.session, pairs, UserSkill.user_id, user_ids)

    def _skill(self, skill_id: int) -> Skill:
        skill = self.session.get(Skill, skill_id)
        if skill is None:
            raise NotFound(f"no skill {skill_id}", field="skill_id")
        return skill
