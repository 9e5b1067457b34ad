"""Queues with member agents, and skills (named lead filters) held by users (SPEC §2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.contacts import check_filter_fields
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.filters import Filter, parse_filter
from callhopper.domain.rights import Right
from callhopper.store.audit import audit
from callhopper.store.models import Queue, QueueMember, Skill, User, UserSkill
from callhopper.store.users import actor_of, get_user


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput("the name is empty", field="name")
    return value


# --- queues ------------------------------------------------------------------------------------


def get_queue(session: Session, queue_id: int) -> Queue:
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise NotFound(f"no queue {queue_id}", field="queue_id")
    return queue


def list_queues(session: Session) -> Sequence[Queue]:
    return session.scalars(select(Queue).order_by(Queue.id)).all()


def create_queue(
    session: Session, actor: Actor, *, name: str, description: str, now: datetime
) -> Queue:
    name = _name(name)
    if session.scalar(select(Queue.id).where(Queue.name == name)) is not None:
        raise AlreadyExists(f"a queue named {name!r} already exists", field="name")
    queue = Queue(name=name, description=description, created_at=now)
    session.add(queue)
    session.flush()
    audit(session, actor, "queue.create", "queue", queue.id, now=now, after=queue_view(queue))
    return queue


def update_queue(
    session: Session,
    actor: Actor,
    queue_id: int,
    *,
    name: str | None,
    description: str | None,
    now: datetime,
) -> Queue:
    queue = get_queue(session, queue_id)
    before = queue_view(queue)
    if name is not None:
        name = _name(name)
        other = session.scalar(select(Queue.id).where(Queue.name == name))
        if other is not None and other != queue.id:
            raise AlreadyExists(f"a queue named {name!r} already exists", field="name")
        queue.name = name
    if description is not None:
        queue.description = description
    audit(
        session,
        actor,
        "queue.update",
        "queue",
        queue.id,
        now=now,
        before=before,
        after=queue_view(queue),
    )
    return queue


def queue_members(session: Session, queue_id: int) -> Sequence[User]:
    return session.scalars(
        select(User)
        .join(QueueMember, QueueMember.user_id == User.id)
        .where(QueueMember.queue_id == queue_id)
        .order_by(User.id)
    ).all()


def add_queue_members(
    session: Session, actor: Actor, queue_id: int, user_ids: list[str], *, now: datetime
) -> list[str]:
    """Add agents to a queue; returns the user ids actually added (others were members)."""
    queue = get_queue(session, queue_id)
    present = {u.user_id for u in queue_members(session, queue.id)}
    added: list[str] = []
    for user_id in dict.fromkeys(user_ids):
        user = get_user(session, user_id)
        if not actor_of(session, user).can(Right.AGENT_WORK):
            raise InvalidInput(
                f"user {user_id!r} has no {Right.AGENT_WORK.value!r} right and cannot be a "
                "queue member",
                field="user_ids",
            )
        if not user.active:
            raise InvalidInput(f"user {user_id!r} is deactivated", field="user_ids")
        if user_id in present:
            continue
        session.add(QueueMember(queue_id=queue.id, user_id=user.id, added_at=now))
        added.append(user_id)
    if added:
        audit(
            session,
            actor,
            "queue.members_add",
            "queue",
            queue.id,
            now=now,
            after={"user_ids": added},
        )
    return added


def remove_queue_members(
    session: Session, actor: Actor, queue_id: int, user_ids: list[str], *, now: datetime
) -> list[str]:
    queue = get_queue(session, queue_id)
    users = [get_user(session, u) for u in dict.fromkeys(user_ids)]
    removed = [
        u.user_id
        for u in users
        if session.execute(
            delete(QueueMember).where(QueueMember.queue_id == queue.id, QueueMember.user_id == u.id)
        ).rowcount  # type: ignore[attr-defined]
    ]
    if removed:
        audit(
            session,
            actor,
            "queue.members_remove",
            "queue",
            queue.id,
            now=now,
            before={"user_ids": removed},
        )
    return removed


def delete_queue(session: Session, actor: Actor, queue_id: int, *, now: datetime) -> None:
    from callhopper.store.models import Campaign, InboundRoute

    queue = get_queue(session, queue_id)
    users = list(session.scalars(select(Campaign.name).where(Campaign.queue_id == queue_id)))
    if users:
        raise Conflict(f"campaign(s) {', '.join(users)} use this queue", field="queue_id")
    routes = list(
        session.scalars(
            select(InboundRoute.number).where(InboundRoute.fallback == f"queue:{queue_id}")
        )
    )
    if routes:
        raise Conflict(
            f"inbound route(s) {', '.join(routes)} fall back to this queue", field="queue_id"
        )
    audit(session, actor, "queue.delete", "queue", queue.id, now=now, before=queue_view(queue))
    session.delete(queue)


def queue_view(queue: Queue) -> dict[str, Any]:
    return {"id": queue.id, "name": queue.name, "description": queue.description}


# --- skills ------------------------------------------------------------------------------------


def get_skill(session: Session, skill_id: int) -> Skill:
    skill = session.get(Skill, skill_id)
    if skill is None:
        raise NotFound(f"no skill {skill_id}", field="skill_id")
    return skill


def list_skills(session: Session) -> Sequence[Skill]:
    return session.scalars(select(Skill).order_by(Skill.id)).all()


def create_skill(
    session: Session, actor: Actor, *, name: str, expression: str, description: str, now: datetime
) -> Skill:
    name = _name(name)
    if session.scalar(select(Skill.id).where(Skill.name == name)) is not None:
        raise AlreadyExists(f"a skill named {name!r} already exists", field="name")
    canonical = _checked(expression).to_text()
    skill = Skill(name=name, expression=canonical, description=description, created_at=now)
    session.add(skill)
    session.flush()
    audit(session, actor, "skill.create", "skill", skill.id, now=now, after=skill_view(skill))
    return skill


def update_skill(
    session: Session,
    actor: Actor,
    skill_id: int,
    *,
    name: str | None,
    expression: str | None,
    description: str | None,
    now: datetime,
) -> Skill:
    skill = get_skill(session, skill_id)
    before = skill_view(skill)
    if name is not None:
        name = _name(name)
        other = session.scalar(select(Skill.id).where(Skill.name == name))
        if other is not None and other != skill.id:
            raise AlreadyExists(f"a skill named {name!r} already exists", field="name")
        skill.name = name
    if expression is not None:
        skill.expression = _checked(expression).to_text()
    if description is not None:
        skill.description = description
    audit(
        session,
        actor,
        "skill.update",
        "skill",
        skill.id,
        now=now,
        before=before,
        after=skill_view(skill),
    )
    return skill


def _checked(expression: str) -> Filter:
    parsed = parse_filter(expression)
    check_filter_fields(parsed.fields())
    return parsed


def delete_skill(session: Session, actor: Actor, skill_id: int, *, now: datetime) -> None:
    skill = get_skill(session, skill_id)
    audit(session, actor, "skill.delete", "skill", skill.id, now=now, before=skill_view(skill))
    session.delete(skill)


def user_skills(session: Session, user: User) -> Sequence[Skill]:
    return session.scalars(
        select(Skill)
        .join(UserSkill, UserSkill.skill_id == Skill.id)
        .where(UserSkill.user_id == user.id)
        .order_by(Skill.id)
    ).all()


def set_user_skills(
    session: Session, actor: Actor, user_id: str, skill_ids: list[int], *, now: datetime
) -> Sequence[Skill]:
    """Replace the skills a user holds."""
    user = get_user(session, user_id)
    skills = [get_skill(session, s) for s in dict.fromkeys(skill_ids)]
    before = [s.name for s in user_skills(session, user)]
    session.execute(delete(UserSkill).where(UserSkill.user_id == user.id))
    session.add_all(UserSkill(user_id=user.id, skill_id=s.id) for s in skills)
    session.flush()
    audit(
        session,
        actor,
        "user.skills",
        "user",
        user.user_id,
        now=now,
        before={"skills": before},
        after={"skills": [s.name for s in skills]},
    )
    return skills


def skill_view(skill: Skill) -> dict[str, Any]:
    return {
        "id": skill.id,
        "name": skill.name,
        "expression": skill.expression,
        "description": skill.description,
    }
